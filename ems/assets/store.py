"""Write a loaded asset model into the database and read the tree back.

Loading is an upsert by code: the same file again changes nothing; a changed file updates nodes
and points in place (readings keep their point ids). Nodes and points missing from the file are
kept (their readings matter) and reported. A point's unit cannot change once it has readings,
because stored values are in that unit.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg.types.json import Jsonb

from ems.assets.loader import AssetModel, FlatNode, FlatPoint
from ems.errors import UserError, location


@dataclass
class LoadReport:
    nodes_added: list[str] = field(default_factory=list)
    nodes_updated: list[str] = field(default_factory=list)
    points_added: list[str] = field(default_factory=list)
    points_updated: list[str] = field(default_factory=list)
    not_in_file: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.nodes_added or self.nodes_updated or self.points_added or self.points_updated)

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items()}


_NODE_COLS = ("parent_id", "level", "name_zh", "name_en", "timezone", "grid_region", "ownership_share",
              "operational_control", "financial_control", "attrs")
_POINT_COLS = ("node_id", "name_zh", "name_en", "medium", "quantity", "unit", "kind", "interval_s",
               "parent_point_id", "formula", "min_value", "max_value", "max_rate_per_h", "register_max", "tags")


def _node_row(n: FlatNode, parent_id: int | None) -> dict:
    return {"parent_id": parent_id, "level": n.level, "name_zh": n.name_zh, "name_en": n.name_en,
            "timezone": n.timezone, "grid_region": n.grid_region, "ownership_share": round(n.ownership_share, 6),
            "operational_control": n.operational_control, "financial_control": n.financial_control,
            "attrs": n.attrs}


def _point_row(p: FlatPoint, node_id: int, parent_point_id: int | None) -> dict:
    s = p.spec
    return {"node_id": node_id, "name_zh": s.name.zh, "name_en": s.name.en, "medium": s.medium,
            "quantity": s.quantity, "unit": s.unit, "kind": s.kind, "interval_s": s.interval_s,
            "parent_point_id": parent_point_id, "formula": s.formula, "min_value": s.min, "max_value": s.max,
            "max_rate_per_h": s.max_rate_per_h, "register_max": s.register_max, "tags": dict(s.tags)}


def _same(row: dict, stored: dict) -> bool:
    for key, value in row.items():
        old = stored[key]
        if isinstance(value, float) and old is not None:
            if abs(float(old) - value) > 1e-9:
                return False
        elif key in ("attrs", "tags"):
            if json.loads(json.dumps(value)) != old:
                return False
        elif value != old:
            return False
    return True


def _adapt(row: dict) -> dict:
    return {k: Jsonb(v) if k in ("attrs", "tags") else v for k, v in row.items()}


def load_asset_model(conn: psycopg.Connection, model: AssetModel) -> LoadReport:
    """Upsert the model in one transaction; return what changed."""
    report = LoadReport()
    with conn.transaction():
        cur = conn.cursor(row_factory=psycopg.rows.dict_row)
        stored_nodes = {r["code"]: r for r in cur.execute(
            f"SELECT node_id, code, {', '.join(_NODE_COLS)} FROM node")}
        node_ids = {code: r["node_id"] for code, r in stored_nodes.items()}
        for n in model.nodes:  # parents come before children (tree order)
            row = _node_row(n, node_ids.get(n.parent_code) if n.parent_code else None)
            old = stored_nodes.get(n.code)
            if old is None:
                cols = ", ".join(row)
                vals = ", ".join(f"%({k})s" for k in row)
                node_ids[n.code] = cur.execute(
                    f"INSERT INTO node (code, {cols}, source_file) VALUES (%(code)s, {vals}, %(file)s) RETURNING node_id",
                    {**_adapt(row), "code": n.code, "file": model.file}).fetchone()["node_id"]
                report.nodes_added.append(n.code)
            elif not _same(row, old):
                sets = ", ".join(f"{k} = %({k})s" for k in row)
                cur.execute(f"UPDATE node SET {sets}, source_file = %(file)s, updated_at = now() WHERE node_id = %(id)s",
                            {**_adapt(row), "id": old["node_id"], "file": model.file})
                report.nodes_updated.append(n.code)

        stored_points = {r["code"]: r for r in cur.execute(
            f"SELECT point_id, code, {', '.join(_POINT_COLS)} FROM point")}
        point_ids = {code: r["point_id"] for code, r in stored_points.items()}
        with_readings = {r["point_id"] for r in cur.execute(
            "SELECT DISTINCT point_id FROM reading WHERE point_id = ANY(%s)", ([*point_ids.values()],))}
        pending_parents: list[tuple[str, str]] = []
        for p in model.points:
            row = _point_row(p, node_ids[p.node_code], point_ids.get(p.spec.parent) if p.spec.parent else None)
            old = stored_points.get(p.spec.code)
            if p.spec.parent and p.spec.parent not in point_ids:
                pending_parents.append((p.spec.code, p.spec.parent))
            if old is None:
                cols = ", ".join(row)
                vals = ", ".join(f"%({k})s" for k in row)
                point_ids[p.spec.code] = cur.execute(
                    f"INSERT INTO point (code, {cols}, source_file) VALUES (%(code)s, {vals}, %(file)s) RETURNING point_id",
                    {**_adapt(row), "code": p.spec.code, "file": model.file}).fetchone()["point_id"]
                report.points_added.append(p.spec.code)
            elif not _same(row, old):
                if row["unit"] != old["unit"] and old["point_id"] in with_readings:
                    raise UserError(
                        f"point '{p.spec.code}': unit changed from '{old['unit']}' to '{row['unit']}' but readings "
                        "are stored in the old unit; keep the unit and map the export's unit in the tag mapping instead",
                        where=location(model.file, p.line, "unit"))
                sets = ", ".join(f"{k} = %({k})s" for k in row)
                cur.execute(f"UPDATE point SET {sets}, source_file = %(file)s, updated_at = now() WHERE point_id = %(id)s",
                            {**_adapt(row), "id": old["point_id"], "file": model.file})
                report.points_updated.append(p.spec.code)
        for code, parent in pending_parents:  # parent meter defined later in the file
            cur.execute("UPDATE point SET parent_point_id = %s WHERE code = %s", (point_ids[parent], code))

        in_file = {n.code for n in model.nodes} | {p.spec.code for p in model.points}
        report.not_in_file = sorted((set(stored_nodes) | set(stored_points)) - in_file)
        if report.changed:
            sha = hashlib.sha256(Path(model.file).read_bytes()).hexdigest()
            cur.execute("INSERT INTO config_load (file, file_sha256, changes) VALUES (%s, %s, %s)",
                        (model.file, sha, Jsonb(report.as_dict())))
    return report


def node_tree(conn: psycopg.Connection) -> list[dict]:
    """All nodes in depth-first order, root first, with their depth."""
    return list(conn.cursor(row_factory=psycopg.rows.dict_row).execute(
        """WITH RECURSIVE t AS (
               SELECT node_id, code, parent_id, level, name_zh, name_en, timezone, 0 AS depth,
                      ARRAY[code] AS path
               FROM node WHERE parent_id IS NULL
               UNION ALL
               SELECT n.node_id, n.code, n.parent_id, n.level, n.name_zh, n.name_en, n.timezone, t.depth + 1,
                      t.path || n.code
               FROM node n JOIN t ON n.parent_id = t.node_id)
           SELECT node_id, code, parent_id, level, name_zh, name_en, timezone, depth FROM t ORDER BY path"""))


def subtree_node_ids(conn: psycopg.Connection, code: str) -> list[int]:
    """Ids of the node ``code`` and everything below it. UserError if there is no such node."""
    rows = conn.execute(
        """WITH RECURSIVE t AS (SELECT node_id FROM node WHERE code = %s
               UNION ALL SELECT n.node_id FROM node n JOIN t ON n.parent_id = t.node_id)
           SELECT node_id FROM t""", (code,)).fetchall()
    if not rows:
        raise UserError(f"no node with code '{code}' (see 'ems nodes')")
    return [r[0] for r in rows]


def points_frame(conn: psycopg.Connection, node_code: str | None = None) -> list[dict]:
    """Points (optionally below one node) with their node code, ordered by code."""
    params: tuple = ()
    where = ""
    if node_code:
        where = "WHERE p.node_id = ANY(%s)"
        params = (subtree_node_ids(conn, node_code),)
    return list(conn.cursor(row_factory=psycopg.rows.dict_row).execute(
        f"""SELECT p.point_id, p.code, n.code AS node, p.medium, p.quantity, p.unit, p.kind, p.interval_s,
                   pp.code AS parent, p.formula, p.min_value, p.max_value, p.max_rate_per_h, p.register_max,
                   p.name_zh, p.name_en, n.timezone, p.tags
            FROM point p JOIN node n USING (node_id) LEFT JOIN point pp ON pp.point_id = p.parent_point_id
            {where} ORDER BY p.code""", params))
