"""Database I/O of the carbon core: factors (sync, import, list), the node tree, activity data and the
instrument register. Inventories are in cms.inventory_store."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import psycopg

from cms.activities import ActivityDatum
from cms.boundary import Node, Tree
from cms.factors import Factor, Library, load_file, load_library
from cms.instruments import Instrument
from ems.errors import UserError

_FCOLS = ("factor_id", "version", "kind", "family", "activity", "region", "gas", "gas_basis", "value", "unit",
          "series", "gwp_set", "data_year", "valid_from", "valid_to", "source", "publication", "firmness", "notes",
          "origin")


def _frow(f: Factor) -> tuple:
    return (f.id, f.version, f.kind, f.family, f.activity, f.region, f.gas, f.gas_basis, f.value, f.unit, f.series,
            f.gwp_set, f.data_year, f.valid_from, f.valid_to, f.source, f.publication, f.firmness, f.notes, f.origin)


def _factor(row) -> Factor:
    d = dict(zip(_FCOLS, row))
    return Factor(id=d["factor_id"], version=d["version"], kind=d["kind"], family=d["family"], activity=d["activity"],
                  region=d["region"], value=Decimal(d["value"]), unit=d["unit"], source=d["source"],
                  firmness=d["firmness"], gas=d["gas"], gas_basis=d["gas_basis"], series=d["series"],
                  gwp_set=d["gwp_set"], data_year=d["data_year"], valid_from=d["valid_from"], valid_to=d["valid_to"],
                  publication=d["publication"], notes=d["notes"], origin=d["origin"])


def set_actor(conn: psycopg.Connection, actor: str, reason: str = "") -> None:
    """Who is changing things, for the audit log triggers (transaction- or session-local setting)."""
    conn.execute("SELECT set_config('cms.actor', %s, false), set_config('cms.reason', %s, false)", (actor, reason))


def _insert_factor(conn, f: Factor) -> int:
    cols = ", ".join(_FCOLS)
    marks = ", ".join(["%s"] * len(_FCOLS))
    return conn.execute(f"INSERT INTO factor ({cols}) VALUES ({marks}) RETURNING factor_pk", _frow(f)).fetchone()[0]


def _mark_superseded(conn) -> None:
    conn.execute(
        """UPDATE factor o SET superseded_by = n.factor_pk
           FROM factor n WHERE n.factor_id = o.factor_id AND n.version = (SELECT max(version) FROM factor x
                                                                        WHERE x.factor_id = o.factor_id)
             AND o.version < n.version AND o.superseded_by IS DISTINCT FROM n.factor_pk""")


def sync_builtin(conn: psycopg.Connection) -> int:
    """Insert the built-in factor versions the database lacks (never changes a stored one). Returns count."""
    lib = load_library()
    have = {(r[0], r[1]) for r in conn.execute("SELECT factor_id, version FROM factor")}
    n = 0
    with conn.transaction():
        for f in lib.factors:
            if f.key not in have:
                _insert_factor(conn, f)
                n += 1
        if n:
            _mark_superseded(conn)
    return n


def import_factors(conn: psycopg.Connection, path: Path | str, actor: str, reason: str = "") -> dict[str, int]:
    """Import a factor YAML file: new versions are added (superseding older ones); a changed existing
    version is updated with an audit record unless a locked inventory uses it (then: UserError)."""
    factors, _ = load_file(path)
    stats = {"added": 0, "updated": 0, "unchanged": 0}
    sync_builtin(conn)
    with conn.transaction():
        set_actor(conn, actor, reason or f"import {path}")
        for f in factors:
            row = conn.execute(f"SELECT {', '.join(_FCOLS)} FROM factor WHERE factor_id = %s AND version = %s",
                               f.key).fetchone()
            if row is None:
                _insert_factor(conn, f)
                stats["added"] += 1
                continue
            old = _factor(row)
            if old.as_record() == f.as_record():
                stats["unchanged"] += 1
                continue
            try:
                with conn.transaction():
                    sets = ", ".join(f"{c} = %s" for c in _FCOLS)
                    conn.execute(f"UPDATE factor SET {sets} WHERE factor_id = %s AND version = %s", (*_frow(f), *f.key))
            except psycopg.errors.IntegrityConstraintViolation as exc:
                raise UserError(f"factor {f.id} version {f.version} is used by a locked inventory and cannot change; "
                                f"import the new value as version {f.version + 1}", where=str(path)) from exc
            stats["updated"] += 1
        _mark_superseded(conn)
    return stats


def db_factors(conn: psycopg.Connection) -> list[tuple[int, Factor, int | None]]:
    rows = conn.execute(f"SELECT factor_pk, superseded_by, {', '.join(_FCOLS)} FROM factor ORDER BY factor_id, version")
    return [(r[0], _factor(r[2:]), r[1]) for r in rows]


def library(conn: psycopg.Connection) -> tuple[Library, dict[tuple[str, int], int]]:
    """The library as stored in the database (built-ins synced first) and the (id, version) -> factor_pk map."""
    sync_builtin(conn)
    rows = db_factors(conn)
    lib = load_library(extra=[f for _, f, _ in rows])
    return lib, {f.key: pk for pk, f, _ in rows}


def tree(conn: psycopg.Connection) -> Tree:
    rows = conn.execute(
        """SELECT n.code, p.code, n.level, n.ownership_share, n.operational_control, n.financial_control, n.grid_region
           FROM node n LEFT JOIN node p ON p.node_id = n.parent_id""").fetchall()
    return Tree([Node(c, p, lv, Decimal(s), oc, fc, g) for c, p, lv, s, oc, fc, g in rows])


def node_ids(conn: psycopg.Connection) -> dict[str, int]:
    return dict(conn.execute("SELECT code, node_id FROM node").fetchall())


def insert_activity(conn: psycopg.Connection, data: list[ActivityDatum], *, source: str, entered_by: str,
                    file: str | None = None, sha256: str | None = None) -> int:
    """Store activity data in one batch; returns the batch id."""
    ids = node_ids(conn)
    with conn.transaction():
        batch = conn.execute("INSERT INTO activity_batch (source, file, file_sha256, entered_by, rows_in) "
                             "VALUES (%s, %s, %s, %s, %s) RETURNING batch_id",
                             (source, file, sha256, entered_by, len(data))).fetchone()[0]
        with conn.cursor() as cur:
            cur.executemany(
                """INSERT INTO activity_datum (node_id, period_start, period_end, activity, quantity, unit, evidence,
                                               entered_by, source, batch_id, line_no)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                [(ids[d.node], d.period_start, d.period_end, d.activity, d.quantity, d.unit, d.evidence,
                  d.entered_by or entered_by, source, batch, d.datum_id if source == "csv" else None) for d in data])
    return batch


def load_activity(conn: psycopg.Connection, nodes: set[str], start: dt.date, end: dt.date) -> list[ActivityDatum]:
    rows = conn.execute(
        """SELECT a.datum_id, n.code, a.period_start, a.period_end, a.activity, a.quantity, a.unit, a.evidence,
                  a.source, a.entered_by, a.batch_id
           FROM activity_datum a JOIN node n USING (node_id)
           WHERE n.code = ANY(%s) AND a.period_start < %s AND a.period_end > %s
           ORDER BY a.period_start, n.code, a.activity, a.datum_id""", (sorted(nodes), end, start)).fetchall()
    return [ActivityDatum(node=c, period_start=s, period_end=e, activity=a, quantity=q, unit=u, evidence=ev,
                          source=src, entered_by=by, datum_id=i, batch=str(b) if b else None)
            for i, c, s, e, a, q, u, ev, src, by, b in rows]


def insert_instruments(conn: psycopg.Connection, items: list[Instrument], entered_by: str, file: str, sha256: str) -> int:
    ids = node_ids(conn)
    with conn.transaction():
        batch = conn.execute("INSERT INTO activity_batch (source, file, file_sha256, entered_by, rows_in) "
                             "VALUES ('csv', %s, %s, %s, %s) RETURNING batch_id",
                             (file, sha256, entered_by, len(items))).fetchone()[0]
        dup = conn.execute("SELECT code FROM instrument WHERE code = ANY(%s)", ([i.code for i in items],)).fetchall()
        if dup:
            raise UserError(f"instrument(s) already registered: {', '.join(r[0] for r in dup)}; nothing imported",
                            where=file)
        with conn.cursor() as cur:
            cur.executemany(
                """INSERT INTO instrument (code, kind, node_id, mwh, vintage, period_start, period_end, registry, serials,
                                           retired_on, qc_met, attributes_sold, evidence, entered_by, batch_id)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                [(i.code, i.kind, ids[i.node], i.mwh, i.vintage, i.period_start, i.period_end, i.registry, i.serials,
                  i.retired_on, i.qc_met, i.attributes_sold, i.evidence, entered_by, batch) for i in items])
    return batch


def load_instruments(conn: psycopg.Connection, nodes: set[str], start: dt.date, end: dt.date
                     ) -> tuple[list[Instrument], dict[str, Decimal]]:
    """Instruments of the given nodes and the MWh available to them for [start, end): the volume minus the
    claims for other plants or periods. The claim of the same plant and period is shared by every inventory
    covering them, so it does not count against itself; when a locked inventory uses it, it is frozen and
    exactly its MWh are available."""
    rows = conn.execute(
        """SELECT i.instrument_id, i.code, i.kind, n.code, i.mwh, i.vintage, i.period_start, i.period_end, i.registry,
                  i.serials, i.retired_on, i.qc_met, i.attributes_sold, i.evidence,
                  i.mwh - coalesce((SELECT sum(c.mwh) FROM instrument_claim c WHERE c.instrument_id = i.instrument_id
                                    AND NOT (c.node_id = i.node_id AND c.period_start = %s AND c.period_end = %s)), 0),
                  (SELECT c.mwh FROM instrument_claim c WHERE c.instrument_id = i.instrument_id AND c.node_id = i.node_id
                     AND c.period_start = %s AND c.period_end = %s
                     AND EXISTS (SELECT 1 FROM inventory_claim x JOIN inventory v USING (inventory_id)
                                 WHERE x.claim_id = c.claim_id AND v.status = 'locked'))
           FROM instrument i JOIN node n USING (node_id) WHERE n.code = ANY(%s) ORDER BY i.code""",
        (start, end, start, end, sorted(nodes))).fetchall()
    items = [Instrument(code=r[1], kind=r[2], node=r[3], mwh=r[4], vintage=r[5], period_start=r[6], period_end=r[7],
                        registry=r[8], serials=r[9], retired_on=r[10], qc_met=r[11], attributes_sold=r[12],
                        evidence=r[13], instrument_id=r[0]) for r in rows]
    return items, {r[1]: (r[15] if r[15] is not None else r[14]) for r in rows}
