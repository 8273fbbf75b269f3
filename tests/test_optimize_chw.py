"""Chilled-water optimiser: closed loop on the twin (short window), infeasibility, bad data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ems.optimize.config import plant_config


@pytest.fixture(scope="module")
def optimiser_parts():
    from ems.optimize.chw_control import fit_models
    from ems.optimize.closed_loop import production_plan
    from ems.optimize.history import training_history

    cfg = plant_config("FS").chw
    hist = training_history("FS", "2024-06-01", "2024-07-20")
    pm, zm = fit_models(hist, production_plan("FS", hist.index), cfg)
    return cfg, pm, zm


def _optimiser(parts, start="2025-07-08", end="2025-07-12"):
    from ems.optimize.chw_control import ChwOptimiser
    from ems.optimize.evaluate import _plan_fn

    cfg, pm, zm = parts
    return ChwOptimiser(cfg, pm, zm, plan=_plan_fn("FS", start, end))


def test_closed_loop_saves_energy_without_extra_violations(optimiser_parts):
    from ems.optimize.closed_loop import energy_kwh, run_controller, violation_hours
    from ems.sim.twin import run_policy

    start, end = "2025-07-08", "2025-07-11"     # Tuesday to Friday: no weekend pull-down in the window
    opt = _optimiser(optimiser_parts, start, end)
    run = run_controller("FS", lambda o, last: (opt.decide(o, last).decision, {}), start, end)
    base = run_policy("FS", "baseline", start, end)
    zones = optimiser_parts[0].zones
    saving = 1 - energy_kwh(run["chp_kw"]) / energy_kwh(base["chp_kw"])
    assert saving > 0.08, saving
    assert violation_hours(run, zones) <= violation_hours(base, zones) + 0.25
    assert run["solve_s"].quantile(0.99) < 1.0
    assert run["decision_chws_setpoint_c"].diff().dropna().max() <= optimiser_parts[0].chws_rate_k_per_step + 1e-9


def _state(opt, t=24.0, rh=55.0, load=5000.0):
    z = len(opt.cfg.zones)
    last = {"_chw_load_kw": load}
    for j in range(z):
        last[f"_ws{j + 1}_t_c"] = t
        last[f"_ws{j + 1}_rh_pct"] = rh
    return last


def _obs(**kw):
    obs = {"time": pd.Timestamp("2025-07-09 14:00"), "temp_c": 33.0, "rh_pct": 65.0, "ghi_w_m2": 700.0,
           "intensity": 1.0, "hvac_on": True, "wet_bulb_c": 27.5}
    obs.update(kw)
    return obs


def test_infeasible_zone_limit_gives_diagnosis_and_safe_setpoint(optimiser_parts):
    opt = _optimiser(optimiser_parts)
    opt.setpoint_c = 10.0
    out = opt.decide(_obs(temp_c=38.0), _state(opt, t=31.0, rh=75.0, load=7000.0))
    assert out.solution is not None and not out.solution.feasible
    assert "FS.WS1" in out.reason and "least-bad safe setpoint" in out.reason
    assert out.decision["chws_setpoint_c"] <= opt.cfg.safe_chws_c
    assert "n_chillers" not in out.decision          # the plant's own staging while recovering


def test_feasible_decision_has_equipment_within_ranges(optimiser_parts):
    opt = _optimiser(optimiser_parts)
    out = opt.decide(_obs(), _state(opt, t=24.0, rh=50.0, load=4000.0))
    d = out.decision
    assert out.solution.feasible and out.reason == ""
    assert opt.cfg.chws_min_c <= d["chws_setpoint_c"] <= 7.0 + opt.cfg.chws_rate_k_per_step
    assert 1 <= d["n_chillers"] <= 4 and 1 <= d["n_chw_pumps"] <= 4
    assert opt.cfg.hz_min <= d["chw_pump_hz"] <= opt.cfg.hz_max
    assert out.solution.seconds < 1.0


def test_missing_meter_stops_with_reason(optimiser_parts):
    opt = _optimiser(optimiser_parts)
    last = _state(opt)
    last["_ws2_rh_pct"] = float("nan")
    out = opt.decide(_obs(), last)
    assert out.solution is None
    assert "_ws2_rh_pct" in out.reason and "stopped" in out.reason


def test_stale_forecast_stops_recommendation(optimiser_parts):
    from ems.optimize.history import DataProblem
    from ems.optimize.recommend import chw_recommendation

    opt = _optimiser(optimiser_parts)
    pc = plant_config("FS")
    with pytest.raises(DataProblem, match="stale"):
        chw_recommendation(opt, pc, _obs(), _state(opt), forecast_issued=pd.Timestamp("2025-07-09 10:00"))
    rec = chw_recommendation(opt, pc, _obs(), _state(opt, rh=50.0, load=4000.0),
                             forecast_issued=pd.Timestamp("2025-07-09 13:50"))
    assert rec["expected_kwh_saved"] > 0
    assert rec["expected_tco2_saved"] == pytest.approx(rec["expected_kwh_saved"] * pc.grid_factor_kg_per_kwh / 1000)
    assert rec["baseline_decision"]["chws_setpoint_c"] == 7.0
    assert np.isfinite(rec["expected_cost_cny_saved"]) and rec["expected_cost_cny_saved"] > 0


def test_zones_are_dried_longer_before_a_weekend_stop(optimiser_parts):
    opt = _optimiser(optimiser_parts, "2025-07-08", "2025-07-15")
    cfg = opt.cfg
    last = _state(opt, rh=50.0, load=4000.0)
    weekday = opt.problem(_obs(), last)                                   # Wednesday 14:00: no stop ahead
    assert np.allclose(weekday.rh_max_pct, 65.0 - cfg.rh_margin_pct)
    night = opt.problem(_obs(time=pd.Timestamp("2025-07-11 23:00")), last)   # Sat 00:00 stop, restart 08:15
    assert night.rh_max_pct[0].max() == cfg.end_of_day_rh_pct
    weekend = opt.problem(_obs(time=pd.Timestamp("2025-07-12 12:15")), last)  # Sat 16:00 stop until Monday
    assert weekend.rh_max_pct[0].max() == cfg.end_of_week_rh_pct     # 15 steps ahead of a long stop
    assert cfg.end_of_week_steps > cfg.end_of_day_steps and cfg.end_of_week_rh_pct <= cfg.end_of_day_rh_pct


def test_tower_setpoint_is_chosen_with_the_wet_bulb_and_coldest_in_recovery(optimiser_parts):
    opt = _optimiser(optimiser_parts)
    cool = opt.decide(_obs(wet_bulb_c=17.0, temp_c=24.0), _state(opt, t=24.0, rh=50.0, load=4000.0))
    opt2 = _optimiser(optimiser_parts)
    warm = opt2.decide(_obs(wet_bulb_c=27.5), _state(opt2, t=24.0, rh=50.0, load=4000.0))
    assert opt.cfg.cw_min_c <= cool.decision["cw_setpoint_c"] < 29.0       # colder condenser water pays
    assert cool.decision["cw_setpoint_c"] < warm.decision["cw_setpoint_c"]
    opt3 = _optimiser(optimiser_parts)
    hot = opt3.decide(_obs(temp_c=38.0), _state(opt3, t=31.0, rh=75.0, load=7000.0))
    assert hot.decision["cw_setpoint_c"] == opt3.cfg.cw_min_c              # pull-down: largest capacity


def test_at_capacity_the_design_setpoint_and_plant_staging_are_kept(optimiser_parts):
    opt = _optimiser(optimiser_parts)
    opt.setpoint_c = 9.0
    full = opt.cfg.capacity_hold * sum(opt.cfg.chiller_capacity_kw) + 1.0
    out = opt.decide(_obs(), _state(opt, t=24.0, rh=50.0, load=full))
    assert out.decision["chws_setpoint_c"] == opt.cfg.safe_chws_c
    assert "n_chillers" not in out.decision


def test_near_capacity_the_zones_keep_a_larger_margin(optimiser_parts):
    import dataclasses

    opt = _optimiser(optimiser_parts)
    opt.cfg = cfg = dataclasses.replace(opt.cfg, capacity_margin_k=0.5)
    nameplate = sum(cfg.chiller_capacity_kw)
    lim = np.array([z.t_max_c for z in cfg.zones]) - cfg.t_margin_k
    hot = opt.problem(_obs(temp_c=37.0), _state(opt, t=24.5, rh=55.0, load=0.96 * nameplate))
    mild = opt.problem(_obs(temp_c=26.0, ghi_w_m2=100.0), _state(opt, t=24.0, rh=50.0, load=0.4 * nameplate))
    safe = int(np.abs(hot.candidates_c - cfg.safe_chws_c).argmin())
    near = hot.load_kw[:, safe] >= cfg.capacity_guard * nameplate
    assert near.any()
    assert np.allclose(hot.t_max_c[near], lim - cfg.capacity_margin_k)
    assert np.allclose(mild.t_max_c, lim)
