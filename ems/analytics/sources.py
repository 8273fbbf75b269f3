"""Read what the indicators need from the roll-ups: role-tagged points of a node's subtree, a point's
bucketed series, a node's energy per medium. I/O only; the computing is in the pure modules.

Roles are point tags (``tags: {role: chiller_plant_energy}``), set in the plant YAML; the vocabulary
is :data:`ROLES`. A role may occur on several points (e.g. one ``production_count`` per line).
"""

from __future__ import annotations

import pandas as pd
import psycopg

from ems.assets.store import points_frame
from ems.errors import UserError

ROLES = {
    "grid_import": "grid import energy meter",
    "site_electricity": "site electricity use (often a virtual meter)",
    "gas_main": "natural-gas main meter",
    "steam_supply": "purchased steam meter",
    "pv_generation": "on-site PV generation meter",
    "outdoor_temp": "outdoor dry-bulb temperature",
    "chiller_plant_energy": "chiller plant electricity (chillers, pumps, towers)",
    "cooling_energy": "delivered cooling (BTU meter)",
    "chw_supply_temp": "chilled-water supply temperature",
    "chw_return_temp": "chilled-water return temperature",
    "chw_flow": "chilled-water flow",
    "air_station_energy": "compressed-air station electricity",
    "air_flow": "compressed-air flow (free air, m3/min)",
    "air_volume": "compressed-air totaliser (free air)",
    "air_pressure": "compressed-air header pressure",
    "dryer_energy": "dryer electricity",
    "dryer_purge_flow": "dryer purge air flow",
    "production_count": "production output counter",
}


def node_info(conn: psycopg.Connection, code: str) -> dict:
    row = conn.execute("SELECT node_id, code, level, timezone, name_zh, name_en, attrs FROM node WHERE code = %s",
                       (code,)).fetchone()
    if row is None:
        raise UserError(f"no node with code '{code}' (see 'ems nodes')", where="--node")
    return dict(zip(("node_id", "code", "level", "timezone", "name_zh", "name_en", "attrs"), row))


def role_points(conn: psycopg.Connection, node_code: str) -> dict[str, list[dict]]:
    """Points below ``node_code`` by role tag, in code order."""
    out: dict[str, list[dict]] = {}
    for p in points_frame(conn, node_code):
        role = (p.get("tags") or {}).get("role")
        if role:
            out.setdefault(role, []).append(p)
    return out


def point_series(conn: psycopg.Connection, point: dict, start: pd.Timestamp, end: pd.Timestamp,
                 grain: str = "hour") -> pd.Series:
    """A point's roll-up per bucket (site-local bucket start) in [start, end): interval sums for
    additive points (in the point's unit), means for instantaneous ones. Missing buckets are absent."""
    col = "mean" if point["kind"] == "instantaneous" else "sum_delta"
    rows = conn.execute(
        f"""SELECT bucket, {col} FROM rollup_point WHERE grain = %s AND point_id = %s
            AND bucket >= %s AND bucket < %s ORDER BY bucket""", (grain, point["point_id"], start, end)).fetchall()
    idx = pd.DatetimeIndex(pd.to_datetime([r[0] for r in rows], utc=True)).tz_convert(point["timezone"])
    return pd.Series([r[1] for r in rows], index=idx, dtype="float64", name=point["code"])


def node_series(conn: psycopg.Connection, node_code: str, medium: str, start: pd.Timestamp, end: pd.Timestamp,
                grain: str = "hour") -> tuple[pd.Series, str]:
    """A node's energy of one medium per bucket (canonical unit) and that unit."""
    from ems.rollups.query import node_energy

    frame = node_energy(conn, node_code, start, end, grain, medium)
    unit = str(frame["unit"].iloc[0]) if len(frame) else ""
    return pd.Series(frame["value"].astype(float).to_numpy(), index=pd.DatetimeIndex(frame["bucket"]),
                     name=f"{node_code}:{medium}"), unit


def summed(conn: psycopg.Connection, points: list[dict], start, end, grain: str = "hour") -> pd.Series:
    """Sum of several additive points' buckets (same unit assumed; NaN where none has data)."""
    frames = [point_series(conn, p, start, end, grain) for p in points]
    if not frames:
        return pd.Series(dtype="float64")
    return pd.concat(frames, axis=1).sum(axis=1, min_count=1)


def tariff_assignments(conn: psycopg.Connection, node_code: str) -> tuple[str, list]:
    """The site a node belongs to and the site's tariff assignments (plant YAML ``tariffs:``)."""
    from ems.analytics.tariff_files import TariffAssignment

    row = conn.execute(
        """WITH RECURSIVE up AS (SELECT node_id, parent_id, code, attrs, 0 AS d FROM node WHERE code = %s
                                 UNION ALL SELECT n.node_id, n.parent_id, n.code, n.attrs, up.d + 1
                                 FROM node n JOIN up ON n.node_id = up.parent_id)
           SELECT code, attrs->'tariffs' FROM up WHERE attrs ? 'tariffs' ORDER BY d LIMIT 1""",
        (node_code,)).fetchone()
    if row is None:
        return node_code, []
    site, refs = row
    return site, [TariffAssignment(site_code=site, tariff_id=r["tariff"], valid_from=r["from"]) for r in refs]
