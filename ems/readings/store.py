"""The readings store: bulk write (binary COPY into a staging table, then one merge), edits, reads.

Writes are idempotent: re-sending a reading that is already stored changes nothing. A different
value for a stored (point, time) is a conflict: it is returned to the caller (who quarantines it)
unless the caller asks for a correction, which updates the reading and logs the old and new value
in ``reading_edit``. Every written hour is marked dirty for the roll-up job.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import psycopg

from ems.readings.pgcopy import binary_copy_payload
from ems.readings.quality import Quality

STAGE_COLUMNS = ("point_id", "ts", "value", "delta", "quality", "batch_id")
_REL_TOL = 1e-9
COUNTER_FLAGS = int(Quality.GAP_SPANNING | Quality.ROLLOVER | Quality.RESET | Quality.GLITCH | Quality.SPIKE
                    | Quality.BACKSTEP)  # values equal within this relative tolerance count as the same reading


@dataclass
class MergeResult:
    staged: int
    inserted: int
    exact_duplicates: int
    conflicts: pd.DataFrame      # point_id, ts, value (new), stored_value
    corrected: int = 0
    inserted_points: frozenset[int] = frozenset()
    corrected_points: frozenset[int] = frozenset()


def ensure_partitions(conn: psycopg.Connection, start: pd.Timestamp, end: pd.Timestamp) -> int:
    """Create the monthly partitions covering [start, end] (a no-op on TimescaleDB)."""
    return conn.execute("SELECT ems_ensure_reading_partitions(%s, %s)", (start, end)).fetchone()[0]


def stage_readings(conn: psycopg.Connection, frame: pd.DataFrame) -> int:
    """COPY a frame with STAGE_COLUMNS into the transaction's staging table. Returns rows staged."""
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.INTRANS:
        raise RuntimeError("stage_readings must run inside a transaction (with conn.transaction(): ...)")
    conn.execute(
        """CREATE TEMP TABLE IF NOT EXISTS stage_reading (
               point_id integer, ts timestamptz, value double precision, delta double precision,
               quality smallint, batch_id integer) ON COMMIT DELETE ROWS""")
    if frame.empty:
        return 0
    ts_ns = frame["ts"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    payload = binary_copy_payload([
        ("int4", frame["point_id"].to_numpy(np.int32)),
        ("timestamptz", ts_ns),
        ("float8", frame["value"].to_numpy(np.float64)),
        ("float8", frame["delta"].to_numpy(np.float64)),
        ("int2", frame["quality"].to_numpy(np.int16)),
        ("int4", frame["batch_id"].to_numpy(np.int32)),
    ])
    with conn.cursor().copy("COPY stage_reading FROM STDIN (FORMAT BINARY)") as copy:
        view = memoryview(payload)
        for i in range(0, len(view), 1 << 20):
            copy.write(view[i:i + (1 << 20)])
    return len(frame)


def merge_stage(conn: psycopg.Connection, *, correct: bool = False, edited_by: str = "ingest",
                reason: str = "correction from import", mark: bool = True) -> MergeResult:
    """Merge the staging table into ``reading`` (call inside the caller's transaction).

    ``mark``: also mark the staged hours dirty for the roll-ups (callers that track them pass False).
    """
    staged = conn.execute("SELECT count(*) FROM stage_reading").fetchone()[0]
    if staged == 0:
        return MergeResult(0, 0, 0, pd.DataFrame(columns=["point_id", "ts", "value", "stored_value"]))
    per_point = conn.execute(
        """WITH ins AS (
               INSERT INTO reading (point_id, ts, value, delta, quality, batch_id)
               SELECT point_id, ts, value, NULLIF(delta, 'NaN'::float8), quality, batch_id
               FROM stage_reading
               ON CONFLICT (point_id, ts) DO NOTHING
               RETURNING point_id)
           SELECT point_id, count(*) FROM ins GROUP BY point_id""").fetchall()
    inserted = sum(n for _, n in per_point)
    conflicts = pd.DataFrame(columns=["point_id", "ts", "value", "stored_value"])
    corrected = 0
    corrected_points: frozenset[int] = frozenset()
    if inserted < staged:
        rows = conn.execute(
            """SELECT s.point_id, s.ts, s.value, r.value
               FROM stage_reading s JOIN reading r USING (point_id, ts)
               WHERE r.batch_id IS DISTINCT FROM s.batch_id
                 AND (r.value IS NULL OR abs(r.value - s.value) > %s * greatest(1.0, abs(s.value)))""",
            (_REL_TOL,)).fetchall()
        conflicts = pd.DataFrame(rows, columns=["point_id", "ts", "value", "stored_value"])
        if correct and rows:
            corrected = _apply_corrections(conn, edited_by, reason)
            corrected_points = frozenset(int(p) for p in conflicts["point_id"])
            conflicts = conflicts.iloc[0:0]
    if mark:
        conn.execute(
            """INSERT INTO dirty_hour (point_id, hour_utc)
               SELECT DISTINCT point_id, date_trunc('hour', ts, 'UTC') FROM stage_reading
               ON CONFLICT DO NOTHING""")
    dupes = staged - inserted - corrected - len(conflicts)
    return MergeResult(staged, inserted, dupes, conflicts, corrected, frozenset(p for p, _ in per_point),
                       corrected_points)


def _apply_corrections(conn: psycopg.Connection, edited_by: str, reason: str) -> int:
    conn.execute(
        """INSERT INTO reading_edit (point_id, ts, old_value, new_value, old_quality, new_quality, reason,
                                     edited_by, batch_id)
           SELECT r.point_id, r.ts, r.value, s.value, r.quality, s.quality | %s, %s, %s, s.batch_id
           FROM stage_reading s JOIN reading r USING (point_id, ts)
           WHERE r.batch_id IS DISTINCT FROM s.batch_id
             AND (r.value IS NULL OR abs(r.value - s.value) > %s * greatest(1.0, abs(s.value)))""",
        (int(Quality.EDITED), reason, edited_by, _REL_TOL))
    return conn.execute(
        """UPDATE reading r SET value = s.value, quality = s.quality | %s, batch_id = s.batch_id
           FROM stage_reading s
           WHERE r.point_id = s.point_id AND r.ts = s.ts AND r.batch_id IS DISTINCT FROM s.batch_id
             AND (r.value IS NULL OR abs(r.value - s.value) > %s * greatest(1.0, abs(s.value)))""",
        (int(Quality.EDITED), _REL_TOL)).rowcount


def edit_reading(conn: psycopg.Connection, point_id: int, ts: pd.Timestamp, new_value: float, *,
                 reason: str, edited_by: str) -> None:
    """Explicitly correct one stored reading; the old value is kept in ``reading_edit``."""
    with conn.transaction():
        row = conn.execute("SELECT value, quality FROM reading WHERE point_id = %s AND ts = %s FOR UPDATE",
                           (point_id, ts)).fetchone()
        if row is None:
            raise KeyError(f"no reading for point {point_id} at {ts}")
        new_quality = row[1] | int(Quality.EDITED)
        conn.execute(
            """INSERT INTO reading_edit (point_id, ts, old_value, new_value, old_quality, new_quality, reason, edited_by)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s)""",
            (point_id, ts, row[0], new_value, row[1], new_quality, reason, edited_by))
        conn.execute("UPDATE reading SET value = %s, quality = %s WHERE point_id = %s AND ts = %s",
                     (new_value, new_quality, point_id, ts))
        conn.execute("INSERT INTO dirty_hour (point_id, hour_utc) VALUES (%s, date_trunc('hour', %s::timestamptz, 'UTC')) "
                     "ON CONFLICT DO NOTHING", (point_id, ts))


def last_stored_ts(conn: psycopg.Connection, point_ids: list[int]) -> dict[int, int]:
    """Newest stored reading time (int64 ns UTC) per point id that has readings."""
    if not point_ids:
        return {}
    rows = conn.execute(
        """SELECT q.point_id, (SELECT max(ts) FROM reading r WHERE r.point_id = q.point_id)
           FROM unnest(%s::int[]) AS q(point_id)""", (point_ids,)).fetchall()
    return {pid: pd.Timestamp(ts).value for pid, ts in rows if ts is not None}


def latest_tail(conn: psycopg.Connection, point_ids: list[int], k: int) -> pd.DataFrame:
    """The newest ``k`` stored readings per point that are not glitches (point_id, ts, value, delta, quality),
    oldest first."""
    cols = ["point_id", "ts", "value", "delta", "quality"]
    if not point_ids:
        return pd.DataFrame(columns=cols)
    rows = conn.execute(
        """SELECT q.point_id, r.ts, r.value, r.delta, r.quality
           FROM unnest(%s::int[]) AS q(point_id)
           CROSS JOIN LATERAL (SELECT ts, value, delta, quality FROM reading
                               WHERE point_id = q.point_id AND value IS NOT NULL AND quality & %s = 0
                               ORDER BY ts DESC LIMIT %s) r
           ORDER BY 1, 2""", (point_ids, int(Quality.GLITCH), k)).fetchall()
    frame = pd.DataFrame(rows, columns=cols)
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    return frame.astype({"value": "float64", "delta": "float64", "quality": "int16"})


def mark_dirty(conn: psycopg.Connection, point_ids: np.ndarray, hours_utc_ns: np.ndarray) -> int:
    """Record (point, UTC hour start) pairs whose roll-ups must be recomputed."""
    if len(point_ids) == 0:
        return 0
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS stage_dirty (point_id integer, hour_utc timestamptz) "
                 "ON COMMIT DELETE ROWS")
    with conn.cursor().copy("COPY stage_dirty FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(binary_copy_payload([("int4", point_ids.astype(np.int32)),
                                        ("timestamptz", hours_utc_ns.astype(np.int64))]))
    n = conn.execute("INSERT INTO dirty_hour (point_id, hour_utc) SELECT DISTINCT point_id, hour_utc FROM stage_dirty "
                     "ON CONFLICT DO NOTHING").rowcount
    conn.execute("TRUNCATE stage_dirty")
    return n


def update_deltas(conn: psycopg.Connection, frame: pd.DataFrame) -> int:
    """Set delta and the counter flags of stored readings (point_id, ts, delta, quality); returns rows changed.

    Only the counter flags (COUNTER_FLAGS) are replaced; EDITED, ESTIMATED and source flags stay.
    """
    if frame.empty:
        return 0
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS stage_delta (point_id integer, ts timestamptz, "
                 "delta double precision, quality smallint) ON COMMIT DELETE ROWS")
    with conn.cursor().copy("COPY stage_delta FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(binary_copy_payload([
            ("int4", frame["point_id"].to_numpy(np.int32)),
            ("timestamptz", frame["ts"].to_numpy(dtype="datetime64[ns]").astype(np.int64)),
            ("float8", frame["delta"].to_numpy(np.float64)),
            ("int2", frame["quality"].to_numpy(np.int16)),
        ]))
    changed = conn.execute(
        """UPDATE reading r SET delta = NULLIF(s.delta, 'NaN'::float8), quality = (r.quality & ~%(m)s) | s.quality
           FROM stage_delta s WHERE r.point_id = s.point_id AND r.ts = s.ts
             AND (r.delta IS DISTINCT FROM NULLIF(s.delta, 'NaN'::float8)
                  OR (r.quality & %(m)s) <> s.quality)""", {"m": COUNTER_FLAGS}).rowcount
    conn.execute(
        """INSERT INTO dirty_hour (point_id, hour_utc)
           SELECT DISTINCT point_id, date_trunc('hour', ts, 'UTC') FROM stage_delta ON CONFLICT DO NOTHING""")
    conn.execute("TRUNCATE stage_delta")
    return changed


def read_series(conn: psycopg.Connection, point_ids: list[int], start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Raw stored readings in [start, end): point_id, ts (UTC), value, delta, quality."""
    rows = conn.execute(
        """SELECT point_id, ts, value, delta, quality FROM reading
           WHERE point_id = ANY(%s) AND ts >= %s AND ts < %s ORDER BY point_id, ts""",
        (point_ids, start, end)).fetchall()
    frame = pd.DataFrame(rows, columns=["point_id", "ts", "value", "delta", "quality"])
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    return frame.astype({"value": "float64", "delta": "float64"})
