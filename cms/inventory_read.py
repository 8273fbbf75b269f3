"""Read a stored inventory with everything an auditor export needs (the export itself lives elsewhere).

``read_inventory`` returns plain dicts/lists (JSON-able apart from dates and Decimals):

- ``header``: organisation node, period, boundary approach, GWP set, fuel-factor family, revision, status,
  preparer / reviewer / locker with timestamps, content hash (and whether it still verifies);
- ``summary``: the engine's totals (Scope 1, Scope 2 location and market, by gas, plant, category, month);
- ``lines``: the ledger, one record per line, joined with its activity datum's batch (file, sha256);
- ``factors``: every factor version used, with value, unit, source, publication, data year and firmness;
- ``instruments``: the register rows of the instruments claimed, with the MWh claimed by this inventory;
- ``boundary``: the nodes with their ownership share and control flags;
- ``change_log``: factor audit entries for the factors used, activity batches used, and the inventories
  this one restates or is restated by.
"""

from __future__ import annotations

import datetime as dt

import psycopg

from cms import inventory_store
from ems.errors import UserError


def _rows(cur) -> list[dict]:
    names = [d.name for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def read_inventory(conn: psycopg.Connection, node: str, start: dt.date, end: dt.date,
                   revision: int | None = None) -> dict:
    header = _rows(conn.execute(
        """SELECT i.inventory_id, n.code AS node, n.name_en, n.name_zh, i.year, i.period_start, i.period_end,
                  i.boundary, i.gwp_set, i.fuel_factors, i.revision, i.restates, i.status, i.created_by, i.created_at,
                  i.computed_at, i.reviewed_by, i.reviewed_at, i.locked_by, i.locked_at, i.content_hash, i.summary
           FROM inventory i JOIN node n USING (node_id)
           WHERE n.code = %s AND i.period_start = %s AND i.period_end = %s AND (%s::int IS NULL OR i.revision = %s)
           ORDER BY i.revision DESC LIMIT 1""", (node, start, end, revision, revision)))
    if not header:
        raise UserError(f"no inventory of {node} for {start}..{end}", where="--node")
    h = header[0]
    inv = h["inventory_id"]
    summary = h.pop("summary")
    h["hash_verified"] = h["content_hash"] == inventory_store.content_hash(conn, inv) if h["content_hash"] else None
    h["standards"] = ["GHG Protocol Corporate Standard", "GHG Protocol Scope 2 Guidance", "ISO 14064-1:2018"]
    lines = []
    for rec, batch, file, sha in conn.execute(
            """SELECT l.record, a.batch_id, b.file, b.file_sha256 FROM inventory_line l
               LEFT JOIN activity_datum a USING (datum_id) LEFT JOIN activity_batch b ON b.batch_id = a.batch_id
               WHERE l.inventory_id = %s ORDER BY l.line_no""", (inv,)):
        lines.append({**rec, "batch_id": batch, "batch_file": file, "batch_sha256": sha})
    factors = _rows(conn.execute(
        """SELECT f.factor_pk, f.factor_id, f.version, f.kind, f.family, f.activity, f.region, f.gas, f.value, f.unit,
                  f.series, f.gwp_set, f.data_year, f.source, f.publication, f.firmness, f.notes, s.factor_id AS
                  superseded_by_id, s.version AS superseded_by_version
           FROM inventory_factor x JOIN factor f USING (factor_pk) LEFT JOIN factor s ON s.factor_pk = f.superseded_by
           WHERE x.inventory_id = %s ORDER BY f.factor_id, f.version""", (inv,)))
    instruments = _rows(conn.execute(
        """SELECT i.code, i.kind, n.code AS plant, i.mwh, i.vintage, i.period_start, i.period_end, i.registry, i.serials,
                  i.retired_on, i.qc_met, i.attributes_sold, i.evidence, c.claim_id, c.mwh AS claimed_mwh,
                  x.mwh AS applied_mwh
           FROM inventory_claim x JOIN instrument_claim c USING (claim_id) JOIN instrument i USING (instrument_id)
           JOIN node n ON n.node_id = i.node_id WHERE x.inventory_id = %s ORDER BY i.code""", (inv,)))
    boundary = _rows(conn.execute(
        """WITH RECURSIVE sub AS (SELECT node_id FROM node WHERE code = %s
                                  UNION ALL SELECT n.node_id FROM node n JOIN sub s ON n.parent_id = s.node_id)
           SELECT n.code, n.level, n.name_en, n.ownership_share, n.operational_control, n.financial_control,
                  n.grid_region FROM node n JOIN sub USING (node_id)
           WHERE n.level IN ('group', 'company', 'park', 'site', 'plant') ORDER BY n.code""", (node,)))
    factor_log = _rows(conn.execute(
        """SELECT a.factor_id, a.version, a.action, a.changed_by, a.reason, a.changed_at FROM factor_audit a
           WHERE a.factor_pk IN (SELECT factor_pk FROM inventory_factor WHERE inventory_id = %s)
             AND a.changed_at <= coalesce(%s, now()) ORDER BY a.audit_id""", (inv, h["locked_at"])))
    batches = _rows(conn.execute(
        """SELECT DISTINCT b.batch_id, b.source, b.file, b.file_sha256, b.entered_by, b.created_at
           FROM inventory_line l JOIN activity_datum a USING (datum_id) JOIN activity_batch b USING (batch_id)
           WHERE l.inventory_id = %s ORDER BY b.batch_id""", (inv,)))
    revisions = _rows(conn.execute(
        """SELECT inventory_id, revision, status, restates, locked_at, content_hash FROM inventory
           WHERE node_id = (SELECT node_id FROM inventory WHERE inventory_id = %s)
             AND period_start = %s AND period_end = %s ORDER BY revision""", (inv, start, end)))
    return {"header": h, "summary": summary, "lines": lines, "factors": factors, "instruments": instruments,
            "boundary": boundary,
            "change_log": {"factor_audit": factor_log, "activity_batches": batches, "revisions": revisions}}
