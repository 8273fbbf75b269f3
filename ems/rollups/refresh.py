"""Refresh the roll-ups of the hours that ingest marked dirty (late data, corrections and edits too).

One refresh, one transaction:
1. take the dirty (point, UTC hour) pairs (``DELETE ... RETURNING``; concurrent ingest adds new ones);
2. 15-min buckets from raw readings, for points sampled faster than every 15 minutes (for a
   15-min meter the 15-min roll-up would repeat the raw data: its 15-min view is read from raw);
3. hour buckets (local clock of each point's site) from raw readings, day buckets from hours, month
   buckets from days (days are unions of local hours, months of local days);
4. virtual points (formulas) over the touched buckets;
5. node x medium buckets (hour, day, month) from the point roll-ups of their members
   (``rollup_member``); a node's 15-min view is summed from its members on request.
Only touched buckets are rewritten: each is deleted and recomputed, so a bucket whose data vanished
(after a correction) vanishes too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import psycopg

from ems.rollups.membership import refresh_membership
from ems.rollups.virtual import refresh_virtual

_COARSE = (("day", "day", "hour", "1 day"), ("month", "month", "day", "1 month"))
FAST_SAMPLING_S = 900  # points sampled faster than this get materialised 15-min roll-ups


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
               FROM rb_dirty d JOIN point p USING (point_id) CROSS JOIN generate_series(-1, 3) q
               WHERE coalesce(p.interval_s, 60) < %s""", (FAST_SAMPLING_S,))
        conn.execute("ANALYZE rb_15")  # temp tables have no statistics: without them the joins go quadratic
        written += _refresh_15min(conn)
        written += _refresh_hour(conn)
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
    # One index range scan per point over its dirty span, then an equality join with the dirty buckets:
    # set-based for a full rebuild and cheap for a single late reading. Each reading belongs to one
    # bucket: deltas to (b, b + 15 min], values to [b, b + 15 min).
    return conn.execute(
        """INSERT INTO rollup_point (grain, point_id, bucket, sum_delta, n_delta, mean, min, max, n, flags)
           SELECT '15min', x.point_id, x.bucket, sum(x.delta), count(x.delta), avg(x.value), min(x.value),
                  max(x.value), count(x.value), bit_or(x.quality)
           FROM (SELECT r.point_id, r.delta, r.value, r.quality,
                        date_bin('15 minutes',
                                 CASE WHEN g.instantaneous THEN r.ts ELSE r.ts - interval '1 microsecond' END,
                                 timestamptz '2000-01-01 00:00+00') AS bucket
                 FROM (SELECT d.point_id, min(d.hour_utc) AS lo, max(d.hour_utc) + interval '1 hour' AS hi,
                              bool_or(p.kind = 'instantaneous') AS instantaneous
                       FROM rb_dirty d JOIN point p USING (point_id) GROUP BY d.point_id) g
                 JOIN reading r ON r.point_id = g.point_id AND r.ts >= g.lo AND r.ts <= g.hi) x
           JOIN rb_15 b ON b.point_id = x.point_id AND b.bucket = x.bucket
           GROUP BY x.point_id, x.bucket""").rowcount


def _refresh_hour(conn: psycopg.Connection) -> int:
    """Local-hour buckets overlapping a dirty UTC hour, recomputed from raw readings."""
    # a delta stamped exactly on the hour ends the previous hour's last interval: that bucket is dirty too
    conn.execute("DROP TABLE IF EXISTS rb_hour")
    conn.execute(
        """CREATE TEMP TABLE rb_hour ON COMMIT DROP AS
           SELECT DISTINCT d.point_id, date_trunc('hour', d.hour_utc + o, n.timezone) AS bucket, n.timezone,
                  p.kind = 'instantaneous' AS instantaneous
           FROM rb_dirty d JOIN point p USING (point_id) JOIN node n USING (node_id)
           CROSS JOIN (VALUES (interval '-1 microsecond'), (interval '0'), (interval '59 minutes 59 seconds')) AS v(o)""")
    conn.execute("ANALYZE rb_hour")
    conn.execute("""DELETE FROM rollup_point r USING rb_hour g
                    WHERE r.grain = 'hour' AND r.point_id = g.point_id AND r.bucket = g.bucket""")
    return conn.execute(
        """INSERT INTO rollup_point (grain, point_id, bucket, sum_delta, n_delta, mean, min, max, n, flags)
           SELECT 'hour', x.point_id, x.bucket, sum(x.delta), count(x.delta), avg(x.value), min(x.value),
                  max(x.value), count(x.value), bit_or(x.quality)
           FROM (SELECT r.point_id, r.delta, r.value, r.quality,
                        date_trunc('hour', CASE WHEN g.instantaneous THEN r.ts ELSE r.ts - interval '1 microsecond' END,
                                   g.timezone) AS bucket
                 FROM (SELECT point_id, min(bucket) AS lo, max(bucket) + interval '1 hour' AS hi,
                              min(timezone) AS timezone, bool_or(instantaneous) AS instantaneous
                       FROM rb_hour GROUP BY point_id) g
                 JOIN reading r ON r.point_id = g.point_id AND r.ts >= g.lo AND r.ts <= g.hi) x
           JOIN rb_hour b ON b.point_id = x.point_id AND b.bucket = x.bucket
           GROUP BY x.point_id, x.bucket""").rowcount


def _refresh_coarse(conn: psycopg.Connection, grain: str, unit: str, source: str, width: str) -> int:
    """Recompute the ``grain`` buckets (local calendar) that contain a touched ``source`` bucket."""
    table = f"rb_{grain}"
    conn.execute(f"DROP TABLE IF EXISTS {table}")
    conn.execute(
        f"""CREATE TEMP TABLE {table} ON COMMIT DROP AS
            SELECT DISTINCT b.point_id, date_trunc(%s, b.bucket, b.timezone) AS bucket, b.timezone
            FROM rb_{source} b""", (unit,))
    conn.execute(f"ANALYZE {table}")
    conn.execute(f"""DELETE FROM rollup_point r USING {table} g
                     WHERE r.grain = %s AND r.point_id = g.point_id AND r.bucket = g.bucket""", (grain,))
    return conn.execute(
        f"""INSERT INTO rollup_point (grain, point_id, bucket, sum_delta, n_delta, mean, min, max, n, flags)
            SELECT %s, x.point_id, x.cbucket, sum(x.sum_delta), sum(x.n_delta),
                   sum(x.mean * x.n) / nullif(sum(x.n), 0), min(x.min), max(x.max), sum(x.n), bit_or(x.flags)
            FROM (SELECT r.*, date_trunc(%s, r.bucket, g.timezone) AS cbucket
                  FROM (SELECT point_id, min(bucket) AS lo, max(bucket) AS hi, min(timezone) AS timezone
                        FROM {table} GROUP BY point_id) g
                  JOIN rollup_point r ON r.grain = %s AND r.point_id = g.point_id AND r.bucket >= g.lo
                       AND r.bucket < ((g.hi AT TIME ZONE g.timezone) + interval '{width}') AT TIME ZONE g.timezone) x
            JOIN {table} k ON k.point_id = x.point_id AND k.bucket = x.cbucket
            GROUP BY x.point_id, x.cbucket""", (grain, unit, source)).rowcount


def _refresh_nodes(conn: psycopg.Connection) -> int:
    """Node x medium buckets for every grain whose member points were touched."""
    written = 0
    for grain, table in (("hour", "rb_hour"), ("day", "rb_day"), ("month", "rb_month")):
        conn.execute("DROP TABLE IF EXISTS rb_node")
        conn.execute(
            f"""CREATE TEMP TABLE rb_node ON COMMIT DROP AS
                SELECT DISTINCT m.node_id, m.medium, m.unit, t.bucket
                FROM {table} t JOIN rollup_member m ON m.point_id = t.point_id""")
        conn.execute("ANALYZE rb_node")
        conn.execute("""DELETE FROM rollup_node r USING rb_node k
                        WHERE r.grain = %s AND r.node_id = k.node_id AND r.medium = k.medium
                          AND r.bucket = k.bucket""", (grain,))
        # every member of an affected node counts, touched or not: read each member's span once
        written += conn.execute(
            """INSERT INTO rollup_node (grain, node_id, medium, unit, bucket, value, n_points, flags)
               SELECT %s, k.node_id, k.medium, k.unit, k.bucket, sum(r.sum_delta * m.factor),
                      count(r.sum_delta), bit_or(r.flags)
               FROM (SELECT m.point_id, min(k.bucket) AS lo, max(k.bucket) AS hi
                     FROM rb_node k JOIN rollup_member m ON m.node_id = k.node_id AND m.medium = k.medium
                     GROUP BY m.point_id) s
               JOIN rollup_point r ON r.grain = %s AND r.point_id = s.point_id AND r.bucket >= s.lo AND r.bucket <= s.hi
               JOIN rollup_member m ON m.point_id = r.point_id
               JOIN rb_node k ON k.node_id = m.node_id AND k.medium = m.medium AND k.bucket = r.bucket
               GROUP BY k.node_id, k.medium, k.unit, k.bucket""", (grain, grain)).rowcount
    return written
