"""Store target sets, reduction projects and offset credits (tables of sql/007_targets.sql).

Small functions over a psycopg connection in autocommit mode; each write that must be atomic runs in
``conn.transaction()``. Node codes must exist in the ``node`` table; a missing one is a UserError.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import psycopg
from psycopg.types.json import Jsonb

from cms.targets import TargetSet
from cms.targets_assets import OffsetLot, Project, Retirement
from ems.errors import UserError


def _require_nodes(conn: psycopg.Connection, codes: set[str], where: str) -> None:
    known = {r[0] for r in conn.execute("SELECT code FROM node WHERE code = ANY(%s)", (sorted(codes),))}
    missing = sorted(codes - known)
    if missing:
        raise UserError(f"unknown node code(s): {', '.join(missing)} (load the plant model first; see 'ems nodes')",
                        where=where)


def save_target_set(conn: psycopg.Connection, ts: TargetSet, source_file: str | None = None) -> tuple[int, bool]:
    """Insert or replace a target set; returns (version, changed). The same definition again changes nothing."""
    _require_nodes(conn, {ts.node, *ts.plants}, source_file or ts.id)
    definition = ts.model_dump(mode="json")
    sha = hashlib.sha256(Path(source_file).read_bytes()).hexdigest() if source_file else None
    with conn.transaction():
        row = conn.execute("SELECT version, definition FROM target_set WHERE target_set_id = %s FOR UPDATE",
                           (ts.id,)).fetchone()
        if row is not None and row[1] == json.loads(json.dumps(definition)):
            return row[0], False
        version = 1 if row is None else row[0] + 1
        conn.execute(
            """INSERT INTO target_set (target_set_id, node_code, name, base_year, scope, allocation, version,
                                       definition, source_file, file_sha256)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (target_set_id) DO UPDATE SET node_code = EXCLUDED.node_code, name = EXCLUDED.name,
                   base_year = EXCLUDED.base_year, scope = EXCLUDED.scope, allocation = EXCLUDED.allocation,
                   version = EXCLUDED.version, definition = EXCLUDED.definition,
                   source_file = EXCLUDED.source_file, file_sha256 = EXCLUDED.file_sha256, updated_at = now()""",
            (ts.id, ts.node, ts.name, ts.base_year, list(ts.scope), ts.allocation, version, Jsonb(definition),
             source_file, sha))
        conn.execute("DELETE FROM target_plant WHERE target_set_id = %s", (ts.id,))
        conn.execute("DELETE FROM target_milestone WHERE target_set_id = %s", (ts.id,))
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO target_plant (target_set_id, plant_code, base_emissions_tco2e, share, denominators) "
                "VALUES (%s, %s, %s, %s, %s)",
                [(ts.id, code, p.emissions_tco2e, p.share, Jsonb(p.denominators)) for code, p in ts.plants.items()])
            cur.executemany(
                "INSERT INTO target_milestone (target_set_id, line_id, metric, denominator_name, denominator_unit, "
                "year, kind, reduction_pct) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                [(ts.id, line.id, line.metric, line.denominator.name if line.denominator else None,
                  line.denominator.unit if line.denominator else None, m.year, m.kind, m.reduction_pct)
                 for line in ts.targets for m in line.milestones])
    return version, True


def load_target_set(conn: psycopg.Connection, target_set_id: str) -> TargetSet:
    row = conn.execute("SELECT definition FROM target_set WHERE target_set_id = %s", (target_set_id,)).fetchone()
    if row is None:
        raise UserError(f"no target set '{target_set_id}' (load one with 'ems target set FILE')")
    return TargetSet.model_validate(row[0])


def target_sets_for_node(conn: psycopg.Connection, node_code: str) -> list[TargetSet]:
    """Target sets owned by the node or covering it as a plant, in id order."""
    rows = conn.execute(
        """SELECT definition FROM target_set s WHERE s.node_code = %s
              OR EXISTS (SELECT 1 FROM target_plant p WHERE p.target_set_id = s.target_set_id AND p.plant_code = %s)
           ORDER BY s.target_set_id""", (node_code, node_code)).fetchall()
    return [TargetSet.model_validate(r[0]) for r in rows]


_PROJECT_COLS = ("project_id", "node_code", "name", "status", "medium", "unit", "expected_saving",
                 "realised_saving", "factor_tco2e_per_unit", "expected_tco2e", "realised_tco2e", "start_date",
                 "end_date")


def save_project(conn: psycopg.Connection, p: Project) -> None:
    """Insert or update a reduction project by id."""
    _require_nodes(conn, {p.node}, f"project '{p.id}'")
    values = (p.id, p.node, p.name, p.status, p.medium, p.unit, p.expected_saving, p.realised_saving,
              p.factor_tco2e_per_unit, p.expected_tco2e, p.realised_tco2e, p.start, p.end)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in _PROJECT_COLS[1:])
    conn.execute(f"INSERT INTO reduction_project ({', '.join(_PROJECT_COLS)}) "
                 f"VALUES ({', '.join(['%s'] * len(_PROJECT_COLS))}) "
                 f"ON CONFLICT (project_id) DO UPDATE SET {updates}, updated_at = now()", values)


def list_projects(conn: psycopg.Connection, node_code: str | None = None) -> list[Project]:
    sql = f"SELECT {', '.join(_PROJECT_COLS)} FROM reduction_project"
    rows = conn.execute(sql + (" WHERE node_code = %s" if node_code else "") + " ORDER BY project_id",
                        (node_code,) if node_code else ()).fetchall()
    keys = ("id", "node", "name", "status", "medium", "unit", "expected_saving", "realised_saving",
            "factor_tco2e_per_unit", "expected_tco2e", "realised_tco2e", "start", "end")
    return [Project(**dict(zip(keys, r))) for r in rows]


def add_offset_lot(conn: psycopg.Connection, lot: OffsetLot) -> None:
    try:
        conn.execute(
            "INSERT INTO offset_lot (lot_id, standard, quantity_tco2e, vintage, project, registry, serial, "
            "bought_on, price_cny_per_t) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (lot.id, lot.standard, lot.quantity_tco2e, lot.vintage, lot.project, lot.registry, lot.serial,
             lot.bought_on, lot.price_cny_per_t))
    except psycopg.errors.UniqueViolation as exc:
        raise UserError(f"offset lot '{lot.id}' exists already", where="id") from exc


def retire_offsets(conn: psycopg.Connection, r: Retirement) -> int:
    """Record a retirement against a plant and year; refuses to retire more than the lot holds."""
    _require_nodes(conn, {r.plant}, f"retirement of lot '{r.lot_id}'")
    try:
        with conn.transaction():
            row = conn.execute(
                "INSERT INTO offset_retirement (lot_id, plant_code, year, quantity_tco2e, retired_on, serial, note) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING retirement_id",
                (r.lot_id, r.plant, r.year, r.quantity_tco2e, r.retired_on, r.serial, r.note)).fetchone()
    except psycopg.errors.ForeignKeyViolation as exc:
        raise UserError(f"no offset lot '{r.lot_id}'", where="lot_id") from exc
    except psycopg.errors.CheckViolation as exc:
        raise UserError(str(exc.diag.message_primary), where="quantity_tco2e") from exc
    return row[0]


def offset_lots(conn: psycopg.Connection) -> list[OffsetLot]:
    rows = conn.execute("SELECT lot_id, standard, quantity_tco2e, vintage, project, registry, serial, bought_on, "
                        "price_cny_per_t FROM offset_lot ORDER BY lot_id").fetchall()
    keys = ("id", "standard", "quantity_tco2e", "vintage", "project", "registry", "serial", "bought_on",
            "price_cny_per_t")
    return [OffsetLot(**{k: (float(v) if k in ("quantity_tco2e", "price_cny_per_t") and v is not None else v)
                         for k, v in zip(keys, r)}) for r in rows]


def retirements(conn: psycopg.Connection, plant: str | None = None, year: int | None = None) -> list[Retirement]:
    rows = conn.execute(
        "SELECT lot_id, plant_code, year, quantity_tco2e, retired_on, serial, note FROM offset_retirement "
        "WHERE (%(p)s::text IS NULL OR plant_code = %(p)s) AND (%(y)s::int IS NULL OR year = %(y)s) "
        "ORDER BY retirement_id", {"p": plant, "y": year}).fetchall()
    keys = ("lot_id", "plant", "year", "quantity_tco2e", "retired_on", "serial", "note")
    return [Retirement(**{k: (float(v) if k == "quantity_tco2e" else v) for k, v in zip(keys, r)}) for r in rows]
