"""Read stored readings as pandas frames, raw or resampled into buckets.

Bucketing rules (identical on plain PostgreSQL and TimescaleDB: both have date_bin/date_trunc):
- interval quantities (``delta`` of cumulative and interval points) are labelled at the interval
  end, so a delta stamped 00:15 belongs to the bucket starting 00:00: it is binned at ts - 1 us;
- instantaneous values belong to the bucket containing their time stamp;
- buckets under a day use date_bin with the origin at local midnight of 2000-01-01 in the site's
  zone; 'day', 'week' and 'month' buckets use date_trunc in the site's zone (local calendar).
Bucket labels are the bucket start, in the site's zone.
"""

from __future__ import annotations

import pandas as pd
import psycopg

from ems.errors import UserError

_CALENDAR = {"1d": "day", "d": "day", "day": "day", "1day": "day", "1w": "week", "week": "week",
             "1mo": "month", "month": "month", "1month": "month", "1m": None}


def _bucket_sql(every: str, tz_param: str, ts_expr: str) -> tuple[str, dict]:
    unit = _CALENDAR.get(every.strip().lower())
    if unit:
        return f"date_trunc('{unit}', {ts_expr}, %({tz_param})s)", {}
    try:
        width = pd.Timedelta(every)
    except ValueError as exc:
        raise UserError(f"'{every}' is not a bucket width such as 15min, 1h, 1d or month", where="--every") from exc
    if width <= pd.Timedelta(0) or width > pd.Timedelta("1D") or pd.Timedelta("1D") % width != pd.Timedelta(0):
        raise UserError(f"bucket width '{every}' must divide a day (e.g. 1min, 15min, 1h), or be day/week/month",
                        where="--every")
    if width == pd.Timedelta("1D"):
        return f"date_trunc('day', {ts_expr}, %({tz_param})s)", {}
    return (f"date_bin(%(width)s, {ts_expr}, (timestamp '2000-01-01 00:00' AT TIME ZONE %({tz_param})s))",
            {"width": width.to_pytimedelta()})


def read_point(conn: psycopg.Connection, point: dict, start: pd.Timestamp, end: pd.Timestamp,
               every: str | None = None) -> pd.DataFrame:
    """Readings of one point (a row from ``points_frame``) in [start, end).

    Raw: columns ts (local), value, delta, quality. Resampled: bucket (local) and, for cumulative and
    interval points, ``delta_sum`` (interval quantity in the point's unit), ``n`` and ``gap_flagged``;
    for instantaneous points ``mean``, ``min``, ``max``, ``n``.
    """
    tz = point["timezone"]
    additive = point["kind"] in ("cumulative", "interval")
    params = {"pid": point["point_id"], "start": start, "end": end, "tz": tz}
    if every is None:
        rows = conn.execute(
            """SELECT ts, value, delta, quality FROM reading
               WHERE point_id = %(pid)s AND ts >= %(start)s AND ts < %(end)s ORDER BY ts""", params).fetchall()
        frame = pd.DataFrame(rows, columns=["ts", "value", "delta", "quality"])
        frame["ts"] = pd.to_datetime(frame["ts"], utc=True).dt.tz_convert(tz)
        return frame.astype({"value": "float64", "delta": "float64", "quality": "int64"})
    ts_expr = "ts - interval '1 microsecond'" if additive else "ts"
    bucket, extra = _bucket_sql(every, "tz", ts_expr)
    params.update(extra)
    if additive:
        # an interval ending exactly at `end` belongs to the last bucket; one ending at `start` does not
        sql = f"""SELECT {bucket} AS bucket, sum(delta) AS delta_sum, count(delta) AS n,
                         bool_or((quality & 1) <> 0) AS gap_flagged
                  FROM reading WHERE point_id = %(pid)s AND ts > %(start)s AND ts <= %(end)s
                  GROUP BY 1 ORDER BY 1"""
        cols = ["bucket", "delta_sum", "n", "gap_flagged"]
    else:
        sql = f"""SELECT {bucket} AS bucket, avg(value) AS mean, min(value) AS min, max(value) AS max,
                         count(value) AS n
                  FROM reading WHERE point_id = %(pid)s AND ts >= %(start)s AND ts < %(end)s
                  GROUP BY 1 ORDER BY 1"""
        cols = ["bucket", "mean", "min", "max", "n"]
    frame = pd.DataFrame(conn.execute(sql, params).fetchall(), columns=cols)
    frame["bucket"] = pd.to_datetime(frame["bucket"], utc=True).dt.tz_convert(tz)
    return frame
