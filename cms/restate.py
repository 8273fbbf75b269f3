"""Restatement of a locked inventory: recompute it with the SAME settings (boundary, GWP set, fuel-factor
family, factor data-year cap) against today's factor library and activity data, as a new revision with a
line-by-line diff. Nothing changes silently: the locked revision stays as it is, the new one is a draft to
review and lock (``ems inventory review|lock``).

Lines are matched on (activity datum, scope, Scope 2 method, gas, instrument), as in
``cms.inventory_store.restatement_diff``; each changed line says what changed (factor version, activity
quantity, boundary share) so an auditor can follow it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import psycopg

from cms import inventory_store
from cms.engine import Settings
from cms.numbers import ZERO
from ems.errors import UserError

KEY = ("datum_id", "scope", "scope2_method", "gas", "instrument")
SCOPE_KEYS = ("scope1", "scope2_location", "scope2_market")


def locked_revision(conn: psycopg.Connection, node: str, start: dt.date, end: dt.date) -> dict | None:
    """The latest locked revision of an inventory, with the settings it was computed with."""
    row = conn.execute(
        """SELECT i.inventory_id, i.revision, i.year, i.boundary, i.gwp_set, i.fuel_factors,
                  (i.summary->>'factor_year_cap')::int, i.content_hash
           FROM inventory i JOIN node n USING (node_id)
           WHERE n.code = %s AND i.period_start = %s AND i.period_end = %s AND i.status = 'locked'
           ORDER BY i.revision DESC LIMIT 1""", (node, start, end)).fetchone()
    if row is None:
        return None
    keys = ("inventory_id", "revision", "year", "boundary", "gwp_set", "fuel_factors", "factor_year", "content_hash")
    return dict(zip(keys, row))


def settings_of(node: str, start: dt.date, end: dt.date, locked: dict) -> Settings:
    return Settings(root=node, period_start=start, period_end=end, approach=locked["boundary"],
                    gwp_set=locked["gwp_set"], fuel_family=locked["fuel_factors"], factor_year=locked["factor_year"])


def scope_key(rec: dict) -> str | None:
    if rec["scope"] == 1:
        return "scope1"
    if rec["scope"] == 2:
        return f"scope2_{rec['scope2_method']}"
    return None


def line_diff(before: list[dict], after: list[dict]) -> list[dict]:
    """Changed lines between two lists of ledger records (JSON form), with the reason of each change."""
    def index(records):
        out: dict[tuple, dict] = {}
        for r in records:
            k = tuple(r.get(x) for x in KEY)
            if k in out:                           # the same key twice (never from the engine): add them up
                out[k] = dict(out[k], co2e_kg=str(Decimal(out[k]["co2e_kg"]) + Decimal(r["co2e_kg"])))
            else:
                out[k] = r
        return out
    a, b = index(before), index(after)
    diff = []
    for k in sorted(set(a) | set(b), key=lambda x: tuple(str(v) for v in x)):
        old, new = a.get(k), b.get(k)
        was = Decimal(old["co2e_kg"]) if old else ZERO
        now = Decimal(new["co2e_kg"]) if new else ZERO
        if old and new and was == now:
            continue
        ref = new or old
        reasons = []
        if old is None:
            reasons.append("line added")
        elif new is None:
            reasons.append("line removed")
        else:
            if (old["factor_id"], old["factor_version"]) != (new["factor_id"], new["factor_version"]):
                reasons.append(f"factor {old['factor_id']} v{old['factor_version']} -> "
                               f"{new['factor_id']} v{new['factor_version']}")
            else:
                refs = {(x["id"], x["version"]) for x in old.get("factor_refs", [])}
                if refs != {(x["id"], x["version"]) for x in new.get("factor_refs", [])}:
                    reasons.append("parameter or GWP version changed")
            if Decimal(old["activity_quantity"]) != Decimal(new["activity_quantity"]):
                reasons.append(f"activity {old['activity_quantity']} -> {new['activity_quantity']} "
                               f"{new['activity_unit']}")
            if Decimal(old["share"]) != Decimal(new["share"]):
                reasons.append(f"boundary share {old['share']} -> {new['share']}")
        diff.append({**dict(zip(KEY, k)), "scope_key": scope_key(ref), "entity": ref["entity"],
                     "activity": ref["activity"],
                     "factor_before": f"{old['factor_id']} v{old['factor_version']}" if old and old["factor_id"] else None,
                     "factor_after": f"{new['factor_id']} v{new['factor_version']}" if new and new["factor_id"] else None,
                     "before_kgco2e": str(was), "after_kgco2e": str(now), "change_kgco2e": str(now - was),
                     "reason": "; ".join(reasons) or "recomputed value differs"})
    return diff


def totals(records: list[dict]) -> dict[str, Decimal]:
    out = {k: ZERO for k in SCOPE_KEYS}
    for r in records:
        k = scope_key(r)
        if k:
            out[k] += Decimal(r["co2e_kg"])
    return out


def restate(conn: psycopg.Connection, node: str, start: dt.date, end: dt.date, actor: str, *,
            year: int | None = None, dry_run: bool = False) -> dict:
    """Restate the latest locked inventory of ``node`` over [start, end). Returns a dict: restates (id),
    inventory_id and revision of the restatement (None when nothing changed or dry run), created, diff,
    totals before / after (kgCO2e strings). A draft restatement already open is recomputed in place."""
    locked = locked_revision(conn, node, start, end)
    if locked is None:
        raise UserError(f"no locked inventory of {node} for {start}..{end}: nothing to restate (a draft is "
                        "recomputed by 'ems inventory compute')", where="--node")
    latest = inventory_store.find(conn, node, start, end)
    if latest["status"] == "review":
        raise UserError(f"inventory {latest['inventory_id']} (revision {latest['revision']}) is in review; lock it "
                        "or send it back to draft before restating again", where="--node")
    settings = settings_of(node, start, end, locked)
    before = inventory_store.lines(conn, locked["inventory_id"])
    after = [line.record() for line in inventory_store.run(conn, settings, actor).lines]
    diff = line_diff(before, after)
    out = {"restates": locked["inventory_id"], "restated_revision": locked["revision"],
           "restated_hash": locked["content_hash"], "inventory_id": None, "revision": None, "created": False,
           "diff": diff, "before_kgco2e": {k: str(v) for k, v in totals(before).items()},
           "after_kgco2e": {k: str(v) for k, v in totals(after).items()}}
    open_draft = latest["status"] == "draft" and latest["revision"] > locked["revision"]
    if dry_run or (not diff and not open_draft):
        return out
    inv, _, _ = inventory_store.save_draft(conn, settings, actor, year=year or locked["year"], restate=True)
    row = inventory_store.find(conn, node, start, end)
    out.update(inventory_id=inv, revision=row["revision"], created=True,
               diff=line_diff(before, inventory_store.lines(conn, inv)))
    return out
