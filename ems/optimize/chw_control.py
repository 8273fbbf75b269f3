"""Chilled-water optimiser as a controller: learn from history, decide every 15 minutes.

``ChwOptimiser.decide(observation, last_meters)`` builds the problem from the last meter readings
(zone temperatures and humidity, CHW load), the coming interval's weather and production plan
(weather persisted over the 2 h horizon, the production plan / HVAC schedule from the plant
calendar when given),
solves it and returns the decision for the coming interval (supply and tower setpoints, chillers,
CHW pumps and their frequency) with the plan and the diagnosis. The HVAC schedule beyond the
horizon (:func:`stop_lookahead`) tells the problem when the zones must be dried before a stop.
Prediction errors of the last interval feed an additive bias (exponentially weighted) so a model
that drifts is corrected in closed loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ems.optimize.chw_problem import ChwProblem, build_chw_problem
from ems.optimize.chw_solve import ChwSolution, baseline_power_kw, solve_chw
from ems.optimize.config import ChwConfig
from ems.optimize.fit_chiller import ChwPlantModel, fit_chw_plant
from ems.optimize.history import DataProblem, check_meters
from ems.optimize.zone_model import LinearZoneResponse, ZoneResponse, exo_from_history

EXO_KEYS = ("temp_c", "rh_pct", "ghi_w_m2", "intensity", "hvac_on", "wet_bulb_c")
BIAS_GAIN = 0.5


def fit_models(history: pd.DataFrame, plan: pd.DataFrame, cfg: ChwConfig) -> tuple[ChwPlantModel, ZoneResponse]:
    """Fit the plant and zone models from a meter-history frame and the production plan over it."""
    plant = fit_chw_plant(history, cfg.chiller_capacity_kw, cfg.cw_setpoint_c)
    zones = LinearZoneResponse(len(cfg.zones)).fit(history, exo_from_history(history, plan))
    return plant, zones


def stop_lookahead(plan: Callable[[pd.DatetimeIndex], pd.DataFrame], t0: pd.Timestamp, h: int,
                   cfg: ChwConfig) -> pd.DataFrame:
    """From the HVAC schedule: for each of the ``h`` steps from ``t0``, the steps until the next
    scheduled stop (``to_stop``; large when none within the window) and whether that stop is a long
    one (``long_stop``: at least ``cfg.long_stop_steps``, e.g. a weekend)."""
    n = h + max(cfg.end_of_week_steps, cfg.end_of_day_steps) + cfg.long_stop_steps
    idx = pd.date_range(t0, periods=n, freq="15min")
    on = plan(idx)["hvac_on"].to_numpy(float) > 0.5
    to_stop = np.full(h, 10 ** 6)
    long_stop = np.zeros(h, bool)
    for k in range(h):
        off = np.flatnonzero(~on[k + 1:])
        if off.size:
            j = k + 1 + off[0]
            to_stop[k] = j - k
            after = on[j:j + cfg.long_stop_steps]
            long_stop[k] = after.size == cfg.long_stop_steps and not after.any()
    return pd.DataFrame({"to_stop": to_stop, "long_stop": long_stop}, index=idx[:h])


@dataclass
class Outcome:
    decision: dict
    solution: ChwSolution | None
    baseline_kw: float
    reason: str = ""


@dataclass
class ChwOptimiser:
    cfg: ChwConfig
    plant: ChwPlantModel
    zones: ZoneResponse
    setpoint_c: float = 7.0
    plan: Callable[[pd.DatetimeIndex], pd.DataFrame] | None = None   # production plan / HVAC schedule
    bias: dict = field(default_factory=dict)
    _pred: dict | None = None

    def required_meters(self) -> tuple[str, ...]:
        z = len(self.cfg.zones)
        return ("_chw_load_kw",) + tuple(f"_ws{j + 1}_t_c" for j in range(z)) + tuple(
            f"_ws{j + 1}_rh_pct" for j in range(z))

    def state(self, last: dict) -> dict:
        check_meters(last, self.required_meters())
        z = len(self.cfg.zones)
        return {"zone_t_c": np.array([last[f"_ws{j + 1}_t_c"] for j in range(z)]),
                "zone_rh_pct": np.array([last[f"_ws{j + 1}_rh_pct"] for j in range(z)]),
                "load_kw": float(last["_chw_load_kw"])}

    def _update_bias(self, st: dict) -> None:
        if self._pred is None:
            return
        z = len(self.cfg.zones)
        for key, meas, lim in (("t", st["zone_t_c"], 3.0), ("rh", st["zone_rh_pct"], 10.0)):
            err = np.asarray(meas) - self._pred[key]          # error of the raw model prediction
            old = self.bias.get(key, np.zeros(z))
            self.bias[key] = np.clip((1 - BIAS_GAIN) * old + BIAS_GAIN * err, -lim, lim)
        self.bias["load"] = (1 - BIAS_GAIN) * self.bias.get("load", 0.0) + BIAS_GAIN * (
            st["load_kw"] - self._pred["load"])

    def exo_rows(self, obs: dict) -> pd.DataFrame:
        h = self.cfg.horizon_steps
        t0 = pd.Timestamp(obs["time"])
        idx = pd.date_range(t0, periods=h, freq="15min")
        rows = pd.DataFrame({k: [float(obs[k])] * h for k in EXO_KEYS}, index=idx)
        if self.plan is not None:   # the calendar is known ahead; weather is persisted
            p = self.plan(idx)
            rows["intensity"] = p["intensity"].to_numpy(float)
            rows["hvac_on"] = p["hvac_on"].to_numpy(float)
            rows.iloc[0, rows.columns.get_loc("intensity")] = float(obs["intensity"])
            rows.iloc[0, rows.columns.get_loc("hvac_on")] = float(obs["hvac_on"])
        if self.plan is not None:
            rows = rows.join(stop_lookahead(self.plan, t0, h, self.cfg))
        return rows

    def problem(self, obs: dict, last: dict) -> ChwProblem:
        st = self.state(last)
        self._update_bias(st)
        return build_chw_problem(self.cfg, self.plant, self.zones, st, self.exo_rows(obs), self.setpoint_c, self.bias)

    def decide(self, obs: dict, last: dict | None) -> Outcome:
        """The decision for the coming interval (dict of Decision fields) and its justification."""
        if not last:
            return Outcome({"chws_setpoint_c": self.setpoint_c}, None, float("nan"),
                           "no meter readings yet: plant control left as is")
        try:
            prob = self.problem(obs, last)
        except DataProblem as exc:
            self._pred = None
            return Outcome({"chws_setpoint_c": self.setpoint_c}, None, float("nan"), str(exc))
        sol = solve_chw(prob)
        ci = int(np.abs(prob.candidates_c - sol.setpoints_c[0]).argmin())
        self._pred = {"t": prob.zone_t_c[0, ci] - np.asarray(self.bias.get("t", 0.0)),
                      "rh": prob.zone_rh_pct[0, ci] - np.asarray(self.bias.get("rh", 0.0)),
                      "load": float(prob.load_kw[0, ci]) - self.bias.get("load", 0.0)}
        self.setpoint_c = float(sol.setpoints_c[0])
        dec = {"chws_setpoint_c": self.setpoint_c}
        # Recovery (a zone out of limits) or a start from standstill: the plant's own staging and
        # pump control, which follow the measured load, keep the equipment; the supply setpoint is
        # set and the towers run for the coldest condenser water.
        recovering = not sol.feasible or float(last["_chw_load_kw"]) < 1.0 or prob.at_capacity
        if prob.load_kw[0, ci] > 1.0 and not recovering:
            dec.update(n_chillers=int(sol.n_chillers[0]), n_chw_pumps=int(sol.n_pumps[0]),
                       chw_pump_hz=float(np.clip(sol.pump_hz[0], 15.0, 55.0)))
            if sol.cw_setpoint_c is not None:
                dec["cw_setpoint_c"] = float(sol.cw_setpoint_c[0])
        elif recovering:
            # pull-down / recovery: the coldest condenser water gives the chillers their largest capacity
            dec["cw_setpoint_c"] = float(self.cfg.cw_min_c)
        return Outcome(dec, sol, float(baseline_power_kw(prob)[0]), sol.diagnosis)
