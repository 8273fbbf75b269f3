"""Forecasters: the shared contract, accuracy on series with known structure, calendar, what-if."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ems.errors import UserError
from forecasting.calendar_features import calendar_features
from forecasting.contract import Spec, check_quantiles, quantile_label
from forecasting.models import MODEL_NAMES, build, parse_models
from forecasting.synthetic import load_series, zone_series
from forecasting.whatif import scenarios

FAST = {"gbm": {"max_iter": 40, "max_leaf_nodes": 15, "max_rows": 3000}, "ets": {"window_days": 21}, "sarimax": {"window_days": 14}}


@pytest.fixture(scope="module")
def hourly():
    frame = load_series(days=28, freq="1h")
    spec = Spec(target="load", freq="1h", horizon=24, future_known=("temp_c",), tz="Asia/Shanghai")
    return frame, spec


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_model_follows_the_contract(hourly, name):
    frame, spec = hourly
    hist, fut = frame.iloc[:-24], frame.iloc[-24:]
    model = build(name, spec, **FAST.get(name, {})).fit(hist)
    fc = model.predict(hist, fut[["temp_c"]])
    assert list(fc.columns) == ["p10", "p50", "p90"]
    assert fc.index.equals(fut.index)
    assert np.isfinite(fc.to_numpy()).all()
    assert (fc["p10"] <= fc["p50"]).all() and (fc["p50"] <= fc["p90"]).all()
    assert (fc["p90"] - fc["p10"]).mean() > 0
    mae = float(np.mean(np.abs(fc["p50"] - fut["load"])))
    assert mae < 6.0, f"{name}: MAE {mae:.2f} on a series whose noise sd is 0.5"
    assert isinstance(model.params(), dict)


def test_models_with_features_beat_the_daily_naive_on_a_weekly_pattern(hourly):
    """The series has a weekday/weekend pattern: on a Monday the one-day naive (Sunday) is badly wrong."""
    frame, spec = hourly
    monday = frame.index[frame.index.tz_convert("Asia/Shanghai").day_of_week == 0][-24]
    hist = frame.loc[:monday - spec.freq]
    fut = frame.loc[monday:].iloc[:24]
    err = {}
    for name in ("naive_day", "gbm", "sarimax"):
        fc = build(name, spec, **FAST.get(name, {})).fit(hist).predict(hist, fut[["temp_c"]])
        err[name] = float(np.mean(np.abs(fc["p50"] - fut["load"])))
    assert err["gbm"] < 0.5 * err["naive_day"]
    assert err["sarimax"] < 0.5 * err["naive_day"]


def test_seasonal_naive_repeats_the_season_exactly():
    idx = pd.date_range("2024-01-01", periods=96 * 10, freq="15min", tz="UTC")
    y = np.tile(np.arange(96, dtype=float), 10)
    frame = pd.DataFrame({"y": y}, index=idx)
    spec = Spec(target="y", freq="15min", horizon=200, calendar=None)
    model = build("naive_day", spec).fit(frame)
    fut = pd.DataFrame(index=pd.date_range(idx[-1] + spec.freq, periods=200, freq="15min"))
    fc = model.predict(frame, fut)
    assert np.array_equal(fc["p50"].to_numpy(), np.tile(np.arange(96.0), 3)[:200])
    # a missing slot falls back to one season earlier
    frame.iloc[-10, 0] = np.nan
    fc = model.predict(frame, fut)
    assert fc["p50"].iloc[86] == 86.0 and not fc["p50"].isna().any()


def test_controllable_input_answers_what_if():
    """Zone temperature rises with the chilled-water supply temperature: a warmer plan forecasts warmer."""
    frame = zone_series(days=10)
    spec = Spec(target="zone_temp_c", freq="15min", horizon=8, calendar=None,
                future_known=("outdoor_temp_c", "chw_supply_temp_c"))
    hist, fut = frame.iloc[:-8], frame.iloc[-8:]
    model = build("gbm", spec, max_iter=150, max_rows=20000).fit(hist)
    plan = fut[["outdoor_temp_c", "chw_supply_temp_c"]].copy()
    runs = scenarios(model, hist, plan, "chw_supply_temp_c", [5.5, 8.5])
    cold, warm = runs[5.5]["p50"], runs[8.5]["p50"]
    assert (warm.iloc[4:] - cold.iloc[4:]).mean() > 0.3
    actual = model.predict(hist, plan)["p50"]
    assert float(np.mean(np.abs(actual - fut["zone_temp_c"]))) < 0.3  # the 2 h zone target
    with pytest.raises(UserError, match="not a future-known input"):
        scenarios(model, hist, plan, "zone_temp_c", [1.0])


def test_future_frame_must_not_carry_the_target(hourly):
    frame, spec = hourly
    model = build("naive_day", spec).fit(frame.iloc[:-24])
    with pytest.raises(ValueError, match="target"):
        model.predict(frame.iloc[:-24], frame.iloc[-24:])
    with pytest.raises(UserError, match="temp_c"):
        model.predict(frame.iloc[:-24], frame.iloc[-24:][[]])


def test_chinese_calendar_holidays_and_adjusted_working_days():
    idx = pd.date_range("2024-09-29 10:00", "2024-10-12 10:00", freq="1D", tz="Asia/Shanghai")
    cal = calendar_features(idx.tz_convert("UTC"), "Asia/Shanghai", "CN")
    flags = dict(zip(idx.strftime("%m-%d"), zip(cal["is_workday"], cal["is_holiday"])))
    assert flags["09-29"] == (1.0, 0.0)  # Sunday made a working day (调休)
    assert flags["10-01"] == (0.0, 1.0) and flags["10-07"] == (0.0, 1.0)  # National Day week
    assert flags["10-06"] == (0.0, 0.0)  # a weekend inside the holiday is not a weekday holiday
    assert flags["10-12"] == (1.0, 0.0)  # Saturday made a working day
    plain = calendar_features(idx.tz_convert("UTC"), "Asia/Shanghai", None)
    assert plain["is_workday"].iloc[2] == 1.0  # 10-01 is a plain Tuesday without the CN calendar
    assert cal["hour"].iloc[0] == 10.0  # local hour


def test_quantile_labels_and_validation():
    assert quantile_label(0.1) == "p10" and quantile_label(0.025) == "p2.5"
    assert check_quantiles([0.9, 0.1]) == (0.1, 0.5, 0.9)
    with pytest.raises(UserError):
        check_quantiles([0.0, 0.5])
    assert parse_models("gbm, ets") == ["gbm", "ets"]
    with pytest.raises(UserError, match="unknown model"):
        parse_models("prophet")
