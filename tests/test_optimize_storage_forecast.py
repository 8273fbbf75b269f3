"""Storage day-ahead: same-day-type forecast (Monday pull-downs) and a reserve for tomorrow's peak."""

from __future__ import annotations

import numpy as np
import pandas as pd


def _history(weeks: int = 3):
    """Synthetic metered load: working days Mon-Fri (intensity varies day to day), weekend stopped;
    the first hours of each Monday carry a pull-down after the weekend stop."""
    idx = pd.date_range("2025-06-02 00:15", periods=96 * 7 * weeks, freq="15min")
    day = (idx - pd.Timedelta("15min")).normalize()
    working = day.day_of_week < 5
    load = np.where(working, 3000.0, 500.0)
    monday_pulldown = (day.day_of_week == 0) & ((idx - day) <= pd.Timedelta("3h"))
    load = np.where(monday_pulldown, 4500.0, load)
    hist = pd.DataFrame({"load_kw": load, "pv_kw": 0.0}, index=idx)
    rng = np.random.default_rng(1)
    days = pd.date_range(day[0], periods=7 * weeks + 7, freq="D")
    kind = pd.Series(np.where(days.day_of_week < 5, 80.0 + rng.uniform(-6, 6, days.size), 0.0), index=days)
    return hist, kind


def test_monday_is_forecast_from_an_earlier_first_day_after_a_stop():
    from ems.optimize.storage_forecast import day_forecast, same_type_days

    hist, kind = _history()
    monday = pd.Timestamp("2025-06-23")
    known = hist[hist.index <= monday]
    refs = same_type_days(monday, kind, known.index[0].normalize(), monday - pd.Timedelta("1D"))
    assert all(r.day_of_week == 0 for r in refs)          # earlier Mondays, not last Friday
    fc = day_forecast(known, monday, kind)
    assert fc["load_high"][:12].min() >= 4500.0          # the pull-down is in the forecast
    tuesday = day_forecast(hist[hist.index <= monday + pd.Timedelta("1D")], monday + pd.Timedelta("1D"), kind)
    assert tuesday["load"][:12].max() == 3000.0          # a working day after a working day


def test_two_day_schedule_holds_a_reserve_for_an_early_peak_tomorrow():
    from ems.optimize import tariffs
    from ems.optimize.storage import BatteryParams, plan_storage

    idx = pd.date_range("2025-06-22 00:15", periods=192, freq="15min")   # Sunday and Monday
    price = tariffs.prices(idx, "CN-GD-IND-TOU")
    load = np.full(192, 3000.0)
    load[:96] = 500.0
    load[96:108] = 4500.0                               # Monday 00:00-03:00 pull-down, in the valley
    bat = BatteryParams(2000.0, 1000.0)
    eta = bat.round_trip_efficiency ** 0.5
    plan = plan_storage(load, np.zeros(192), price, 32.0, bat, 0.2, peak_so_far_kw=3000.0)
    soc = 0.2 + np.cumsum(-np.where(plan.battery_kw > 0, plan.battery_kw / eta, plan.battery_kw * eta)) * 0.25 / 2000.0
    assert soc[95] > 0.2 + 0.3                          # charged on Sunday: a reserve at midnight
    assert plan.grid_kw[96:108].max() < 4500.0 - 300.0  # and spent on the pull-down
    one_day = plan_storage(load[96:], np.zeros(96), price[96:], 32.0, bat, 0.2, peak_so_far_kw=3000.0)
    assert plan.grid_kw[96:108].max() < one_day.grid_kw[:12].max() - 100.0
