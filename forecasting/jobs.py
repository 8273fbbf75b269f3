"""Forecast jobs for stored points: train (backtest, fit, register, pick the champion), run (issue and
store a forecast), and accuracy (fill actuals, flag drift). Thin wrappers over the pure modules.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import psycopg

from ems.errors import UserError
from forecasting.backtest import backtest, rolling_origins
from forecasting.checks import require_ok
from forecasting.contract import Spec
from forecasting.data import regularise
from forecasting.models import build
from forecasting.models.naive import SeasonalNaive

log = logging.getLogger(__name__)


def find_point(conn: psycopg.Connection, code: str) -> dict:
    from ems.assets.store import points_frame

    match = [p for p in points_frame(conn) if p["code"] == code]
    if not match:
        raise UserError(f"no point with code '{code}' (see 'ems points')", where="--point")
    return match[0]


def point_series(conn: psycopg.Connection, point: dict, start: pd.Timestamp, end: pd.Timestamp,
                 freq: pd.Timedelta) -> pd.Series:
    """A point's values per ``freq`` bucket in [start, end), indexed by bucket start (UTC): the interval
    quantity for cumulative and interval points, the mean for instantaneous ones."""
    from ems.readings.query import read_point

    every = f"{int(freq.total_seconds() // 60)}min"
    frame = read_point(conn, point, start, end, every)
    column = "delta_sum" if point["kind"] in ("cumulative", "interval") else "mean"
    index = pd.DatetimeIndex(frame["bucket"]).tz_convert("UTC")
    return pd.Series(frame[column].to_numpy(dtype=float), index=index, name=point["code"])


def point_frame(conn: psycopg.Connection, target: dict, features: list[dict], start: pd.Timestamp,
                end: pd.Timestamp, freq: pd.Timedelta) -> pd.DataFrame:
    """Target and feature points on one regular grid from ``start`` to the last target bucket before ``end``
    (feature values may continue after it: they are the future-known part)."""
    y = point_series(conn, target, start, end, freq)
    if y.dropna().empty:
        raise UserError(f"point '{target['code']}' has no readings between {start} and {end}")
    y = y.loc[:y.dropna().index[-1]]
    frame = regularise(y.to_frame(), freq, where=f"point '{target['code']}'")
    for f in features:
        frame[f["code"]] = point_series(conn, f, start, end, freq).reindex(frame.index)
    return frame


def train_point(conn: psycopg.Connection, code: str, *, horizon: int, freq: pd.Timedelta, models: list[str],
                days: float, end: pd.Timestamp | None = None, feature_codes: tuple[str, ...] = (),
                folds: int = 5, calendar: str | None = "CN", options: dict | None = None) -> dict:
    """Backtest every model on the point's history, fit each on all of it, register them and pick the
    champion by backtest MAE (seasonal naive is always a candidate)."""
    from forecasting import store

    point = find_point(conn, code)
    end = end or pd.Timestamp.now(tz="UTC").floor(freq)
    start = end - pd.Timedelta(days=days)
    features = [find_point(conn, c) for c in feature_codes]
    frame = point_frame(conn, point, features, start, end, freq)
    require_ok(frame[code], freq, name=code)
    spec = Spec(target=code, freq=freq, horizon=horizon, future_known=tuple(feature_codes), calendar=calendar,
                tz=point["timezone"])
    result = backtest(frame, spec, models, rolling_origins(frame.index, spec, folds=folds), options=options)
    ids = {}
    for name, metrics in result.metrics.items():
        fitted = build(name, spec, **(options or {}).get(name, {})).fit(frame)
        bt = {"model": metrics, "naive_day": result.metrics["naive_day"], "naive_week": result.metrics["naive_week"],
              "origins": len(result.origins), "fit_seconds": result.fit_seconds.get(name)}
        ids[name] = store.save_model(conn, fitted, point_id=point["point_id"], train_start=frame.index[0],
                                     train_end=frame.index[-1] + freq, backtest=bt, score=metrics.get("mae"))
    champion = store.set_champion(conn, code, horizon, list(ids.values()))
    best = next(n for n, i in ids.items() if i == champion)
    return {"target": code, "models": ids, "champion": best, "champion_id": champion,
            "metrics": result.metrics, "failures": result.failures, "train_rows": len(frame)}


def _after_last_reading(conn: psycopg.Connection, point: dict, freq: pd.Timedelta) -> pd.Timestamp:
    """End of the last bucket holding a reading (interval quantities are stamped at their end)."""
    last = conn.execute("SELECT max(ts) FROM reading WHERE point_id = %s", (point["point_id"],)).fetchone()[0]
    if last is None:
        raise UserError(f"point '{point['code']}' has no readings")
    last = pd.Timestamp(last).tz_convert("UTC")
    return last.ceil(freq) if point["kind"] in ("cumulative", "interval") else last.floor(freq) + freq


def run_point(conn: psycopg.Connection, code: str, *, at: pd.Timestamp | None = None,
              horizon: int | None = None, days: float = 35) -> dict:
    """Issue the champion's forecast at ``at`` (default: after the last reading) from data before it."""
    from forecasting import store

    model_id, model = store.champion(conn, code, horizon)
    spec = model.spec
    point = find_point(conn, code)
    features = [find_point(conn, c) for c in spec.future_known]
    end = at.floor(spec.freq) if at is not None else _after_last_reading(conn, point, spec.freq)
    frame = point_frame(conn, point, [], end - pd.Timedelta(days=days), end, spec.freq)
    issued_at = frame.index[-1] + spec.freq
    future_idx = pd.date_range(issued_at, periods=spec.horizon, freq=spec.freq)
    hist_end = future_idx[-1] + spec.freq
    for f in features:  # history and the future-known values (a stored weather forecast, a setpoint plan)
        series = point_series(conn, f, frame.index[0], hist_end, spec.freq)
        frame[f["code"]] = series.reindex(frame.index)
        missing = series.reindex(future_idx).isna()
        if missing.any():
            raise UserError(f"feature point '{f['code']}' has no value for {future_idx[missing.argmax()]}: a "
                            "future-known feature needs stored values (a forecast or a plan) for the horizon")
    future = pd.DataFrame({f["code"]: point_series(conn, f, issued_at, hist_end, spec.freq).reindex(future_idx)
                           for f in features}, index=future_idx)
    forecast = model.predict(frame, future)
    naive, _ = SeasonalNaive(spec, "day").point(frame, len(future_idx))
    n = store.save_forecast(conn, model_id, issued_at, forecast, naive)
    return {"target": code, "model_id": model_id, "model": model.name, "issued_at": issued_at, "values": n,
            "forecast": forecast}


def update_accuracy(conn: psycopg.Connection, code: str, ratio: float = 2.0) -> dict:
    """Fill arrived actuals into every stored forecast of the point; check the champion for drift."""
    from forecasting import store

    point = find_point(conn, code)
    filled = 0
    models = conn.execute("SELECT model_id, step_s, is_champion FROM forecast_model WHERE target = %s",
                          (code,)).fetchall()
    drift = None
    for model_id, step_s, is_champion in models:
        span = store.open_range(conn, model_id)
        if span is not None:
            freq = pd.Timedelta(seconds=step_s)
            actual = point_series(conn, point, span[0], span[1] + freq, freq)
            filled += store.fill_actuals(conn, model_id, actual)
        if is_champion:
            drift = store.check_drift(conn, model_id, ratio=ratio)
    table = store.accuracy(conn, code)
    return {"target": code, "filled": filled, "drift": drift,
            "accuracy": table.replace({np.nan: None}).to_dict("records")}


# --- scheduled jobs (ems serve's scheduler): plain job(conn) -> rows touched ------------------------

def _champion_targets(conn: psycopg.Connection) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT DISTINCT target FROM forecast_model WHERE is_champion AND point_id IS NOT NULL ORDER BY target")]


def forecast_run(conn: psycopg.Connection) -> int:
    """Issue the champion forecast of every trained point after its last reading, then fill actuals and
    check drift; forecast values written. A point that fails is logged and the others still run."""
    import logging

    written = 0
    for code in _champion_targets(conn):
        try:
            written += int(run_point(conn, code)["values"])
            update_accuracy(conn, code)
        except Exception as exc:  # noqa: BLE001 - one bad point must not stop the others
            conn.rollback()
            logging.getLogger(__name__).warning("forecast_run %s: %s: %s", code, type(exc).__name__, exc)
    return written


def forecast_retrain(conn: psycopg.Connection) -> int:
    """Retrain every trained point on its recent history with its champion's step, horizon and features
    (backtest, register, pick the champion again); models registered."""
    import logging

    from forecasting.models import parse_models

    rows = conn.execute(
        """SELECT DISTINCT ON (target) target, step_s, horizon_steps, features FROM forecast_model
           WHERE is_champion AND point_id IS NOT NULL ORDER BY target, model_id DESC""").fetchall()
    registered = 0
    for code, step_s, horizon, features in rows:
        try:
            out = train_point(conn, code, horizon=int(horizon), freq=pd.Timedelta(seconds=int(step_s)),
                              models=parse_models(None), days=35, end=None, feature_codes=tuple(features or ()), folds=5,
                              calendar="CN")
            registered += len(out["models"])
        except Exception as exc:  # noqa: BLE001 - one bad point must not stop the others
            conn.rollback()
            logging.getLogger(__name__).warning("forecast_retrain %s: %s: %s", code, type(exc).__name__, exc)
    return registered


try:  # plug into the scheduler registry when the service package is present
    from ems.service.registry import register_job
except ImportError:  # pragma: no cover
    register_job = None
if register_job is not None:
    register_job("forecast_run", f"{__name__}:forecast_run",
                 description="champion forecasts of every trained point, actuals filled, drift checked")
    register_job("forecast_retrain", f"{__name__}:forecast_retrain",
                 description="weekly retraining of every trained point (backtest, champion)")
