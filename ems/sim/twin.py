"""Closed-loop plant twin: step the plant with a setpoint decision, get the meters back.

    from ems.sim.twin import PlantTwin, run_policy, baseline_policy
    from ems.sim.model import Decision

    twin = PlantTwin("FS", start="2025-07-01", days=7)
    obs = twin.observe()                       # weather, schedule, zone states for the next step
    meters = twin.step(Decision(chws_setpoint_c=9.0, compressor_trim="FS.AC4"))
    meters["FS.MAIN.kWh"], meters["FS.WS1.T"]  # register values and instantaneous readings

    df = run_policy("FS", baseline_policy, "2025-05-01", "2025-10-01")   # one row per 15 min

Each step advances 15 minutes. The zone RC state, the battery SOC and all registers carry over.
Meter readings here are noise-free (the exports add noise and faults); the same point codes as
``examples/plant.yaml``. The optimiser must treat the twin as a black box: decisions in, meters out.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from ems.errors import UserError
from ems.sim import model, onsite, zones
from ems.sim.model import DT_H, DT_S, Decision
from ems.sim.plants import PlantSpec, get_plant
from ems.sim.points import plant_points
from ems.sim.psychro import CP_WATER_KJ_PER_KG_K, RHO_WATER_KG_PER_M3

Policy = Callable[[dict], Decision]
_EXO_COLS = ("temp_c", "rh_pct", "humidity_ratio", "wet_bulb_c", "ghi_w_m2", "intensity", "hvac_on", "lights_on",
             "shift_on", "workday", "hour", "pv_potential_kw", "production_air_m3_per_min", "process_chw_kw",
             "office_kw", "canteen_gas_nm3_per_h", "hot_water_kw", "steam_t_per_h")


class PlantTwin:
    """One plant, stepped 15 minutes at a time from ``start`` (local midnight) for ``days``."""

    def __init__(self, plant: str | PlantSpec, start: str = "2025-07-01", days: float = 7, zone_t0_c: float = 24.0):
        self.plant = get_plant(plant) if isinstance(plant, str) else plant
        self.index = model.interval_index(start, days)
        exo = model.exogenous(self.plant, self.index)
        self._exo = {c: exo[c].to_numpy() for c in _EXO_COLS}
        self.zones = model.ZoneState(self.plant, t0_c=zone_t0_c, w0=float(exo["humidity_ratio"].iloc[0]))
        self.soc = self.plant.battery.soc_initial
        self.i = 0
        self.points = [p for p in plant_points(self.plant.code) if p.source and not p.formula]
        self.registers = {p.code: 0.0 for p in self.points if p.kind == "cumulative"}
        self.last: dict[str, float] = {}

    @property
    def done(self) -> bool:
        return self.i >= len(self.index)

    @property
    def time(self) -> pd.Timestamp:
        """Interval-end timestamp of the next step."""
        return self.index[min(self.i, len(self.index) - 1)]

    def observe(self) -> dict:
        """What a controller may know before deciding: the coming step's weather and schedule (as
        forecasts would give), current zone temperatures/humidity, battery SOC and the last meters."""
        i = min(self.i, len(self.index) - 1)
        obs = {k: (v[i].item() if hasattr(v[i], "item") else v[i]) for k, v in self._exo.items()}
        obs.update({"time": self.time, "step": self.i, "battery_soc": self.soc,
                    "zone_t_c": self.zones.t_c.copy(), "zone_w": self.zones.w.copy(), "last": self.last,
                    "plant": self.plant.code})
        return obs

    def _validate(self, d: Decision) -> None:
        codes = self.plant.compressor_codes
        if not 4.0 <= d.chws_setpoint_c <= 15.0:
            raise UserError(f"chws_setpoint_c {d.chws_setpoint_c} outside 4..15 deg C")
        if d.n_chillers is not None and not 0 <= d.n_chillers <= self.plant.chiller_plant.n:
            raise UserError(f"n_chillers {d.n_chillers} outside 0..{self.plant.chiller_plant.n}")
        for c in (d.compressor_order or ()) + ((d.compressor_trim,) if d.compressor_trim else ()):
            if c not in codes:
                raise UserError(f"unknown compressor '{c}' (plant has {', '.join(codes)})")
        if d.compressor_order is not None and sorted(d.compressor_order) != sorted(codes):
            raise UserError("compressor_order must list every compressor once")
        if d.chw_pump_hz is not None and not 15.0 <= d.chw_pump_hz <= 55.0:
            raise UserError(f"chw_pump_hz {d.chw_pump_hz} outside 15..55 Hz")

    def _advance(self, decision: Decision | None) -> dict:
        """Advance the stateful parts (zones, battery) by one step; return what the outputs need."""
        if self.done:
            raise UserError("the twin has reached the end of its horizon")
        d = decision or Decision()
        self._validate(d)
        i = self.i
        ex = {k: v[i:i + 1] for k, v in self._exo.items()}
        p = self.plant
        limit = float(model.chiller_capacity_limit_kw(p, np.array([d.chws_setpoint_c]), ex["wet_bulb_c"],
                                                      d.cw_setpoint_c, d.n_chillers)[0]) - float(ex["process_chw_kw"][0])
        if d.chw_pump_hz is not None:
            cp = p.chiller_plant
            n_p = d.n_chw_pumps if d.n_chw_pumps is not None else cp.n
            flow = float(model.pumps.flow_at_speed_m3_per_h(cp.chw_pump, d.chw_pump_hz / 50.0, n_p,
                                                            float(cp.chw_design_flow_m3_per_h.sum()),
                                                            cp.chw_pump.design_head_m, cp.chw_min_head_m))
            limit = min(limit, flow * RHO_WATER_KG_PER_M3 * CP_WATER_KJ_PER_KG_K / 3600.0 * 8.0
                        - float(ex["process_chw_kw"][0]))
        if d.n_chillers == 0:
            limit = 0.0
        heat_cap = p.boiler.capacity_kw if p.boiler else 0.0
        r = zones.zone_step(self.zones.za, self.zones.t_c, self.zones.w, outdoor_c=ex["temp_c"][0],
                            outdoor_w=ex["humidity_ratio"][0], ghi_w_m2=ex["ghi_w_m2"][0], intensity=ex["intensity"][0],
                            hvac_on=bool(ex["hvac_on"][0]), lights_on=bool(ex["lights_on"][0]),
                            chws_c=d.chws_setpoint_c, dt_s=DT_S, heating_available=p.boiler is not None,
                            coil_limit_kw=max(limit, 0.0), heating_limit_kw=max(heat_cap - ex["hot_water_kw"][0], 0.0))
        self.zones.t_c, self.zones.w = r["t_c"], r["w"]
        self.soc, chg, dis = onsite.battery_step(p.battery, self.soc, d.battery_kw, DT_H)
        self.i += 1
        return {"i": i, "d": d, "zr": {k: r[k] for k in _ZONE_KEYS}, "chg": chg, "dis": dis, "soc": self.soc}

    def step(self, decision: Decision | None = None) -> dict:
        """Apply the decision for one 15-min interval; return the meter readings at its end.

        Keys: every exported point code of the plant (registers as running values, interval points
        as amounts in the step, instantaneous values) plus ``time`` and physical extras under
        ``_``-prefixed keys (e.g. ``_grid_kw``, ``_chw_unmet_kw``).
        """
        rec = self._advance(decision)
        i = rec["i"]
        ex = {k: v[i:i + 1] for k, v in self._exo.items()}
        out = _outputs(self.plant, ex, [rec])
        vals = {k: float(v[0]) for k, v in out.items()}
        meters = self._meters(vals)
        meters["time"] = self.index[i]
        for k, v in vals.items():
            meters["_" + k] = v
        self.last = meters
        return meters

    def _meters(self, vals: dict[str, float]) -> dict:
        m: dict = {}
        for pt in self.points:
            v = vals[pt.source]
            v = 0.0 if v != v else v * pt.scale  # NaN (plant off) reads 0
            if pt.kind == "instantaneous":
                m[pt.code] = v
                continue
            amount = v * DT_H if pt.mode == "per_h" else v * DT_H * 60.0 if pt.mode == "per_min" else v
            if pt.kind == "interval":
                m[pt.code] = amount
            else:
                self.registers[pt.code] += amount
                m[pt.code] = self.registers[pt.code]
        return m


_ZONE_KEYS = ("t_c", "w", "q_coil_kw", "q_heat_kw", "ahu_kw", "lighting_kw")


def _outputs(plant: PlantSpec, ex: dict[str, np.ndarray], recs: list[dict]) -> dict[str, np.ndarray]:
    """Plant outputs for a run of advanced steps, vectorised; rows grouped by compressor choice."""
    n = len(recs)
    zr = {k: np.stack([r["zr"][k] for r in recs]) for k in _ZONE_KEYS}
    decs = [r["d"] for r in recs]
    nan = float("nan")
    dec = {
        "chws_setpoint_c": np.array([d.chws_setpoint_c for d in decs]),
        "cw_setpoint_c": np.array([d.cw_setpoint_c for d in decs]),
        "air_pressure_setpoint_barg": np.array([d.air_pressure_setpoint_barg for d in decs]),
        "n_chillers": np.array([-1 if d.n_chillers is None else max(d.n_chillers, 1) for d in decs]),
        "n_chw_pumps": np.array([-1 if d.n_chw_pumps is None else d.n_chw_pumps for d in decs]),
        "chw_pump_hz": np.array([nan if d.chw_pump_hz is None else d.chw_pump_hz for d in decs]),
    }
    chg = np.array([r["chg"] for r in recs])
    dis = np.array([r["dis"] for r in recs])
    soc = np.array([r["soc"] for r in recs])
    keys = [(d.compressor_order, d.compressor_trim) for d in decs]
    groups: dict[tuple, list[int]] = {}
    for j, k in enumerate(keys):
        groups.setdefault(k, []).append(j)
    result: dict[str, np.ndarray] = {}
    for (order, trim), rows in groups.items():
        sel = np.array(rows)
        sub = {k: v[sel] for k, v in dec.items()}
        sub["compressor_order"], sub["compressor_trim"] = order, trim
        o = model.plant_outputs(plant, {k: v[sel] for k, v in ex.items()}, {k: v[sel] for k, v in zr.items()}, sub,
                                chg[sel], dis[sel], soc[sel])
        o.pop("_air")
        if len(groups) == 1:
            result = o
            break
        for k, v in o.items():
            result.setdefault(k, np.full(n, np.nan))[sel] = v
    result["refrigerant_kg"] = np.zeros(n)
    return result


# ---- policies ---------------------------------------------------------------------------------

def baseline_policy(obs: dict) -> Decision:
    """Named baseline: fixed 7 deg C CHW supply, 29 deg C condenser water, automatic chiller and pump
    staging, compressors in a pressure-band cascade at 6.5 barg cut-in, battery idle (no storage)."""
    return Decision()


def chw_reset_vsd_trim_policy(obs: dict) -> Decision:
    """Example non-baseline policy (for demonstrating the API, not an optimiser): CHW supply reset
    from 7 deg C (outdoor >= 30 deg C) to 10 deg C (<= 20 deg C), the VSD compressor as trim at 6.3 barg."""
    t = obs["temp_c"]
    chws = float(np.clip(10.0 - 3.0 * (t - 20.0) / 10.0, 7.0, 10.0))
    plant = get_plant(obs["plant"])
    vsd = next(c.code for c in plant.air_station.compressors if c.control == "vsd")
    order = (vsd,) + tuple(c for c in plant.compressor_codes if c != vsd)
    return Decision(chws_setpoint_c=chws, compressor_order=order, compressor_trim=vsd, air_pressure_setpoint_barg=6.3)


POLICIES: dict[str, Policy] = {"baseline": baseline_policy, "chw_reset_vsd_trim": chw_reset_vsd_trim_policy}


def run_policy(plant: str | PlantSpec, policy: Policy | str, start: str, end: str) -> pd.DataFrame:
    """Run a policy closed-loop from ``start`` to ``end`` (local dates, end exclusive).

    Returns one row per 15-min step (index = interval end): every physical output (``grid_kw``,
    ``chp_kw``, ``air_kw``, ``ws1_t_c`` ...) and the decision. ``df.attrs['seconds']`` is the run time.

    The stateful parts (zones, battery) advance step by step with the policy in the loop; the
    stateless equipment models are then evaluated for all steps at once (identical results to
    calling :meth:`PlantTwin.step` each time, tested). Policies here see ``observe()`` without the
    ``last`` meters; a controller that needs meter feedback should drive :meth:`PlantTwin.step`.
    """
    pol = POLICIES[policy] if isinstance(policy, str) else policy
    days = (pd.Timestamp(end) - pd.Timestamp(start)).total_seconds() / 86400.0
    if days <= 0:
        raise UserError(f"end {end} is not after start {start}")
    t0 = time.perf_counter()
    twin = PlantTwin(plant, start=start, days=days)
    recs = []
    while not twin.done:
        recs.append(twin._advance(pol(twin.observe())))
    out = _outputs(twin.plant, twin._exo, recs)
    df = pd.DataFrame(out, index=twin.index)
    df["decision_chws_setpoint_c"] = [r["d"].chws_setpoint_c for r in recs]
    df["decision_air_pressure_setpoint_barg"] = [r["d"].air_pressure_setpoint_barg for r in recs]
    df["decision_battery_kw"] = [r["d"].battery_kw for r in recs]
    df.attrs["seconds"] = time.perf_counter() - t0
    return df


def summarise(df: pd.DataFrame) -> dict[str, float]:
    """Energy [kWh] and comfort figures of a run (for comparing policies)."""
    occupied = df["chw_load_kw"] > 0
    tcols = [c for c in df.columns if c.startswith("ws") and c.endswith("_t_c")]
    return {
        "grid_kwh": float(df["grid_kw"].sum() * DT_H), "chiller_plant_kwh": float(df["chp_kw"].sum() * DT_H),
        "air_station_kwh": float(df["air_kw"].sum() * DT_H), "cooling_kwh": float(df["chw_evap_kw"].sum() * DT_H),
        "unmet_cooling_kwh": float(df["chw_unmet_kw"].sum() * DT_H),
        "zone_t_max_occupied_c": float(df.loc[occupied, tcols].max().max()) if occupied.any() else float("nan"),
        "steps": len(df), "seconds": float(df.attrs.get("seconds", float("nan"))),
    }
