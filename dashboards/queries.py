"""The cockpit's read queries: small pandas frames aggregated in SQL, limited to what a user may see.

Every function takes ``visible`` (node ids from :func:`dashboards.auth.visible_node_ids`) and never
returns anything outside it. Values are always bound parameters, never formatted into the SQL.

Rules shared by the energy queries:

- energy = ``delta`` (interval quantity labelled at the interval end) of non-virtual cumulative and
  interval points whose quantity is in :data:`ENERGY_QUANTITIES` (kWh, m3, t ... in the point's
  canonical unit); media and units are kept apart, never added together;
- no double counting: inside the subtree being summed, a point whose parent meter lies in the same
  subtree is left out (its parent already measures it); sub-meters appear when drilling to meters;
- buckets and date ranges are in the local time zone of the node being summed: a delta stamped at
  ts belongs to the bucket containing ``ts - 1 microsecond``; a date range [start, end] covers local
  midnight of ``start`` up to local midnight after ``end``. Bucket labels are naive local times.

Speed: node energy comes from the roll-up tables (hour/day/month per node and medium), so a year of
the demo group answers in milliseconds; single meters are read from their raw readings.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pandas as pd
import psycopg
from psycopg.rows import dict_row

from ems.assets.store import node_tree
from ems.readings.query import read_point

ENERGY_QUANTITIES = ("energy", "volume", "mass")
GRAINS = ("hour", "day", "month")
_METER_EVERY = {"15min": "15min", "hour": "1h", "day": "day", "month": "month"}

ENERGY_COLUMNS = ["bucket", "node_id", "code", "name_zh", "name_en", "level", "medium", "unit", "total"]
METER_COLUMNS = ["point_id", "code", "name_zh", "name_en", "node_code", "medium", "quantity", "unit", "kind",
                 "parent_code", "total", "mean"]


def choose_grain(start: date, end: date) -> str:
    """Bucket for the group charts: hour up to 2 days, day up to ~3 months, else month."""
    days = (end - start).days + 1
    return "hour" if days <= 2 else "day" if days <= 92 else "month"


def choose_meter_grain(start: date, end: date) -> str:
    """Bucket for one meter: 15 min up to 2 days, hour up to a month, day up to ~13 months, else month."""
    days = (end - start).days + 1
    return "15min" if days <= 2 else "hour" if days <= 31 else "day" if days <= 400 else "month"


def _range_params(start: date, end: date) -> dict:
    """Local wall-clock bounds [start 00:00, day after end 00:00), turned into instants per zone in SQL."""
    if end < start:
        start, end = end, start
    return {"start": datetime.combine(start, time()), "end": datetime.combine(end + timedelta(days=1), time())}


def visible_nodes(conn: psycopg.Connection, visible: list[int]) -> pd.DataFrame:
    """The visible nodes in tree order: node_id, code, parent_id, level, name_zh, name_en, timezone, depth."""
    allowed = set(visible)
    rows = [r for r in node_tree(conn) if r["node_id"] in allowed]
    cols = ["node_id", "code", "parent_id", "level", "name_zh", "name_en", "timezone", "depth"]
    return pd.DataFrame(rows, columns=cols)


def top_node_ids(nodes: pd.DataFrame) -> list[int]:
    """The nodes the first chart compares: the visible plants, else the highest visible nodes."""
    plants = nodes[nodes["level"] == "plant"]
    if not plants.empty:
        return plants["node_id"].tolist()
    ids = set(nodes["node_id"])
    return nodes[~nodes["parent_id"].isin(ids)]["node_id"].tolist()


def energy_by_node(conn: psycopg.Connection, root_ids: list[int], visible: list[int], start: date, end: date,
                   grain: str, *, own_id: int | None = None) -> pd.DataFrame:
    """Energy per node, medium, unit and local time bucket (``grain`` in :data:`GRAINS`), from the
    node roll-ups (``rollup_node``: the same membership rules as ``ems energy``, virtual site meters
    and sub-meters counted once).

    ``own_id``, when given, adds that node's energy not accounted for by its visible children
    (its own meters, losses, unmetered loads), labelled as that node. Columns: :data:`ENERGY_COLUMNS`.
    """
    if grain not in GRAINS:
        raise ValueError(f"grain must be one of {GRAINS}, not {grain!r}")
    params = {"roots": list(root_ids), "visible": list(visible), "own": own_id, "grain": grain,
              **_range_params(start, end)}
    rows = conn.execute(
        """WITH r AS (
               SELECT n.node_id, r.medium, r.unit, (r.bucket AT TIME ZONE n.timezone) AS bucket, r.value
               FROM node n JOIN rollup_node r ON r.node_id = n.node_id AND r.grain = %(grain)s
                    AND r.bucket >= (%(start)s::timestamp AT TIME ZONE n.timezone)
                    AND r.bucket < (%(end)s::timestamp AT TIME ZONE n.timezone)
               WHERE n.node_id = ANY(%(visible)s)
                 AND (n.node_id = ANY(%(roots)s) OR n.node_id = %(own)s)),
           own AS (
               SELECT o.node_id, o.medium, o.unit, o.bucket,
                      o.value - coalesce(sum(c.value), 0) AS value
               FROM r o LEFT JOIN node cn ON cn.parent_id = o.node_id AND cn.node_id = ANY(%(roots)s)
               LEFT JOIN r c ON c.node_id = cn.node_id AND c.medium = o.medium AND c.bucket = o.bucket
               WHERE o.node_id = %(own)s
               GROUP BY o.node_id, o.medium, o.unit, o.bucket, o.value),
           rows AS (
               SELECT * FROM r WHERE node_id = ANY(%(roots)s) AND node_id IS DISTINCT FROM %(own)s
               UNION ALL SELECT * FROM own)
           SELECT rows.bucket, n.node_id, n.code, n.name_zh, n.name_en, n.level, rows.medium, rows.unit, rows.value
           FROM rows JOIN node n ON n.node_id = rows.node_id
           WHERE rows.value IS NOT NULL
           ORDER BY rows.medium, rows.unit, n.code, 1""", params).fetchall()
    frame = pd.DataFrame(rows, columns=ENERGY_COLUMNS)
    frame["bucket"] = pd.to_datetime(frame["bucket"])
    return frame.astype({"total": "float64"})


def meters_below(conn: psycopg.Connection, node_id: int, visible: list[int], start: date,
                 end: date) -> pd.DataFrame:
    """Non-virtual points at and below ``node_id`` with their total (additive) or mean (instantaneous).

    Columns: :data:`METER_COLUMNS`; ordered by medium and code. Empty when the node is not visible.
    """
    params = {"node": node_id, "visible": list(visible), **_range_params(start, end)}
    rows = conn.execute(
        """WITH RECURSIVE t AS (
               SELECT node_id FROM node WHERE node_id = %(node)s AND node_id = ANY(%(visible)s)
               UNION ALL
               SELECT n.node_id FROM node n JOIN t ON n.parent_id = t.node_id WHERE n.node_id = ANY(%(visible)s)),
           pts AS MATERIALIZED (
               SELECT p.point_id, p.code, p.name_zh, p.name_en, n.code AS node_code, p.medium, p.quantity,
                      p.unit, p.kind, pp.code AS parent_code, n.timezone
               FROM point p JOIN t ON t.node_id = p.node_id JOIN node n ON n.node_id = p.node_id
               LEFT JOIN point pp ON pp.point_id = p.parent_point_id
               WHERE p.formula IS NULL),
           b AS MATERIALIZED (
               SELECT z.timezone, %(start)s::timestamp AT TIME ZONE z.timezone AS lo,
                      %(end)s::timestamp AT TIME ZONE z.timezone AS hi
               FROM (SELECT DISTINCT timezone FROM pts) z),
           -- deltas: (lo, hi]  (labelled at interval end); instantaneous values: [lo, hi)
           agg AS (
               SELECT r.point_id, sum(r.delta) FILTER (WHERE r.ts > b.lo) AS total,
                      avg(r.value) FILTER (WHERE r.ts < b.hi) AS mean
               FROM pts JOIN b ON b.timezone = pts.timezone
               JOIN reading r ON r.point_id = pts.point_id AND r.ts >= b.lo AND r.ts <= b.hi
               GROUP BY r.point_id)
           SELECT pts.point_id, pts.code, pts.name_zh, pts.name_en, pts.node_code, pts.medium, pts.quantity,
                  pts.unit, pts.kind, pts.parent_code,
                  CASE WHEN pts.kind <> 'instantaneous' THEN agg.total END,
                  CASE WHEN pts.kind = 'instantaneous' THEN agg.mean END
           FROM pts LEFT JOIN agg ON agg.point_id = pts.point_id
           ORDER BY pts.medium, pts.code""", params).fetchall()
    return pd.DataFrame(rows, columns=METER_COLUMNS).astype({"total": "float64", "mean": "float64"})


def visible_point(conn: psycopg.Connection, point_id: int, visible: list[int]) -> dict | None:
    """One non-virtual point (keys as in ``ems.assets.store.points_frame``) if the user may see it."""
    return conn.cursor(row_factory=dict_row).execute(
        """SELECT p.point_id, p.code, n.code AS node, p.medium, p.quantity, p.unit, p.kind, p.name_zh,
                  p.name_en, n.timezone
           FROM point p JOIN node n ON n.node_id = p.node_id
           WHERE p.point_id = %s AND p.node_id = ANY(%s) AND p.formula IS NULL""",
        (point_id, list(visible))).fetchone()


def meter_series(conn: psycopg.Connection, point: dict, start: date, end: date, grain: str) -> pd.DataFrame:
    """One point (from :func:`visible_point`) bucketed in its node's zone: columns bucket (naive local), value.

    ``value`` is the interval sum for cumulative/interval points, the mean for instantaneous ones.
    """
    every = _METER_EVERY[grain]
    tz = point["timezone"]
    lo = pd.Timestamp(start).tz_localize(tz)
    hi = pd.Timestamp(end + timedelta(days=1)).tz_localize(tz)
    frame = read_point(conn, point, lo, hi, every)
    column = "mean" if point["kind"] == "instantaneous" else "delta_sum"
    out = pd.DataFrame({"bucket": frame["bucket"].dt.tz_localize(None), "value": frame[column].astype("float64")})
    return out.reset_index(drop=True)


def data_extent(conn: psycopg.Connection, visible: list[int]) -> tuple[datetime, datetime] | None:
    """First and last reading time (UTC) over the visible non-virtual points, or None without readings.

    One index probe per point (primary key (point_id, ts)), so this stays fast on large tables.
    """
    row = conn.execute(
        """SELECT min(f.ts), max(l.ts)
           FROM point p
           CROSS JOIN LATERAL (SELECT ts FROM reading r WHERE r.point_id = p.point_id ORDER BY ts LIMIT 1) f
           CROSS JOIN LATERAL (SELECT ts FROM reading r WHERE r.point_id = p.point_id
                               ORDER BY ts DESC LIMIT 1) l
           WHERE p.node_id = ANY(%s) AND p.formula IS NULL""", (list(visible),)).fetchone()
    if row is None or row[0] is None:
        return None
    return row[0], row[1]
