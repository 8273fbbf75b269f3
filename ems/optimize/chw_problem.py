"""Chilled-water plant problem for one decision: candidates, predictions, limits (no solving here).

Decision variables per 15-min step over the horizon: CHW supply setpoint (from a grid of
candidates), chillers running, CHW pumps running and their frequency. The problem carries, for
every step k and candidate supply temperature c, the predicted CHW load, every zone's predicted
temperature and humidity, and the zone limits that apply (occupied steps only); the solver
(:mod:`ems.optimize.chw_solve`) picks the equipment and the setpoint path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ems.optimize.config import ChwConfig
from ems.optimize.fit_chiller import ChwPlantModel
from ems.optimize.zone_model import ZoneResponse

RHO_CP_KW_PER_M3H_K = 998.0 * 4.186 / 3600.0   # water, kW per (m3/h x K)


@dataclass
class ChwProblem:
    times: pd.DatetimeIndex            # interval ends of the horizon
    candidates_c: np.ndarray           # (C,) supply temperatures
    load_kw: np.ndarray                # (H, C)
    zone_t_c: np.ndarray               # (H, C, Z)
    zone_rh_pct: np.ndarray            # (H, C, Z)
    occupied: np.ndarray               # (H,) bool, zone limits apply
    t_max_c: np.ndarray                # (H, Z) limits less the margin (the capacity margin near capacity)
    rh_max_pct: np.ndarray             # (H, Z) limits less the margin (end-of-day value before a stop)
    wet_bulb_c: np.ndarray             # (H,)
    previous_setpoint_c: float
    cfg: ChwConfig
    plant: ChwPlantModel
    zone_codes: tuple[str, ...]
    guard: np.ndarray | None = None    # (C,) candidates forbidden at the first step (feedback guard)
    at_capacity: bool = False          # measured load at the plant's capacity: design control

    @property
    def horizon(self) -> int:
        return len(self.times)

    def violation(self) -> np.ndarray:
        """(H, C) weighted limit exceedance: K of temperature + 0.25 x %RH, summed over zones."""
        dt = np.maximum(self.zone_t_c - self.t_max_c[:, None, :], 0.0).sum(axis=2)
        drh = np.maximum(self.zone_rh_pct - self.rh_max_pct[:, None, :], 0.0).sum(axis=2)
        return (dt + 0.25 * drh) * self.occupied[:, None]


def build_chw_problem(cfg: ChwConfig, plant: ChwPlantModel, zones: ZoneResponse, state: dict,
                      exo: pd.DataFrame, previous_setpoint_c: float, bias: dict | None = None) -> ChwProblem:
    """Assemble the problem from the current state and the exogenous forecast rows (H rows of
    temp_c, rh_pct, ghi_w_m2, intensity, hvac_on, wet_bulb_c; index = interval ends).

    state: zone_t_c, zone_rh_pct (arrays over zones) and load_kw (last measured CHW load).
    bias: optional per-zone additive corrections {'t': (Z,), 'rh': (Z,), 'load': float} learned
    online from the last prediction errors.
    """
    cand = np.round(np.arange(cfg.chws_min_c, cfg.chws_max_c + 1e-9, cfg.chws_step_c), 3)
    exo = exo.iloc[: cfg.horizon_steps]
    pred = zones.predict(state, exo, cand)
    z = len(cfg.zones)
    b = bias or {}
    bt, brh = np.asarray(b.get("t", np.zeros(z))), np.asarray(b.get("rh", np.zeros(z)))
    t = np.stack([pred[f"t{j}"] for j in range(z)], axis=2) + bt
    rh = np.stack([pred[f"rh{j}"] for j in range(z)], axis=2) + brh
    t_lim = np.array([zl.t_max_c for zl in cfg.zones]) - cfg.t_margin_k
    rh_lim = np.array([zl.rh_max_pct for zl in cfg.zones]) - cfg.rh_margin_pct
    occupied_now = float(exo["hvac_on"].iloc[0]) > 0.5
    hot = occupied_now and bool((np.asarray(state["zone_t_c"]) > t_lim).any())
    humid = occupied_now and bool((np.asarray(state["zone_rh_pct"]) > rh_lim).any())
    guard = (cand >= previous_setpoint_c - 1e-9) & (hot or humid) & (cand > cfg.safe_chws_c + 1e-9)
    # at the plant's capacity (measured load vs the chillers' nameplate): the design supply
    # temperature, as the plant's own control - a warmer one lets the zones drift up and the plant
    # cannot pull them back, a colder one lowers the chillers' capacity
    nameplate = sum(cfg.chiller_capacity_kw)
    at_capacity = occupied_now and float(state["load_kw"]) >= cfg.capacity_hold * nameplate
    if at_capacity:
        guard = np.abs(cand - cfg.safe_chws_c) > 1e-9
    # leaving the zones dry before the HVAC stops: over the last steps before a scheduled stop the
    # humidity limit is the end-of-day value (end-of-week before a long stop such as a weekend), so
    # the next start is not humid (moisture buffering)
    occ = exo["hvac_on"].to_numpy(float) > 0.5
    h = len(occ)
    rh_steps = np.tile(rh_lim, (h, 1))
    if "to_stop" in exo:      # the HVAC schedule beyond the horizon is known (the plant calendar)
        to_stop, long_stop = exo["to_stop"].to_numpy(), exo["long_stop"].to_numpy(bool)
        for k in range(h):
            steps, lim = ((cfg.end_of_week_steps, cfg.end_of_week_rh_pct) if long_stop[k]
                          else (cfg.end_of_day_steps, cfg.end_of_day_rh_pct))
            if occ[k] and to_stop[k] <= steps:
                rh_steps[k] = np.minimum(rh_steps[k], lim)
    else:
        for k in range(h):
            ahead = occ[k + 1:k + 1 + cfg.end_of_day_steps]
            if occ[k] and ahead.size and not ahead.all():
                rh_steps[k] = np.minimum(rh_steps[k], cfg.end_of_day_rh_pct)
    # near capacity (the load predicted at the design supply temperature close to the nameplate, a
    # hot day): zones that drift up cannot be pulled back, so they are kept nearer their setpoint
    load = np.maximum(pred["load_kw"] + b.get("load", 0.0), 0.0)
    safe_i = int(np.abs(cand - cfg.safe_chws_c).argmin())
    near = load[:, safe_i] >= cfg.capacity_guard * nameplate
    t_steps = np.tile(t_lim, (h, 1)) - cfg.capacity_margin_k * near[:, None]
    return ChwProblem(
        guard=guard, at_capacity=at_capacity,
        times=exo.index, candidates_c=cand, load_kw=load,
        zone_t_c=t, zone_rh_pct=rh, occupied=exo["hvac_on"].to_numpy(float) > 0.5,
        t_max_c=t_steps, rh_max_pct=rh_steps,
        wet_bulb_c=exo["wet_bulb_c"].to_numpy(float), previous_setpoint_c=float(previous_setpoint_c),
        cfg=cfg, plant=plant, zone_codes=tuple(zl.code for zl in cfg.zones))
