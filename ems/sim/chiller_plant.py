"""A water-cooled chiller plant: chillers + variable-primary CHW pumps + CW pumps + tower cells.

Composition (all vectorised over time; the closed loop calls it with length-1 arrays):

* Chillers: :mod:`ems.sim.chiller` (EnergyPlus/DOE-2 EIR curves). Running chillers share the load
  in proportion to their available capacity. Baseline staging adds the next chiller when the
  running ones would exceed ``stage_up_plr`` of their available capacity.
* CHW pumps: headered variable-primary pumps (one per chiller), flow for the design delta-T
  clipped to the chillers' minimum evaporator flow; affinity laws + VFD/motor efficiency
  (:mod:`ems.sim.pumps`) against a DP-setpoint system curve.
* CW pumps: constant-speed, one per running chiller, design condenser flow of that chiller.
* Towers: one YorkCalc cell per chiller (:mod:`ems.sim.tower`); the fan speed holds the
  condenser-water supply setpoint (fan affinity law); a bypass keeps the water above ``cw_min_c``.
* Condenser heat Q_cond = P_elec + Q_evap (hermetic motor, EnergyPlus). Tower make-up water =
  evaporation Q_cond / h_fg (h_fg = 2400 kJ/kg near 30 deg C, steam tables) plus blowdown
  evaporation / (cycles - 1) with 4 cycles of concentration (a common water-treatment target).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from ems.sim import chiller as chl
from ems.sim import pumps, tower
from ems.sim.psychro import CP_WATER_KJ_PER_KG_K, RHO_WATER_KG_PER_M3

H_FG_30C_KJ_PER_KG = 2430.0
CYCLES_OF_CONCENTRATION = 4.0


@dataclass(frozen=True)
class ChillerPlantSpec:
    chillers: tuple[chl.ChillerCurves, ...]
    chw_pump: pumps.PumpSpec
    cw_pump_head_m: float = 24.0
    cw_pump_efficiency: float = 0.80
    chw_design_dt_k: float = 5.0
    chw_min_flow_fraction: float = 0.4
    chw_min_head_m: float = 12.0           # DP setpoint at the far end, expressed as pump head
    tower_fan_kw_per_kw_rejected: float = 0.011
    cw_min_c: float = 18.0
    stage_up_plr: float = 0.9
    codes: tuple[str, ...] = field(default=())

    @cached_property
    def _cache(self) -> tuple:
        """(bank, cw pump kW, tower fan design kW, CHW design flows, CW design flows), computed once."""
        return (chl.ChillerBank(self.chillers), self.cw_pump_kw, self.tower_fan_design_kw,
                self.chw_design_flow_m3_per_h, self.cw_design_flow_m3_per_h)

    @property
    def n(self) -> int:
        return len(self.chillers)

    @property
    def chw_design_flow_m3_per_h(self) -> np.ndarray:
        return np.array([c.chw_flow_ref_m3_per_s * 3600.0 for c in self.chillers])

    @property
    def cw_design_flow_m3_per_h(self) -> np.ndarray:
        return np.array([c.cw_flow_ref_m3_per_s * 3600.0 for c in self.chillers])

    @property
    def cw_pump_kw(self) -> np.ndarray:
        """Electric input of each constant-speed CW pump [kW] (design flow and head, full speed)."""
        spec = [pumps.PumpSpec(q, self.cw_pump_head_m, self.cw_pump_efficiency, has_vfd=False)
                for q in self.cw_design_flow_m3_per_h]
        return np.array([s.rated_power_kw for s in spec])

    @property
    def tower_fan_design_kw(self) -> np.ndarray:
        return np.array([c.capacity_ref_kw * (1 + 1 / c.cop_ref) * self.tower_fan_kw_per_kw_rejected
                         for c in self.chillers])


def _col(x, t):
    return np.broadcast_to(np.asarray(x, dtype=float), (t,)).astype(float)


def simulate_chiller_plant(spec: ChillerPlantSpec, load_kw, chws_setpoint_c, wet_bulb_c, cw_setpoint_c=29.0,
                           n_chillers=None, chw_flow_m3_per_h=None, n_chw_pumps=None) -> dict[str, np.ndarray]:
    """Evaluate the plant for arrays of time steps. Optional arguments override baseline control.

    load_kw: cooling demanded by the coils and process [kW]; chws_setpoint_c: leaving CHW setpoint;
    wet_bulb_c: outdoor wet bulb; cw_setpoint_c: tower leaving setpoint; n_chillers: number running
    (staging order = spec order); chw_flow_m3_per_h: total CHW flow; n_chw_pumps: pumps running.
    Per-step arrays may mix overrides and automatic control: a negative n_chillers / n_chw_pumps or
    a NaN flow means "automatic" for that step.
    Returns per-step arrays (and (T, N) arrays for per-chiller values).
    """
    load = np.maximum(np.asarray(load_kw, dtype=float).ravel(), 0.0)
    t = load.size
    tset, wb, cwset = _col(chws_setpoint_c, t), _col(wet_bulb_c, t), _col(cw_setpoint_c, t)
    n = spec.n
    bank, cw_pump_kw, fan_design, design_q, cw_design_q = spec._cache
    cw_guess = np.maximum(np.maximum(cwset, wb + 4.0), spec.cw_min_c)
    cap = bank.available_kw(tset[:, None], cw_guess[:, None])                                      # (T, N)
    need = load / spec.stage_up_plr
    n_on = np.minimum((np.cumsum(cap, axis=1) < need[:, None]).sum(axis=1) + 1, n)
    if n_chillers is not None:
        forced = _col(n_chillers, t)
        n_on = np.where(forced >= 0, np.minimum(forced, n), n_on).astype(int)
    n_on = np.where(load > 1e-6, np.maximum(n_on, 1), 0)
    on = np.arange(n)[None, :] < n_on[:, None]                                                   # (T, N)

    # CHW flow (variable primary) and temperatures.
    rho_cp = RHO_WATER_KG_PER_M3 * CP_WATER_KJ_PER_KG_K / 3600.0  # kW per (m3/h K)
    on_design = (on * design_q[None, :]).sum(axis=1)
    flow = np.minimum(np.maximum(load / (rho_cp * spec.chw_design_dt_k), spec.chw_min_flow_fraction * on_design),
                      1.1 * on_design)
    if chw_flow_m3_per_h is not None:
        forced_flow = _col(chw_flow_m3_per_h, t)
        flow = np.where(np.isnan(forced_flow), flow, np.where(n_on > 0, np.maximum(forced_flow, 1e-3), 0.0))

    cw_flow = on * cw_design_q[None, :]
    cw_ent = np.broadcast_to(cw_guess[:, None], (t, n))
    tset2, wb2, cwset2 = tset[:, None], wb[:, None], cwset[:, None]
    for _ in range(3):
        cap_on = bank.available_kw(tset2, cw_ent) * on
        share = cap_on / np.maximum(cap_on.sum(axis=1, keepdims=True), 1e-9)
        p_i, qe_i, plr_i, _ = bank.power_kw(share * load[:, None], tset2, cw_ent)
        q_cond = p_i + qe_i
        rng = np.where(on, q_cond / (rho_cp * np.maximum(cw_flow, 1e-9)), 0.0)
        fr, abq = tower.fan_ratio_for_setpoint(wb2, rng, 1.0, cwset2)
        leaving = np.maximum(tower.leaving_from_polynomial(wb2, abq, 1.0, fr), spec.cw_min_c)
        cw_ent = np.where(on, leaving, cw_guess[:, None])
    p_i, qe_i, plr_i = p_i * on, qe_i * on, plr_i * on

    q_evap = qe_i.sum(axis=1)
    unmet = np.maximum(load - q_evap, 0.0)
    safe_flow = np.maximum(flow, 1e-9)
    chwr = np.where(n_on > 0, tset + load / (rho_cp * safe_flow), np.nan)
    chws = np.where(n_on > 0, tset + unmet / (rho_cp * safe_flow), np.nan)

    # CHW pumps: headered, identical, speed from the affinity-scaled curve vs the system curve.
    npumps = n_on
    if n_chw_pumps is not None:
        forced_p = _col(n_chw_pumps, t)
        npumps = np.where(forced_p >= 0, np.where(n_on > 0, np.maximum(forced_p, 1), 0), n_on)
    total_design = float(design_q.sum())
    head = pumps.system_head_m(flow, total_design, spec.chw_pump.design_head_m, spec.chw_min_head_m)
    chwp_kw, chwp_speed = pumps.pump_group_power_kw(spec.chw_pump, flow, npumps, head)
    cwp_kw = on * cw_pump_kw[None, :]
    fan_kw = np.where(on, pumps.fan_power_kw(fan_design[None, :], fr), 0.0)
    cw_ret = np.where(on, cw_ent + rng, np.nan)
    with np.errstate(invalid="ignore"):
        cw_supply_mean = np.where(n_on > 0, np.nansum(np.where(on, cw_ent, 0.0), axis=1) / np.maximum(n_on, 1), np.nan)
        cw_return_mean = np.where(n_on > 0, np.nansum(np.where(on, cw_ret * cw_flow, 0.0), axis=1)
                                  / np.maximum(cw_flow.sum(axis=1), 1e-9), np.nan)
    evap_kg_s = q_cond.sum(axis=1) / H_FG_30C_KJ_PER_KG
    makeup_m3_per_h = evap_kg_s * CYCLES_OF_CONCENTRATION / (CYCLES_OF_CONCENTRATION - 1) * 3.6
    return {
        "n_chillers": n_on, "chiller_on": on, "chiller_kw": p_i, "chiller_evap_kw": qe_i, "chiller_plr": plr_i,
        "chiller_cond_kw": q_cond, "load_kw": load, "evap_kw": q_evap, "unmet_kw": unmet,
        "chw_flow_m3_per_h": flow, "chws_c": chws, "chwr_c": chwr, "chws_setpoint_c": tset,
        "chwp_kw": chwp_kw, "chwp_speed": chwp_speed, "chwp_n": npumps, "chwp_head_m": head,
        "cwp_kw": cwp_kw, "tower_fan_kw": fan_kw, "tower_fan_ratio": np.where(on, fr, 0.0),
        "cw_supply_c": cw_supply_mean, "cw_return_c": cw_return_mean, "cw_flow_m3_per_h": cw_flow.sum(axis=1),
        "makeup_m3_per_h": makeup_m3_per_h,
        "plant_kw": p_i.sum(axis=1) + chwp_kw + cwp_kw.sum(axis=1) + fan_kw.sum(axis=1),
    }
