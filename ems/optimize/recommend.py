"""Turn an optimiser outcome into a recommendation: inputs, baseline decision, expected savings.

Expected savings are over the recommendation's validity (the first hour of the plan): the
predicted plant power of the baseline control minus that of the plan, from the fitted models,
priced at the tariff's energy price of each interval and converted to tCO2 with the plant's grid
factor. They are expectations; the measured saving is recorded later from metered data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ems.optimize import tariffs
from ems.optimize.chw_control import ChwOptimiser
from ems.optimize.chw_solve import baseline_power_kw, solve_chw
from ems.optimize.config import PlantConfig
from ems.optimize.history import DataProblem, check_fresh

VALID_STEPS = 4


def chw_recommendation(opt: ChwOptimiser, pc: PlantConfig, obs: dict, last: dict,
                       forecast_issued: pd.Timestamp | None = None, max_age: str = "1h") -> dict:
    """A chilled-water recommendation for the coming hour. Raises DataProblem (with the reason) on
    stale forecasts or missing meters: no recommendation is made then."""
    now = pd.Timestamp(obs["time"]) - pd.Timedelta("15min")
    if forecast_issued is not None:
        check_fresh(forecast_issued, now, max_age)
    if not last:
        raise DataProblem("no meter readings: recommendation stopped")
    prob = opt.problem(obs, last)
    sol = solve_chw(prob)
    k = min(VALID_STEPS, prob.horizon)
    base_kw = baseline_power_kw(prob)[:k]
    plan_kw = sol.power_kw[:k]
    saved_kwh = float(np.sum(base_kw - plan_kw) * 0.25)
    price = tariffs.prices(prob.times[:k], pc.tariff_id)
    cost = float(np.sum((base_kw - plan_kw) * 0.25 * price))
    decision = {"chws_setpoint_c": float(sol.setpoints_c[0]), "n_chillers": int(sol.n_chillers[0]),
                "n_chw_pumps": int(sol.n_pumps[0]), "chw_pump_hz": float(sol.pump_hz[0]),
                "plan_chws_setpoint_c": [float(x) for x in sol.setpoints_c]}
    ci = int(np.abs(prob.candidates_c - sol.setpoints_c[0]).argmin())
    inputs = {"time": now.isoformat(), "zone_t_c": list(map(float, opt.state(last)["zone_t_c"])),
              "zone_rh_pct": list(map(float, opt.state(last)["zone_rh_pct"])),
              "chw_load_kw": float(last["_chw_load_kw"]),
              "forecast": {k2: float(obs[k2]) for k2 in ("temp_c", "rh_pct", "wet_bulb_c", "intensity", "hvac_on")},
              "predicted_zone_t_c": list(map(float, prob.zone_t_c[0, ci])),
              "predicted_zone_rh_pct": list(map(float, prob.zone_rh_pct[0, ci])),
              "predicted_plant_kw": [float(x) for x in plan_kw], "baseline_plant_kw": [float(x) for x in base_kw],
              "fit": {"zones": opt.zones.stats, "plant": opt.plant.stats}, "solve_s": sol.seconds}
    return {"plant_code": pc.code, "system": "chilled_water", "valid_from": now.tz_localize(tariffs.TZ),
            "valid_to": (now + pd.Timedelta(minutes=15 * k)).tz_localize(tariffs.TZ), "inputs": inputs,
            "baseline_decision": {"chws_setpoint_c": pc.chw.safe_chws_c, "n_chillers": "plant staging",
                                  "chw_pumps": "plant control, design delta-T"},
            "decision": decision, "expected_kwh_saved": saved_kwh, "expected_cost_cny_saved": cost,
            "expected_tco2_saved": saved_kwh * pc.grid_factor_kg_per_kwh / 1000.0,
            "diagnosis": sol.diagnosis}
