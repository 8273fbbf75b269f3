"""Typical days with the Chinese calendar (holidays, 调休) and monthly 15-min peak demand."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from ems.analytics import profiles

TZ = "Asia/Shanghai"


def test_day_types_national_day_2025():
    assert profiles.china_day_type(dt.date(2025, 10, 11)) == "workday"   # Saturday, adjusted working day
    assert profiles.china_day_type(dt.date(2025, 9, 28)) == "workday"    # Sunday, adjusted working day
    assert profiles.china_day_type(dt.date(2025, 10, 1)) == "holiday"
    assert profiles.china_day_type(dt.date(2025, 10, 4)) == "holiday"    # Saturday inside the break
    assert profiles.china_day_type(dt.date(2025, 10, 12)) == "weekend"
    assert profiles.china_day_type(dt.date(2025, 10, 13)) == "workday"


def test_day_type_fallback_outside_calendar_coverage():
    assert profiles.china_day_type(dt.date(2099, 6, 1)) == "workday?"   # Monday
    assert profiles.china_day_type(dt.date(2099, 6, 6)) == "weekend?"   # Saturday


def _october_load() -> pd.Series:
    """15-min power (UTC index): 1000 kW on workdays 08-20 local, 200 kW otherwise; holidays 100 kW."""
    idx = pd.date_range("2025-09-27", "2025-10-20", freq="15min", tz=TZ, inclusive="left")
    kinds = pd.Series([profiles.china_day_type(d) for d in idx.date], index=idx)
    day = (idx.hour >= 8) & (idx.hour < 20)
    kw = np.where(kinds == "workday", np.where(day, 1000.0, 200.0), np.where(kinds == "holiday", 100.0, 200.0))
    return pd.Series(kw, index=idx.tz_convert("UTC"), name="power_kw")


def test_typical_workday_includes_adjusted_saturday_and_excludes_holidays():
    s = _october_load()
    wd = profiles.typical_day(s, TZ, "workday")
    assert len(wd) == 96
    assert wd.loc[dt.time(9, 0), "mean"] == pytest.approx(1000.0)
    assert wd.loc[dt.time(3, 0), "mean"] == pytest.approx(200.0)
    # Workdays from Sat 27 Sep to Sun 19 Oct: 28 Sep (Sunday, adjusted), 29, 30 Sep, 9, 10,
    # 11 Oct (Saturday, adjusted), 13-17 Oct -> 11 days; holidays 1-8 Oct.
    assert wd.attrs["n_days"] == 11
    hol = profiles.typical_day(s, TZ, "holiday")
    assert hol.attrs["n_days"] == 8 and hol["mean"].eq(100.0).all()
    we = profiles.typical_day(s, TZ, "weekend")
    assert we["mean"].eq(200.0).all() and we.attrs["n_days"] == 4   # 27 Sep, 12, 18, 19 Oct
    assert not wd.attrs["calendar_fallback"]


def test_typical_day_skips_nan_and_counts_days():
    s = _october_load()
    s.iloc[:200] = np.nan
    wd = profiles.typical_day(s, TZ, "workday")
    assert wd["mean"].notna().all() and wd["n_days"].max() <= 11 and wd["n_days"].min() >= 9
    with pytest.raises(ValueError, match="day_type"):
        profiles.typical_day(s, TZ, "festival")  # type: ignore[arg-type]


def test_monthly_peak_demand_from_1min_data():
    idx = pd.date_range("2025-01-01", "2025-03-01", freq="1min", tz=TZ, inclusive="left")
    kw = pd.Series(500.0, index=idx)
    # A 5-minute spike of 2000 kW in January: 15-min average 1000 kW in the 10:00 interval.
    kw.loc["2025-01-15 10:05":"2025-01-15 10:09"] = 2000.0
    # February: a 15-minute block at 900 kW starting 14:30.
    kw.loc["2025-02-03 14:30":"2025-02-03 14:44"] = 900.0
    kw.loc["2025-02-10"] = np.nan
    out = profiles.monthly_peak_demand(kw.tz_convert("UTC"), tz=TZ)
    assert len(out) == 2
    jan, feb = out.iloc[0], out.iloc[1]
    assert jan["peak_kw"] == pytest.approx(1000.0)
    assert jan["peak_time"] == pd.Timestamp("2025-01-15 10:00", tz=TZ)
    assert jan["coverage"] == pytest.approx(1.0)
    assert feb["peak_kw"] == pytest.approx(900.0) and feb["peak_time"] == pd.Timestamp("2025-02-03 14:30", tz=TZ)
    assert feb["coverage"] == pytest.approx(27 / 28)
    assert jan["month"] == pd.Timestamp("2025-01-01", tz=TZ)


def test_monthly_peak_demand_rejects_hourly_input():
    s = pd.Series(1.0, index=pd.date_range("2025-01-01", periods=48, freq="h"))
    with pytest.raises(ValueError, match="coarser"):
        profiles.monthly_peak_demand(s)
