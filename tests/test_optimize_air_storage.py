"""Compressed-air MILP staging and the storage LP."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ems.optimize.config import plant_config


@pytest.fixture(scope="module")
def air_model():
    from ems.optimize.closed_loop import production_plan
    from ems.optimize.fit_air import fit_air
    from ems.optimize.history import training_history

    hist = training_history("FS", "2024-06-01", "2024-06-15")
    cfg = plant_config("FS").air
    return fit_air(hist, production_plan("FS", hist.index)["intensity"], {c: k for c, k, _ in cfg.compressors})


def test_air_fit_quality(air_model):
    assert air_model.stats["demand"]["r2"] > 0.95
    assert air_model.stats["FS.AC4"]["cv_rmse_pct"] < 5.0
    assert air_model.purge_m3_per_min == pytest.approx(12.0, rel=0.01)   # 2 heatless dryers x 40 x 15 %


def test_milp_meets_demand_with_reserve_and_min_run(air_model):
    from ems.optimize.air_problem import build_air_problem, solve_air

    cfg = plant_config("FS").air
    demand = np.r_[np.full(8, 20.0), np.full(2, 45.0), np.full(8, 20.0), np.full(6, 50.0)]
    sch = solve_air(build_air_problem(air_model, cfg, demand, cfg.min_header_barg))
    assert sch.status == "optimal" and sch.seconds < 5.0
    caps = np.array([c.capacity_m3_per_min for c in air_model.compressors])
    running_cap = (sch.on * caps).sum(axis=1)
    assert (running_cap >= demand * (1 + cfg.reserve_fraction) - 1e-6).all()
    for i in range(sch.on.shape[1] - 1):                     # load/unload machines: minimum run time
        col = sch.on[:, i].astype(int)
        starts = np.flatnonzero(np.diff(np.r_[0, col]) == 1)
        for s in starts:
            assert col[s:s + cfg.min_run_steps].all() or s + cfg.min_run_steps > len(col)


def test_infeasible_station_falls_back_with_diagnosis(air_model):
    from ems.optimize.air_problem import build_air_problem, solve_air

    cfg = plant_config("FS").air
    sch = solve_air(build_air_problem(air_model, cfg, np.full(4, 500.0), cfg.min_header_barg))
    assert sch.status == "fallback" and "capacity" in sch.diagnosis and sch.on.all()


def test_air_closed_loop_beats_cascade_at_equal_minimum_pressure(air_model):
    from ems.optimize.air_control import AirPolicy
    from ems.optimize.closed_loop import energy_kwh
    from ems.optimize.evaluate import _plan_fn
    from ems.sim.twin import run_policy

    cfg = plant_config("FS").air
    start, end = "2025-07-07", "2025-07-10"
    pol = AirPolicy(air_model, cfg, _plan_fn("FS", start, end), tuple(c for c, _, _ in cfg.compressors))
    run = run_policy("FS", pol, start, end)
    base = run_policy("FS", "baseline", start, end)
    assert 1 - energy_kwh(run["air_kw"]) / energy_kwh(base["air_kw"]) > 0.05
    assert run["air_header_barg"].min() >= base["air_header_barg"].min() - cfg.band_bar / 2 - 1e-9
    assert (run["air_demand_m3_per_min"] - run["air_flow_m3_per_min"]).max() < 1e-6
    assert max(pol.solve_s) < 5.0


def test_battery_lp_arbitrages_tou_and_shaves_peak():
    from ems.optimize import tariffs
    from ems.optimize.storage import BatteryParams, plan_storage

    idx = pd.date_range("2025-07-08 00:15", periods=96, freq="15min")
    price = tariffs.prices(idx, "CN-GD-IND-TOU")
    load = np.full(96, 3000.0)
    load[40:48] = 4500.0                                          # a late-morning peak
    bat = BatteryParams(2000.0, 1000.0)
    plan = plan_storage(load, np.zeros(96), price, 32.0, bat, 0.5)
    none = plan_storage(load, np.zeros(96), price, 32.0, BatteryParams(1e-3, 1e-6), 0.5)
    assert plan.status == "optimal" and plan.cost_cny < none.cost_cny
    assert plan.grid_kw.max() < load.max() - 100                  # the peak is shaved
    valley = price <= price.min() + 1e-9
    assert plan.battery_kw[valley].min() < -100                   # charges in the valley
    assert plan.battery_kw[price >= price.max() - 1e-9].max() > 100   # discharges at the peak price


def test_thermal_storage_pays_the_ice_making_penalty():
    from ems.optimize import tariffs
    from ems.optimize.storage import BatteryParams, ThermalParams, plan_storage

    idx = pd.date_range("2025-07-08 00:15", periods=96, freq="15min")
    price = tariffs.prices(idx, "CN-GD-IND-TOU")
    load, cool = np.full(96, 2000.0), np.full(96, 4000.0)
    tiny = BatteryParams(1e-3, 1e-6)
    th = ThermalParams(8000.0, 2000.0, 2000.0, cop_normal=5.0, charge_penalty=0.7)
    with_tank = plan_storage(load, np.zeros(96), price, 0.0, tiny, 0.5, thermal=th, cooling_load_kw_th=cool)
    poor = plan_storage(load, np.zeros(96), price, 0.0, tiny, 0.5,
                        thermal=ThermalParams(8000.0, 2000.0, 2000.0, 5.0, charge_penalty=0.1), cooling_load_kw_th=cool)
    base = float(np.sum(load * price) * 0.25)
    assert with_tank.cost_cny < base                      # peak/valley 4.5:1 beats a 30 % COP penalty
    assert poor.thermal_charge_kw_th.sum() < 1.0          # a 90 % penalty makes storing cooling pointless
    assert poor.cost_cny == pytest.approx(base, rel=1e-4)
