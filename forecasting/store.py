"""Database side of forecasting: model registry, champions, stored forecasts, live accuracy, drift.

Tables in ``sql/006_forecast.sql``. Artefacts are pickled fitted forecasters; only artefacts this
product wrote are ever loaded (the SHA-256 stored beside each is checked before unpickling).
"""

from __future__ import annotations

import hashlib
import json
import pickle

import numpy as np
import pandas as pd
import psycopg
from psycopg.types.json import Jsonb

from ems.errors import UserError
from forecasting.contract import Forecaster


def _finite(obj):
    if isinstance(obj, float):
        return obj if np.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    if isinstance(obj, np.generic):
        return _finite(obj.item())
    return obj


def save_model(conn: psycopg.Connection, fitted: Forecaster, *, point_id: int | None, train_start: pd.Timestamp,
               train_end: pd.Timestamp, backtest: dict, score: float | None) -> int:
    spec = fitted.spec
    blob = pickle.dumps(fitted, protocol=pickle.HIGHEST_PROTOCOL)
    row = conn.execute(
        """INSERT INTO forecast_model (target, point_id, model, step_s, horizon_steps, quantiles, features, params,
                                       train_start, train_end, backtest, score, artefact, artefact_sha256)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING model_id""",
        (spec.target, point_id, fitted.name, int(spec.freq.total_seconds()), spec.horizon, list(spec.quantiles),
         list(spec.future_known), Jsonb(_finite(json.loads(json.dumps(fitted.params(), default=str)))),
         train_start, train_end, Jsonb(_finite(backtest)),
         score if score is not None and np.isfinite(score) else None, blob, hashlib.sha256(blob).hexdigest()),
    ).fetchone()
    return int(row[0])


def set_champion(conn: psycopg.Connection, target: str, horizon_steps: int, candidates: list[int]) -> int:
    """Make the candidate with the lowest backtest score the champion of (target, horizon)."""
    with conn.transaction():
        row = conn.execute(
            """SELECT model_id FROM forecast_model WHERE model_id = ANY(%s) AND score IS NOT NULL
               ORDER BY score, model_id LIMIT 1""", (candidates,)).fetchone()
        if row is None:
            raise UserError(f"no model of '{target}' has a backtest score; nothing to choose from")
        conn.execute("UPDATE forecast_model SET is_champion = false WHERE target = %s AND horizon_steps = %s "
                     "AND is_champion", (target, horizon_steps))
        conn.execute("UPDATE forecast_model SET is_champion = true WHERE model_id = %s", (row[0],))
    return int(row[0])


def load_model(conn: psycopg.Connection, model_id: int) -> Forecaster:
    row = conn.execute("SELECT artefact, artefact_sha256 FROM forecast_model WHERE model_id = %s",
                       (model_id,)).fetchone()
    if row is None:
        raise UserError(f"no forecast model {model_id}")
    blob = bytes(row[0])
    if hashlib.sha256(blob).hexdigest() != row[1]:
        raise RuntimeError(f"forecast model {model_id}: artefact checksum mismatch; not loading it")
    return pickle.loads(blob)  # noqa: S301 - our own artefact, checksum verified


def champion(conn: psycopg.Connection, target: str, horizon_steps: int | None = None) -> tuple[int, Forecaster]:
    sql = "SELECT model_id FROM forecast_model WHERE target = %s AND is_champion"
    params: tuple = (target,)
    if horizon_steps is not None:
        sql += " AND horizon_steps = %s"
        params += (horizon_steps,)
    row = conn.execute(sql + " ORDER BY horizon_steps LIMIT 1", params).fetchone()
    if row is None:
        raise UserError(f"no trained forecast model for '{target}' (run 'ems forecast train --point {target}')")
    return int(row[0]), load_model(conn, int(row[0]))


def save_forecast(conn: psycopg.Connection, model_id: int, issued_at: pd.Timestamp, forecast: pd.DataFrame,
                  naive: np.ndarray | None = None) -> int:
    """Store one issued forecast (idempotent: re-issuing the same time replaces it)."""
    labels = [c for c in forecast.columns if c.startswith("p")]
    rows = []
    for k, (ts, values) in enumerate(forecast[labels].iterrows(), start=1):
        q = {label: float(values[label]) for label in labels}
        rows.append((model_id, issued_at, ts, k, q["p50"], Jsonb(q),
                     None if naive is None or np.isnan(naive[k - 1]) else float(naive[k - 1])))
    with conn.transaction():
        conn.execute("DELETE FROM forecast_value WHERE model_id = %s AND issued_at = %s", (model_id, issued_at))
        with conn.cursor() as cur:
            cur.executemany("""INSERT INTO forecast_value (model_id, issued_at, ts, step, p50, quantiles, naive)
                               VALUES (%s, %s, %s, %s, %s, %s, %s)""", rows)
    return len(rows)


def open_range(conn: psycopg.Connection, model_id: int) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """Time range of the forecast values still waiting for their actual."""
    row = conn.execute("SELECT min(ts), max(ts) FROM forecast_value WHERE model_id = %s AND actual IS NULL",
                       (model_id,)).fetchone()
    return None if row[0] is None else (pd.Timestamp(row[0]), pd.Timestamp(row[1]))


def fill_actuals(conn: psycopg.Connection, model_id: int, actual: pd.Series) -> int:
    """Write arrived actual values (indexed by bucket start) into the model's forecast values."""
    actual = actual.dropna()
    if actual.empty:
        return 0
    cur = conn.execute(
        """UPDATE forecast_value v SET actual = a.value
           FROM unnest(%s::timestamptz[], %s::float8[]) AS a(ts, value)
           WHERE v.model_id = %s AND v.ts = a.ts AND v.actual IS NULL""",
        (list(actual.index.to_pydatetime()), actual.to_numpy(float).tolist(), model_id))
    return cur.rowcount


def accuracy(conn: psycopg.Connection, target: str) -> pd.DataFrame:
    rows = conn.execute("""SELECT model_id, model, lead_h, n, mae, bias, naive_mae, skill FROM forecast_accuracy
                           WHERE target = %s ORDER BY model_id, lead_h""", (target,)).fetchall()
    return pd.DataFrame(rows, columns=["model_id", "model", "lead_h", "n", "mae", "bias", "naive_mae", "skill"])


def check_drift(conn: psycopg.Connection, model_id: int, window_days: float = 7.0,
                ratio: float = 2.0, min_n: int = 24) -> dict | None:
    """Flag drift when the live MAE over the last ``window_days`` of actuals exceeds ``ratio`` x backtest MAE.

    Returns the open drift flag (or None); an open flag is cleared when the live MAE is back within.
    """
    row = conn.execute(
        """WITH last AS (SELECT max(ts) AS t FROM forecast_value WHERE model_id = %(m)s AND actual IS NOT NULL)
           SELECT count(*), avg(abs(v.actual - v.p50)), min(v.ts), max(v.ts), m.score, m.target
           FROM forecast_value v JOIN forecast_model m USING (model_id), last
           WHERE v.model_id = %(m)s AND v.actual IS NOT NULL AND v.ts > last.t - %(w)s
           GROUP BY m.score, m.target""", {"m": model_id, "w": pd.Timedelta(days=window_days).to_pytimedelta()}).fetchone()
    if row is None or row[0] < min_n or not row[4]:
        return None
    n, live, start, end, backtest_mae, target = row
    if live > ratio * backtest_mae:
        conn.execute(
            """INSERT INTO forecast_drift (model_id, target, window_start, window_end, n, live_mae, backtest_mae, ratio)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (model_id, window_end) DO NOTHING""",
            (model_id, target, start, end, n, live, backtest_mae, live / backtest_mae))
        return {"model_id": model_id, "target": target, "n": int(n), "live_mae": float(live),
                "backtest_mae": float(backtest_mae), "ratio": float(live / backtest_mae)}
    conn.execute("UPDATE forecast_drift SET cleared_at = now() WHERE model_id = %s AND cleared_at IS NULL",
                 (model_id,))
    return None
