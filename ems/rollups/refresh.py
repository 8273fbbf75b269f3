"""Refresh the roll-ups of the hours that ingest marked dirty (late data, corrections and edits too).

One refresh, one transaction:
1. take the dirty (point, UTC hour) pairs (``DELETE ... RETURNING``; concurrent ingest adds new ones);
2. 15-min buckets of those hours are recomputed from raw readings;
3. hour and day buckets (local clock of each point's site) from the 15-min roll-ups, month buckets
   from the day roll-ups (months are unions of local days);
4. virtual points (formulas) over the touched buckets;
5. node x medium buckets from the point roll-ups of their members (``rollup_member``).
Only touched buckets are rewritten: each is deleted and recomputed, so a bucket whose data vanished
(after a correction) vanishes too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import psycopg

from ems.rollups.membership import refresh_membership
from ems.rollups.virtual import refresh_virtual

_COARSE = (("hour", "hour", "15min", "1 hour"), ("day", "day", "15min", "1 day"), ("month", "month", "day", "1 month"))


@dataclass
class RefreshResult:
    dirty_hours: int
    rows_written: int
    seconds: float


def refresh_rollups(conn: psycopg.Connection, *, membership: bool = True) -> RefreshResult:
    """Recompute every dirty bucket; returns counts. Runs in its own transaction."""
    t0 = time.perf_counter()
    written = 0
    with conn.transaction():
        if membership:
            refresh_membership(conn)
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS rb_dirty (point_id integer, hour_utc timestamptz) "
                     "ON COMMIT DROP")
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS rb_15 (point_id integer, bucket timestamptz, "
                     "PRIMARY KEY (point_id, bucket)) ON COMMIT DROP")
        dirty = conn.execute(
            """WITH d AS (DELETE FROM dirty_hour RETURNING point_id, hour_utc)
               INSERT INTO rb_dirty SELECT point_id, hour_utc FROM d""").rowcount
        if dirty == 0:
            return RefreshResult(0, 0, time.perf_counter() - t0)
        conn.execute("ANALYZE rb_dirty")
        conn.execute(
            """INSERT INTO rb_15 SELECT DISTINCT d.point_id, d.hour_utc + q * interval '15 minutes'
               FROM rb_dirty d CROSS JOIN generate_series(0, 3) q""")
        written += _refresh_15min(conn)
        for grain, unit, source, width in _COARSE:
            written += _refresh_coarse(conn, grain, unit, source, width)
        written += refresh_virtual(conn)
        written += _refresh_nodes(conn)
        conn.execute("INSERT INTO rollup_run (finished_at, dirty_hours, rows_written, seconds) "
                     "VALUES (now(), %s, %s, %s)", (dirty, written, time.perf_counter() - t0))
    return RefreshResult(dirty, written, time.perf_counter() - t0)


def _refresh_15min(conn: psycopg.Connection) -> int:
    conn.execute("""DELETE FROM rollup_point r USING rb_15 b
                    WHERE r.grain = '15min' AND r.point_id = b.point_id AND r.bucket = b.bucket""")
    # each reading belongs to exactly one bucket: deltas to (b, b + 15 min], values to [b, b + 15 min)
    return conn.execute(
        """INSERT INTO rollup_point (grain, point_id, bucket, sum_delta, n_delta, mean, min, max, n, flags)
           SELECT '15min', b.point_id, b.bucket, sum(r.delta), count(r.delta), avg(r.value), min(r.value),
                  max(r.value), count(r.value), bit_or(r.quality)
           FROM rb_15 b
           JOIN point p ON p.point_id = b.point_id
           JOIN reading r ON r.point_id = b.point_id
                AND r.ts >= b.bucket AND r.ts <= b.bucket + interval '15 minutes'
                AND CASE WHEN p.kind = 'instantaneous' THEN r.ts < b.bucket + interval '15 minutes'
                         ELSE r.ts > b.bucket END
           GROUP BY b.point_id, b.bucket""").rowcount


def _refresh_coarse(conn: psycopg.Connection, grain: str, unit: str, source: str, width: str) -> int:
    """Recompute the ``grain`` buckets (local calendar) that contain a touched 15-min bucket."""
    table = f"rb_{grain}"
    conn.execute(f"DROP TABLE IF EXISTS {table}")
    conn.execute(
        f"""CREATE TEMP TABLE {table} ON COMMIT DROP AS
            SELECT DISTINCT b.point_id, date_trunc(%s, b.bucket, n.timezone) AS bucket, n.timezone
            FROM rb_15 b JOIN point p USING (point_id) JOIN node n USING (node_id)""", (unit,))
    conn.execute(f"""DELETE FROM rollup_point r USING {table} g
                     WHERE r.grain = %s AND r.point_id = g.point_id AND r.bucket = g.bucket""", (grain,))
    return conn.execute(
        f"""INSERT INTO rollup_point (grain, point_id, bucket, sum_delta, n_delta, mean, min, max, n, flags)
            SELECT %s, g.point_id, g.bucket, sum(r.sum_delta), sum(r.n_delta),
                   sum(r.mean * r.n) / nullif(sum(r.n), 0), min(r.min), max(r.max), sum(r.n), bit_or(r.flags)
            FROM {table} g
            JOIN rollup_point r ON r.grain = %s AND r.point_id = g.point_id AND r.bucket >= g.bucket
                 AND r.bucket < ((g.bucket AT TIME ZONE g.timezone) + interval '{width}') AT TIME ZONE g.timezone
            GROUP BY g.point_id, g.bucket""", (grain, source)).rowcount


def _refresh_nodes(conn: psycopg.Connection) -> int:
    """Node x medium buckets for every grain whose member points were touched."""
    written = 0
    for grain, table in (("15min", "rb_15"), ("hour", "rb_hour"), ("day", "rb_day"), ("month", "rb_month")):
        conn.execute("DROP TABLE IF EXISTS rb_node")
        conn.execute(
            f"""CREATE TEMP TABLE rb_node ON COMMIT DROP AS
                SELECT DISTINCT m.node_id, m.medium, m.unit, t.bucket
                FROM {table} t JOIN rollup_member m ON m.point_id = t.point_id""")
        conn.execute("""DELETE FROM rollup_node r USING rb_node k
                        WHERE r.grain = %s AND r.node_id = k.node_id AND r.medium = k.medium
                          AND r.bucket = k.bucket""", (grain,))
        written += conn.execute(
            """INSERT INTO rollup_node (grain, node_id, medium, unit, bucket, value, n_points, flags)
               SELECT %s, k.node_id, k.medium, k.unit, k.bucket, sum(r.sum_delta * m.factor),
                      count(r.sum_delta), bit_or(r.flags)
               FROM rb_node k
               JOIN rollup_member m ON m.node_id = k.node_id AND m.medium = k.medium
               JOIN rollup_point r ON r.grain = %s AND r.point_id = m.point_id AND r.bucket = k.bucket
               GROUP BY k.node_id, k.medium, k.unit, k.bucket""", (grain, grain)).rowcount
    return written
