"""Compressed-air optimiser in closed loop: a day-ahead MILP schedule each midnight, applied to the
twin as loading order + VSD trim + header pressure setpoint every 15 minutes; and the 2 h re-plan."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ems.optimize.air_problem import AirSchedule, build_air_problem, solve_air, twin_order
from ems.optimize.config import AirConfig
from ems.optimize.fit_air import AirModel


def day_ahead(model: AirModel, cfg: AirConfig, intensity: np.ndarray, initial_on=None) -> AirSchedule:
    """Schedule for the day's 96 steps from the production plan's intensity (demand forecast by the
    fitted demand model at the minimum header pressure)."""
    p = cfg.min_header_barg
    demand = model.demand_m3_per_min(np.asarray(intensity, float), p)
    return solve_air(build_air_problem(model, cfg, demand, p, initial_on))


def two_hour(model: AirModel, cfg: AirConfig, measured_m3_per_min: float, intensity_next: np.ndarray,
             initial_on: np.ndarray) -> AirSchedule:
    """2 h re-plan: the demand forecast is shifted so its first step matches the last measurement."""
    p = cfg.min_header_barg
    f = model.demand_m3_per_min(np.asarray(intensity_next, float), p)
    f = f + (measured_m3_per_min - f[0])
    return solve_air(build_air_problem(model, cfg, np.maximum(f, 0.0), p, initial_on))


class AirPolicy:
    """Twin policy: looks up (solving at each new day) the day-ahead schedule."""

    def __init__(self, model: AirModel, cfg: AirConfig, plan, codes: tuple[str, ...]):
        self.model, self.cfg, self.plan, self.codes = model, cfg, plan, codes
        self.day = None
        self.schedule: AirSchedule | None = None
        self.solve_s: list[float] = []
        self._last_on = None

    def __call__(self, obs: dict):
        from ems.sim.model import Decision

        ts = pd.Timestamp(obs["time"]) - pd.Timedelta("15min")     # interval start
        day = ts.normalize()
        if day != self.day:
            idx = pd.date_range(day + pd.Timedelta("15min"), periods=96, freq="15min")
            self.schedule = day_ahead(self.model, self.cfg, self.plan(idx)["intensity"].to_numpy(float),
                                      self._last_on)
            self.solve_s.append(self.schedule.seconds)
            self.day = day
        k = int((ts - day) / pd.Timedelta("15min"))
        self._last_on = self.schedule.on[k]
        vsd = next(c.code for c in self.model.compressors if c.control == "vsd")
        return Decision(compressor_order=twin_order(self.schedule, k, self.codes, self.model), compressor_trim=vsd,
                        air_pressure_setpoint_barg=self.cfg.min_header_barg)
