"""Base-year recalculation after structural changes (GHG Protocol Corporate Standard ch. 5; reference
carbon-standards-and-factors.md §1.3 and worked example 18).

The base-year inventory (the latest locked revision of the base year) is compared, plant by plant, with the
boundary as it stands today (the node tree: parents, ownership shares, control flags), evaluated on the
base-year activity data:

- a plant in the base year that is no longer inside the boundary (divested, outsourced, control lost) is
  REMOVED: change = minus its base-year emissions;
- a plant inside the boundary today that was not in the base-year inventory but has base-year activity data
  (acquired, insourced) is ADDED "as if it had always been part of the organisation": change = its
  base-year emissions computed now; a plant without base-year data did not exist then (organic growth) and
  changes nothing;
- a plant whose consolidated share changed (equity share sold or bought, control gained) is rescaled:
  each base-year line's 100 % emissions x the new share.

Plants whose share did not change keep their locked base-year lines exactly: factor or data corrections are
restatements (``cms.restate``), not structural changes. The significance of the structural change is the sum
of the absolute changes per plant over the basis (Scope 1 + Scope 2 market-based by default, the target
scope of cms.targets), divided by the base-year emissions of that basis. At or above the threshold (5 % is
common practice; the GHG Protocol fixes no number) the base year is recalculated: a new draft revision of
the base-year inventory holding the adjusted lines, with the assessment stored in its summary.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from decimal import Decimal

import psycopg
from psycopg.types.json import Jsonb

from cms import inventory_store, store
from cms.engine import Result
from cms.ledger import LedgerLine
from cms.numbers import ZERO, div, line_kg, mul
from cms.restate import SCOPE_KEYS, locked_revision, scope_key, settings_of
from ems.errors import UserError

BASES = {"market": ("scope1", "scope2_market"), "location": ("scope1", "scope2_location")}
_DEC = ("share", "activity_quantity", "gas_mass_kg", "gwp", "co2e_kg", "gross_co2e_kg")


def to_line(rec: dict, line_no: int, **changes) -> LedgerLine:
    """A ledger line back from its stored JSON record."""
    d = {f.name: rec.get(f.name) for f in dataclasses.fields(LedgerLine)}
    for k in _DEC:
        d[k] = Decimal(d[k])
    d["period_start"], d["period_end"] = (dt.date.fromisoformat(d[k]) for k in ("period_start", "period_end"))
    d["factor_refs"] = tuple(d["factor_refs"] or ())
    d["flags"] = tuple(d["flags"] or ())
    d["line_no"] = line_no
    return LedgerLine(**(d | changes))


def _by_entity(records: list[dict]) -> dict[str, dict]:
    out: dict[str, dict] = defaultdict(lambda: {"share": None, **{k: ZERO for k in SCOPE_KEYS}})
    for r in records:
        e = out[r["entity"]]
        e["share"] = Decimal(r["share"])
        if scope_key(r):
            e[scope_key(r)] += Decimal(r["co2e_kg"])
    return out


def assess(conn: psycopg.Connection, node: str, year: int, threshold: Decimal, basis: str = "market",
           actor: str = "system") -> tuple[dict, list[LedgerLine], dict[str, Decimal], object]:
    """The structural-change assessment of the base year (no writes). Returns (record, adjusted lines,
    instrument claims of the adjusted inventory, settings)."""
    if basis not in BASES:
        raise UserError(f"basis must be one of {', '.join(BASES)}", where="--basis")
    if not Decimal(0) < threshold < Decimal(1):
        raise UserError("the threshold is a fraction of base-year emissions, e.g. 0.05 for 5 %", where="--threshold")
    start, end = dt.date(year, 1, 1), dt.date(year + 1, 1, 1)
    base = locked_revision(conn, node, start, end)
    if base is None:
        raise UserError(f"no locked inventory of {node} for base year {year} (compute and lock it first)",
                        where="--year")
    settings = settings_of(node, start, end, base)
    old_recs = inventory_store.lines(conn, base["inventory_id"])
    now = inventory_store.run(conn, settings, actor)
    new_recs = [line.record() for line in now.lines]
    old, new = _by_entity(old_recs), _by_entity(new_recs)
    keys = BASES[basis]
    changes, lines = [], []
    for entity in sorted(set(old) | set(new)):
        if entity in old and entity not in new:
            kind, delta = "removed (divested or out of the boundary)", {k: -old[entity][k] for k in SCOPE_KEYS}
        elif entity in new and entity not in old:
            kind, delta = "added (acquired or brought into the boundary)", {k: new[entity][k] for k in SCOPE_KEYS}
            lines += [line for line in now.lines if line.entity == entity]
        elif old[entity]["share"] != new[entity]["share"]:
            share = new[entity]["share"]
            kind = f"share {old[entity]['share']} -> {share}"
            scaled = []
            for r in (r for r in old_recs if r["entity"] == entity):
                ratio = div(share, Decimal(r["share"]))
                scaled.append(to_line(r, 0, share=share, co2e_kg=line_kg(mul(Decimal(r["gross_co2e_kg"]), share)),
                                      gas_mass_kg=line_kg(mul(Decimal(r["gas_mass_kg"]), ratio)),
                                      flags=tuple(r["flags"]) + ("base_year_share_restated",)))
            lines += scaled
            after = _by_entity([s.record() for s in scaled])[entity]
            delta = {k: after[k] - old[entity][k] for k in SCOPE_KEYS}
        else:
            lines += [to_line(r, 0) for r in old_recs if r["entity"] == entity]
            continue
        changes.append({"plant": entity, "change": kind, **{f"{k}_kgco2e": str(delta[k]) for k in SCOPE_KEYS},
                        "basis_kgco2e": str(sum((delta[k] for k in keys), ZERO))})
    base_kg = {k: sum((Decimal(r["co2e_kg"]) for r in old_recs if scope_key(r) == k), ZERO) for k in SCOPE_KEYS}
    base_total = sum((base_kg[k] for k in keys), ZERO)
    moved = sum((abs(Decimal(c["basis_kgco2e"])) for c in changes), ZERO)
    significance = div(moved, base_total) if base_total else ZERO
    recalc = {k: base_kg[k] + sum((Decimal(c[f"{k}_kgco2e"]) for c in changes), ZERO) for k in SCOPE_KEYS}
    record = {"base_year": year, "base_inventory_id": base["inventory_id"], "base_revision": base["revision"],
              "base_content_hash": base["content_hash"], "basis": "+".join(keys), "threshold": str(threshold),
              "base_kgco2e": str(base_total), "structural_change_kgco2e": str(moved),
              "significance": str(significance.quantize(Decimal("0.000001"))),
              "significant": significance >= threshold,
              "recalculated_kgco2e": str(sum((recalc[k] for k in keys), ZERO)),
              **{f"base_{k}_kgco2e": str(base_kg[k]) for k in SCOPE_KEYS},
              **{f"recalculated_{k}_kgco2e": str(recalc[k]) for k in SCOPE_KEYS},
              "changes": changes}
    lines = [dataclasses.replace(line, line_no=i) for i, line in enumerate(lines, 1)]
    tree = store.tree(conn)
    claims = dict(now.claims)
    old_claims = conn.execute(
        """SELECT i.code, n.code, x.mwh FROM inventory_claim x JOIN instrument_claim c USING (claim_id)
           JOIN instrument i USING (instrument_id) JOIN node n ON n.node_id = i.node_id
           WHERE x.inventory_id = %s""", (base["inventory_id"],)).fetchall()
    kept = {line.entity for line in lines if line.entity in old}
    for code, plant, mwh in old_claims:             # kept plants keep exactly the claims of the locked base year
        if (tree.entity(plant) if plant in tree.nodes else plant) in kept:
            claims[code] = mwh
    return record, lines, claims, settings


def recalculate(conn: psycopg.Connection, node: str, year: int, threshold: Decimal, basis: str = "market",
                actor: str = "system", *, dry_run: bool = False) -> dict:
    """Assess, and when significant (and not a dry run) store the recalculated base year as a new draft
    revision of the base-year inventory. Returns the assessment record (+ inventory_id / revision)."""
    record, lines, claims, settings = assess(conn, node, year, threshold, basis, actor)
    record.update(inventory_id=None, revision=None)
    if dry_run or not record["significant"]:
        return record
    start, end = settings.period_start, settings.period_end
    latest = inventory_store.find(conn, node, start, end)
    if latest["status"] == "review":
        raise UserError(f"inventory {latest['inventory_id']} is in review; lock it or send it back first",
                        where="--node")
    result = Result(settings, lines, claims, notes=[f"base-year recalculation for structural changes "
                                                    f"(significance {record['significance']} >= {record['threshold']})"])
    summary = result.summary() | {"base_year_recalculation": record}
    _, pks = store.library(conn)
    with conn.transaction():
        store.set_actor(conn, actor)
        if latest["status"] == "draft" and latest["revision"] > record["base_revision"]:
            inv = latest["inventory_id"]
            for table in ("inventory_line", "inventory_factor", "inventory_claim"):
                conn.execute(f"DELETE FROM {table} WHERE inventory_id = %s", (inv,))
            conn.execute("UPDATE inventory SET summary = %s, computed_at = now() WHERE inventory_id = %s",
                         (Jsonb(summary), inv))
        else:
            inv = conn.execute(
                """INSERT INTO inventory (node_id, year, period_start, period_end, boundary, gwp_set, fuel_factors,
                                          revision, restates, summary, created_by)
                   SELECT node_id, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s FROM node WHERE code = %s
                   RETURNING inventory_id""",
                (year, start, end, settings.approach, settings.gwp_set, settings.fuel_family, latest["revision"] + 1,
                 record["base_inventory_id"], Jsonb(summary), actor, node)).fetchone()[0]
        inventory_store._write_lines(conn, inv, result, pks)
    record.update(inventory_id=inv, revision=inventory_store.find(conn, node, start, end)["revision"])
    return record
