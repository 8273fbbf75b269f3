"""Read roll-ups: node x medium energy over time, the group overview, point buckets."""

from __future__ import annotations

import pandas as pd
import psycopg

from ems.errors import UserError

GRAINS = ("15min", "hour", "day", "month")


def node_energy(conn: psycopg.Connection, node_code: str, start: pd.Timestamp, end: pd.Timestamp,
                grain: str = "day", medium: str | None = None) -> pd.DataFrame:
    """Energy of one node per medium and bucket in [start, end): bucket (site-local), medium, unit, value,
    n_points (members with data) and flags (OR of the readings' quality flags)."""
    if grain not in GRAINS:
        raise UserError(f"grain must be one of {', '.join(GRAINS)}", where="--every")
    row = conn.execute("SELECT node_id, timezone FROM node WHERE code = %s", (node_code,)).fetchone()
    if row is None:
        raise UserError(f"no node with code '{node_code}' (see 'ems nodes')", where="--node")
    node_id, tz = row
    if grain == "15min":
        return _node_15min(conn, node_id, tz, start, end, medium)
    rows = conn.execute(
        """SELECT bucket, medium, unit, value, n_points, flags FROM rollup_node
           WHERE grain = %s AND node_id = %s AND bucket >= %s AND bucket < %s
             AND (%s::text IS NULL OR medium = %s)
           ORDER BY bucket, medium""", (grain, node_id, start, end, medium, medium)).fetchall()
    frame = pd.DataFrame(rows, columns=["bucket", "medium", "unit", "value", "n_points", "flags"])
    frame["bucket"] = pd.to_datetime(frame["bucket"], utc=True).dt.tz_convert(tz)
    return frame


def _node_15min(conn, node_id: int, tz: str, start, end, medium: str | None) -> pd.DataFrame:
    """A node's 15-min energy summed on request from its members' raw interval deltas (bucketed by
    interval end, like the roll-ups); 15-min node buckets are not materialised."""
    rows = conn.execute(
        """SELECT date_bin('15 minutes', r.ts - interval '1 microsecond', timestamptz '2000-01-01 00:00+00') AS bucket,
                  m.medium, m.unit, sum(r.delta * m.factor), count(DISTINCT r.point_id) FILTER (WHERE r.delta IS NOT NULL),
                  bit_or(r.quality)
           FROM rollup_member m JOIN reading r ON r.point_id = m.point_id AND r.ts > %s AND r.ts <= %s
           WHERE m.node_id = %s AND (%s::text IS NULL OR m.medium = %s)
           GROUP BY 1, 2, 3 ORDER BY 1, 2""", (start, end, node_id, medium, medium)).fetchall()
    frame = pd.DataFrame(rows, columns=["bucket", "medium", "unit", "value", "n_points", "flags"])
    frame["bucket"] = pd.to_datetime(frame["bucket"], utc=True).dt.tz_convert(tz)
    return frame


def group_overview(conn: psycopg.Connection, start: pd.Timestamp, end: pd.Timestamp, level: str = "plant"
                   ) -> pd.DataFrame:
    """Monthly energy of every node at ``level`` per medium: node code, month, medium, unit, value."""
    rows = conn.execute(
        """SELECT n.code, r.bucket, r.medium, r.unit, r.value
           FROM rollup_node r JOIN node n USING (node_id)
           WHERE r.grain = 'month' AND n.level = %s AND r.bucket >= %s AND r.bucket < %s
           ORDER BY n.code, r.bucket, r.medium""", (level, start, end)).fetchall()
    return pd.DataFrame(rows, columns=["node", "month", "medium", "unit", "value"])
