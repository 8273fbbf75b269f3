"""Recompute interval deltas of points whose stored sequence changed around an import (late data,
kept conflicts, corrections): re-read the window from the store and run the counters again."""

from __future__ import annotations

import numpy as np
import pandas as pd
import psycopg

from ems.ingest.rounding import round_to_register_resolution
from ems.ingest.validate import PointRule
from ems.readings.counters import interval_values, registers_to_intervals
from ems.readings.quality import Quality
from ems.readings.store import update_deltas

_MARGIN = 3  # stored readings re-judged on each side of the batch window


def recompute_deltas(conn: psycopg.Connection, rules: dict[int, PointRule], batch: pd.DataFrame, report) -> int:
    """Recompute deltas for ``rules`` over each point's batch window (plus a margin); returns rows changed."""
    spans = batch[batch["point_id"].isin(list(rules))].groupby("point_id")["ts"].agg(["min", "max"])
    updates = []
    for pid, (first, last) in spans.iterrows():
        rule = rules[int(pid)]
        rows = conn.execute(
            """(SELECT ts, value FROM reading WHERE point_id = %(p)s AND ts < %(a)s AND value IS NOT NULL
                  AND quality & %(g)s = 0
                ORDER BY ts DESC LIMIT %(m)s)
               UNION ALL
               (SELECT ts, value FROM reading WHERE point_id = %(p)s AND ts >= %(a)s AND ts <= %(b)s)
               UNION ALL
               (SELECT ts, value FROM reading WHERE point_id = %(p)s AND ts > %(b)s ORDER BY ts LIMIT %(m)s)
               ORDER BY 1""", {"p": int(pid), "a": first, "b": last, "m": _MARGIN,
                                                             "g": int(Quality.GLITCH)}).fetchall()
        if len(rows) < 2:
            continue
        ts = pd.to_datetime([r[0] for r in rows], utc=True)
        ts_ns = ts.to_numpy(dtype="datetime64[ns]").astype(np.int64)
        value = np.array([np.nan if r[1] is None else r[1] for r in rows], np.float64)
        if rule.kind == "cumulative":
            res = registers_to_intervals(ts_ns[1:], value[1:], rule.counter_params,
                                         prev_ts_ns=int(ts_ns[0]), prev_value=float(value[0]))
            ts_out = ts[1:]
        else:
            res = interval_values(ts_ns, value, rule.counter_params)
            ts_out = ts
        delta = round_to_register_resolution(res.delta, np.full(len(res.delta), int(pid)), value[-len(res.delta):])
        updates.append(pd.DataFrame({"point_id": int(pid), "ts": ts_out, "delta": delta, "quality": res.quality}))
    if not updates:
        return 0
    changed = update_deltas(conn, pd.concat(updates, ignore_index=True))
    report.notes.append(f"recomputed interval deltas of {len(updates)} point(s) around stored data; {changed} changed")
    return changed
