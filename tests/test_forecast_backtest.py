"""Rolling-origin backtests: no leakage, known metric values, baselines always present."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ems.errors import UserError
from forecasting import backtest as bt
from forecasting.contract import Forecaster, Spec
from forecasting.metrics import naive_scale, pinball, point_metrics, quantile_metrics
from forecasting.synthetic import load_series

FAST = {"gbm": {"max_iter": 40, "max_leaf_nodes": 15, "max_rows": 3000}, "ets": {"window_days": 21}, "sarimax": {"window_days": 14}}


@pytest.fixture(scope="module")
def setup():
    frame = load_series(days=24, freq="1h")
    spec = Spec(target="load", freq="1h", horizon=24, future_known=("temp_c",), tz="Asia/Shanghai")
    origins = bt.rolling_origins(frame.index, spec, folds=3)
    return frame, spec, origins


def test_a_future_only_signal_is_not_used(setup):
    """Plant a signal after each origin that would make a leaking model perfect: forecasts must not move.

    In the planted copy the target after the origin is replaced by a huge, distinctive pattern, and a
    past-only column (not future-known) carries the same pattern early. Every model's forecast at that
    origin must be identical to its forecast on the clean data.
    """
    frame, spec, origins = setup
    origin = origins[0]
    planted = frame.copy()
    after = planted.index > origin
    planted.loc[after, "load"] = 1000.0 + np.arange(after.sum()) * 7.0
    planted["leak"] = planted["load"].shift(-spec.horizon)  # the future target, as a past-only column
    frame = frame.assign(leak=frame["load"].shift(-spec.horizon))
    models = ["ets", "sarimax", "gbm"]
    clean = bt.backtest(frame, spec, models, [origin], options=FAST).forecasts
    dirty = bt.backtest(planted, spec, models, [origin], options=FAST).forecasts
    assert set(clean["model"]) == {"naive_day", "naive_week", *models}
    pd.testing.assert_frame_equal(clean.drop(columns="actual"), dirty.drop(columns="actual"))
    assert (dirty["actual"] >= 1000).all()  # the planted values were really there to be scored against


class _Spy(Forecaster):
    """Records what it is shown."""

    name = "spy"
    seen: list = []

    def fit(self, history):
        _Spy.seen.append(("fit", history.index[-1], list(history.columns)))
        self.fitted = True
        return self

    def _predict(self, history, future):
        _Spy.seen.append(("predict", history.index[-1], list(future.columns), future.index[0]))
        return pd.DataFrame({label: 0.0 for label in self.spec.labels}, index=future.index)


def test_models_see_only_history_up_to_the_origin_and_future_known_columns(setup, monkeypatch):
    frame, spec, origins = setup
    real_build = bt.build
    monkeypatch.setattr(bt, "build", lambda name, s, **kw: _Spy(s) if name == "spy" else real_build(name, s, **kw))
    _Spy.seen = []
    bt.backtest(frame.assign(past_only=1.0), spec, ["spy"], origins, refit_every=2)
    fits = [s for s in _Spy.seen if s[0] == "fit"]
    preds = [s for s in _Spy.seen if s[0] == "predict"]
    assert [f[1] for f in fits] == [origins[0], origins[2]]  # refit every 2nd origin
    assert [p[1] for p in preds] == origins
    assert all(p[2] == ["temp_c"] and p[3] == o + spec.freq for p, o in zip(preds, origins))


def test_backtest_metrics_and_skill(setup):
    frame, spec, origins = setup
    result = bt.backtest(frame, spec, ["gbm"], origins, options=FAST)
    m = result.metrics
    assert set(m) == {"naive_day", "naive_week", "gbm"}
    assert m["naive_day"]["skill_day"] == 0.0
    for key in ("mae", "rmse", "cv_rmse", "nmbe", "mase", "pinball", "coverage", "skill_week"):
        assert np.isfinite(m["gbm"][key]), key
    assert m["gbm"]["n"] == len(origins) * spec.horizon
    assert m["gbm"]["skill_day"] > 0.3  # the weekday/weekend profile defeats the one-day naive
    assert result.best_model() == min(m, key=lambda k: m[k]["mae"])
    d = result.as_dict()
    assert d["n_origins"] == 3 and d["models"]["gbm"]["mae"] == m["gbm"]["mae"]


def test_fit_until_fits_once_on_the_training_part(setup):
    frame, spec, origins = setup
    result = bt.backtest(frame, spec, ["ets"], origins, fit_until=origins[0] - pd.Timedelta("2D"), options=FAST)
    assert result.forecasts.groupby("model")["origin"].nunique().to_dict() == {
        "naive_day": 3, "naive_week": 3, "ets": 3}


def test_rolling_origins_need_enough_data(setup):
    frame, spec, _ = setup
    with pytest.raises(UserError, match="too short"):
        bt.rolling_origins(frame.index[:60], spec, folds=3)
    origins = bt.rolling_origins(frame.index, spec, folds=4, step=12)
    assert np.diff(origins).tolist() == [pd.Timedelta("12h")] * 3
    assert origins[-1] == frame.index[-1 - spec.horizon]


def test_metric_values_by_hand():
    y = np.array([10.0, 12.0, 8.0, 10.0])
    yhat = np.array([11.0, 12.0, 6.0, 10.0])
    m = point_metrics(y, yhat, scale=2.0)
    assert m["mae"] == pytest.approx(0.75)
    assert m["rmse"] == pytest.approx(np.sqrt(5 / 4))
    assert m["cv_rmse"] == pytest.approx(np.sqrt(5 / 4) / 10)
    assert m["nmbe"] == pytest.approx((-1 + 0 + 2 + 0) / (4 * 10))
    assert m["mase"] == pytest.approx(0.375)
    assert pinball(np.array([10.0]), np.array([8.0]), 0.9) == pytest.approx(1.8)
    assert pinball(np.array([10.0]), np.array([12.0]), 0.9) == pytest.approx(0.2)
    q = quantile_metrics(y, {0.1: y - 1, 0.5: y, 0.9: np.array([11.0, 11.0, 9.0, 11.0])})
    assert q["coverage"] == pytest.approx(0.75) and q["coverage_nominal"] == pytest.approx(0.8)
    assert q["pinball_p50"] == 0.0
    assert naive_scale(np.array([1.0, 2.0, 1.0, 4.0]), 2) == pytest.approx(1.0)
    assert np.isnan(point_metrics(np.array([1.0, -1.0]), np.array([0.0, 0.0]))["cv_rmse"])  # mean zero
