"""Inventories in the database: compute (draft), review, lock with a content hash, restate.

A draft is recomputed in place (lines, factor list and instrument claims replaced). Review and locked
inventories are not recomputed; a locked one is immutable (database triggers) and a newer factor or
corrected datum gives a restatement: a new revision with a line-by-line diff against the locked one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal

import psycopg
from psycopg.types.json import Jsonb

from cms import store
from cms.engine import Result, Settings, compute
from ems.errors import UserError

_KEY = ("datum_id", "scope", "scope2_method", "gas", "instrument")


def find(conn: psycopg.Connection, node: str, start: dt.date, end: dt.date) -> dict | None:
    """The latest revision of the inventory of ``node`` over [start, end)."""
    row = conn.execute(
        """SELECT i.inventory_id, i.status, i.revision, i.summary, i.content_hash, i.boundary, i.gwp_set,
                  i.fuel_factors, i.locked_by, i.locked_at, i.reviewed_by, i.reviewed_at
           FROM inventory i JOIN node n USING (node_id)
           WHERE n.code = %s AND i.period_start = %s AND i.period_end = %s ORDER BY i.revision DESC LIMIT 1""",
        (node, start, end)).fetchone()
    if row is None:
        return None
    keys = ("inventory_id", "status", "revision", "summary", "content_hash", "boundary", "gwp_set", "fuel_factors",
            "locked_by", "locked_at", "reviewed_by", "reviewed_at")
    return dict(zip(keys, row))


def run(conn: psycopg.Connection, settings: Settings, actor: str) -> Result:
    """Compute with what the database holds (no writes)."""
    lib, _ = store.library(conn)
    tree = store.tree(conn)
    nodes = tree.subtree(settings.root)
    data = store.load_activity(conn, nodes, settings.period_start, settings.period_end)
    instruments, available = store.load_instruments(conn, nodes, settings.period_start, settings.period_end)
    return compute(data, tree, lib, settings, instruments, available)


def save_draft(conn: psycopg.Connection, settings: Settings, actor: str, *, year: int | None = None,
               restate: bool = False) -> tuple[int, Result, dict | None]:
    """Compute and store the draft (new, recomputed, or a restatement of a locked one).
    Returns (inventory id, result, diff against the restated inventory or None)."""
    s = settings
    existing = find(conn, s.root, s.period_start, s.period_end)
    if existing and existing["status"] == "review":
        raise UserError(f"inventory {existing['inventory_id']} is in review; send it back to draft or lock it",
                        where="--node")
    if existing and existing["status"] == "locked" and not restate:
        raise UserError(f"inventory {existing['inventory_id']} is locked; use --restate for a new revision",
                        where="--node")
    lib, pks = store.library(conn)
    result = run(conn, s, actor)
    node_id = store.node_ids(conn)[s.root]
    with conn.transaction():
        store.set_actor(conn, actor)
        summary = result.summary()
        if existing and existing["status"] == "draft":
            inv = existing["inventory_id"]
            for table in ("inventory_line", "inventory_factor", "inventory_claim"):
                conn.execute(f"DELETE FROM {table} WHERE inventory_id = %s", (inv,))
            conn.execute("""UPDATE inventory SET boundary = %s, gwp_set = %s, fuel_factors = %s, summary = %s,
                            computed_at = now(), year = %s WHERE inventory_id = %s""",
                         (s.approach, s.gwp_set, s.fuel_family, Jsonb(summary), year, inv))
        else:
            revision = existing["revision"] + 1 if existing else 1
            inv = conn.execute(
                """INSERT INTO inventory (node_id, year, period_start, period_end, boundary, gwp_set, fuel_factors,
                                          revision, restates, summary, created_by)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING inventory_id""",
                (node_id, year, s.period_start, s.period_end, s.approach, s.gwp_set, s.fuel_family, revision,
                 existing["inventory_id"] if existing else None, Jsonb(summary), actor)).fetchone()[0]
        _write_lines(conn, inv, result, pks)
    diff = restatement_diff(conn, existing["inventory_id"], inv) if existing and existing["status"] == "locked" else None
    return inv, result, diff


def _write_lines(conn, inv: int, result: Result, pks: dict) -> None:
    inst_ids = dict(conn.execute("SELECT code, instrument_id FROM instrument").fetchall())
    used: set[int] = set()
    rows = []
    for line in result.lines:
        rec = line.record()
        for ref in line.factor_refs:
            used.add(pks[(ref["id"], ref["version"])])
        fpk = pks.get((line.factor_id, line.factor_version)) if line.factor_id else None
        rows.append((inv, line.line_no, line.datum_id, line.node, line.entity, line.share, line.period_start,
                     line.period_end, line.scope, line.scope2_method, line.category, line.method, line.activity,
                     line.activity_quantity, line.activity_unit, line.gas, line.gas_group, line.gas_mass_kg, line.gwp,
                     line.co2e_kg, line.gross_co2e_kg, fpk, line.factor_id, line.factor_version,
                     inst_ids.get(line.instrument) if line.instrument else None, Jsonb(rec)))
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO inventory_line (inventory_id, line_no, datum_id, node_code, entity_code, share, period_start,
                   period_end, scope, scope2_method, category, method, activity, activity_quantity, activity_unit, gas,
                   gas_group, gas_mass_kg, gwp, co2e_kg, gross_co2e_kg, factor_pk, factor_id, factor_version,
                   instrument_id, record)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,
                       %s, %s)""", rows)
        cur.executemany("INSERT INTO inventory_factor (inventory_id, factor_pk) VALUES (%s, %s)",
                        [(inv, pk) for pk in sorted(used)])
    _write_claims(conn, inv, result)


def _write_claims(conn, inv: int, result: Result) -> None:
    """One claim per instrument, plant and period, shared by the inventories that cover them (a claim used
    by a locked inventory is never changed); then claims no inventory uses any more are dropped."""
    s = result.settings
    for code, mwh in sorted(result.claims.items()):
        if mwh <= 0:
            continue
        inst_id, node_id = conn.execute("SELECT instrument_id, node_id FROM instrument WHERE code = %s",
                                        (code,)).fetchone()
        row = conn.execute(
            """SELECT c.claim_id, c.mwh, EXISTS (SELECT 1 FROM inventory_claim x JOIN inventory v USING (inventory_id)
                                                WHERE x.claim_id = c.claim_id AND v.status = 'locked')
               FROM instrument_claim c WHERE instrument_id = %s AND node_id = %s AND period_start = %s
                 AND period_end = %s""", (inst_id, node_id, s.period_start, s.period_end)).fetchone()
        if row is None:
            claim = conn.execute(
                """INSERT INTO instrument_claim (instrument_id, node_id, period_start, period_end, mwh)
                   VALUES (%s, %s, %s, %s, %s) RETURNING claim_id""",
                (inst_id, node_id, s.period_start, s.period_end, mwh)).fetchone()[0]
        else:
            claim = row[0]
            if row[1] != mwh and not row[2]:
                conn.execute("UPDATE instrument_claim SET mwh = %s, claimed_at = now() WHERE claim_id = %s", (mwh, claim))
        conn.execute("INSERT INTO inventory_claim (inventory_id, claim_id, mwh) VALUES (%s, %s, %s)", (inv, claim, mwh))
    conn.execute("""DELETE FROM instrument_claim c
                    WHERE NOT EXISTS (SELECT 1 FROM inventory_claim x WHERE x.claim_id = c.claim_id)""")


def lines(conn: psycopg.Connection, inv: int) -> list[dict]:
    return [r[0] for r in conn.execute("SELECT record FROM inventory_line WHERE inventory_id = %s ORDER BY line_no",
                                       (inv,))]


def content_hash(conn: psycopg.Connection, inv: int) -> str:
    """SHA-256 of the inventory header, factor versions, instrument claims and ledger lines (canonical JSON)."""
    head = conn.execute(
        """SELECT n.code, i.period_start::text, i.period_end::text, i.boundary, i.gwp_set, i.fuel_factors, i.revision
           FROM inventory i JOIN node n USING (node_id) WHERE inventory_id = %s""", (inv,)).fetchone()
    factors = [list(r) for r in conn.execute(
        """SELECT f.factor_id, f.version, f.value::text FROM inventory_factor x JOIN factor f USING (factor_pk)
           WHERE x.inventory_id = %s ORDER BY f.factor_id, f.version""", (inv,))]
    claims = [list(r) for r in conn.execute(
        """SELECT i.code, c.period_start::text, c.period_end::text, x.mwh::text FROM inventory_claim x
           JOIN instrument_claim c USING (claim_id) JOIN instrument i USING (instrument_id)
           WHERE x.inventory_id = %s ORDER BY i.code""", (inv,))]
    doc = {"header": list(head), "factors": factors, "claims": claims, "lines": lines(conn, inv)}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()


def review(conn: psycopg.Connection, inv: dict, actor: str) -> None:
    if inv["status"] != "draft":
        raise UserError(f"inventory {inv['inventory_id']} is {inv['status']}, not a draft", where="--node")
    conn.execute("UPDATE inventory SET status = 'review', reviewed_by = %s, reviewed_at = now() WHERE inventory_id = %s",
                 (actor, inv["inventory_id"]))


def lock(conn: psycopg.Connection, inv: dict, actor: str) -> str:
    """Lock (a draft is moved through review by the same person, and the summary says so). Returns the hash."""
    if inv["status"] == "locked":
        raise UserError(f"inventory {inv['inventory_id']} is already locked (hash {inv['content_hash']})", where="--node")
    with conn.transaction():
        if inv["status"] == "draft":
            review(conn, inv, actor)
            conn.execute("""UPDATE inventory SET summary = jsonb_set(summary, '{notes}', coalesce(summary->'notes', '[]')
                            || to_jsonb('locked without a separate review step (reviewer = locker)'::text))
                            WHERE inventory_id = %s""", (inv["inventory_id"],))
        digest = content_hash(conn, inv["inventory_id"])
        conn.execute("""UPDATE inventory SET status = 'locked', locked_by = %s, locked_at = now(), content_hash = %s,
                        summary = summary || jsonb_build_object('status', 'locked', 'content_hash', %s::text)
                        WHERE inventory_id = %s""", (actor, digest, digest, inv["inventory_id"]))
    return digest


def restatement_diff(conn: psycopg.Connection, old: int, new: int) -> list[dict]:
    """Line-by-line CO2e differences between two inventories (keyed by datum, scope, method, gas, instrument)."""
    def index(inv):
        out: dict[tuple, Decimal] = {}
        for rec in lines(conn, inv):
            key = tuple(rec.get(k) for k in _KEY)
            out[key] = out.get(key, Decimal(0)) + Decimal(rec["co2e_kg"])
        return out
    a, b = index(old), index(new)
    diff = []
    for key in sorted(set(a) | set(b), key=lambda k: tuple(str(x) for x in k)):
        before, after = a.get(key, Decimal(0)), b.get(key, Decimal(0))
        if before != after:
            diff.append({**dict(zip(_KEY, key)), "before_kgco2e": str(before), "after_kgco2e": str(after),
                         "change_kgco2e": str(after - before)})
    return diff
