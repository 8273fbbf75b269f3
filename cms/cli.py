"""``ems factors``, ``ems activity``, ``ems instruments`` and ``ems inventory``: the carbon accounting core.

Registered by ems.cli.main (OPTIONAL_COMMANDS "cms.cli").
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import sys

from ems.cli.common import database
from ems.errors import UserError


def _actor(args) -> str:
    return getattr(args, "by", None) or os.environ.get("EMS_USER") or getpass.getuser()


def register(sub) -> None:
    f = sub.add_parser("factors", help="emission factor library: list, import (versioned, audited)")
    fs = f.add_subparsers(dest="factors_command", metavar="ACTION", required=True)
    fl = fs.add_parser("list", help="list the current factor versions")
    fl.add_argument("--activity", help="only this activity (e.g. electricity_grid)")
    fl.add_argument("--all-versions", action="store_true", help="also superseded versions")
    fl.set_defaults(handler=cmd_factors_list)
    fi = fs.add_parser("import", help="import a factor YAML file (new versions supersede, edits are audited)")
    fi.add_argument("file")
    fi.add_argument("--by", help="who imports (default $EMS_USER or the login name)")
    fi.add_argument("--reason", default="", help="reason recorded in the factor audit log")
    fi.set_defaults(handler=cmd_factors_import)

    a = sub.add_parser("activity", help="activity data: CSV import, roll-up sync")
    as_ = a.add_subparsers(dest="activity_command", metavar="ACTION", required=True)
    ai = as_.add_parser("import", help="import activity data from CSV (see README 'Carbon accounting CSV formats')")
    ai.add_argument("file")
    ai.add_argument("--by", help="who entered the data (default $EMS_USER or the login name)")
    ai.set_defaults(handler=cmd_activity_import)
    aa = as_.add_parser("add", help="enter one activity datum by hand (with its evidence)")
    aa.add_argument("--node", required=True)
    aa.add_argument("--from", dest="start", required=True, help="period start YYYY-MM-DD")
    aa.add_argument("--to", dest="end", required=True, help="period end YYYY-MM-DD, exclusive")
    aa.add_argument("--activity", required=True, help="e.g. diesel, refrigerant_topup:R-410A, sf6_leak")
    aa.add_argument("--quantity", required=True)
    aa.add_argument("--unit", required=True)
    aa.add_argument("--evidence", required=True, help="invoice number, log reference ...")
    aa.add_argument("--by")
    aa.set_defaults(handler=cmd_activity_add)
    asy = as_.add_parser("sync-rollups", help="copy metered monthly activity from the energy roll-ups")
    _period(asy)
    asy.set_defaults(handler=cmd_activity_sync)

    i = sub.add_parser("instruments", help="contractual instruments register (GEC, green power, PPA, I-REC, on-site PV)")
    is_ = i.add_subparsers(dest="instruments_command", metavar="ACTION", required=True)
    ii = is_.add_parser("import", help="import instruments from CSV")
    ii.add_argument("file")
    ii.add_argument("--by")
    ii.set_defaults(handler=cmd_instruments_import)
    il = is_.add_parser("list", help="list instruments with claimed MWh")
    il.set_defaults(handler=cmd_instruments_list)

    v = sub.add_parser("inventory", help="Scope 1/2 inventories: compute (draft), review, lock")
    vs = v.add_subparsers(dest="inventory_command", metavar="ACTION", required=True)
    vc = vs.add_parser("compute", help="compute (and store as draft) the inventory of a node and year")
    _period(vc)
    vc.add_argument("--boundary", default="operational_control",
                    choices=["operational_control", "financial_control", "equity_share"])
    vc.add_argument("--gwp", default="AR5", choices=["AR4", "AR5", "AR6"], help="GWP set (default AR5)")
    vc.add_argument("--fuel-factors", default="cn_guideline", choices=["cn_guideline", "ipcc2006", "epa_hub"])
    vc.add_argument("--factor-year", type=int, help="latest factor data year allowed (default: the inventory year)")
    vc.add_argument("--no-rollups", action="store_true", help="do not sync metered data from the roll-ups first")
    vc.add_argument("--restate", action="store_true", help="new revision of a locked inventory, with a diff")
    vc.add_argument("--json", action="store_true", help="print the result as JSON (tCO2e)")
    vc.set_defaults(handler=cmd_inventory_compute)
    for name, handler, text in (("review", cmd_inventory_review, "move a draft to internal review"),
                                ("lock", cmd_inventory_lock, "lock the inventory (immutable, hashed)")):
        p = vs.add_parser(name, help=text)
        _period(p)
        p.set_defaults(handler=handler)
    from cms.restate_cli import register_inventory_actions  # restate, base-year

    register_inventory_actions(vs)


def _period(p) -> None:
    p.add_argument("--year", type=int, required=True, help="reporting year (1 Jan to 1 Jan, local dates)")
    p.add_argument("--node", required=True, help="reporting node code (plant, company or group)")
    p.add_argument("--from", dest="start", help="custom period start YYYY-MM-DD (default 1 Jan of --year)")
    p.add_argument("--to", dest="end", help="custom period end, exclusive (default 1 Jan of the next year)")
    p.add_argument("--by", help="who acts (default $EMS_USER or the login name)")


def _bounds(args) -> tuple[dt.date, dt.date]:
    try:
        start = dt.date.fromisoformat(args.start) if args.start else dt.date(args.year, 1, 1)
        end = dt.date.fromisoformat(args.end) if args.end else dt.date(args.year + 1, 1, 1)
    except ValueError as exc:
        raise UserError(f"not a date (YYYY-MM-DD): {exc}", where="--from/--to") from exc
    if end <= start:
        raise UserError("the period end must be after its start", where="--to")
    return start, end


def _check_node(conn, code: str) -> None:
    if conn.execute("SELECT 1 FROM node WHERE code = %s", (code,)).fetchone() is None:
        raise UserError(f"no node with code '{code}' (see 'ems nodes')", where="--node")


def cmd_factors_list(args) -> int:
    from cms import store

    with database() as db, db.connection() as conn:
        store.sync_builtin(conn)
        rows = store.db_factors(conn)
    print(f"{'id':<28} {'v':>2} {'kind':<14} {'activity':<22} {'region':<13} {'gas':<10} {'value':>12} "
          f"{'unit':<16} {'year':>4} {'tag':<3} source")
    for _pk, f, superseded in rows:
        if (args.activity and f.activity != args.activity) or (superseded and not args.all_versions):
            continue
        print(f"{f.id:<28} {f.version:>2} {f.kind:<14} {f.activity:<22} {f.region:<13} {f.gas or '':<10} "
              f"{f.value!s:>12} {f.unit:<16} {f.data_year or '':>4} {f.firmness:<3} {f.source[:60]}"
              + (" (superseded)" if superseded else ""))
    return 0


def cmd_factors_import(args) -> int:
    from cms import store

    with database() as db, db.connection() as conn:
        stats = store.import_factors(conn, args.file, _actor(args), args.reason)
    print(f"factors: {stats['added']} added, {stats['updated']} updated, {stats['unchanged']} unchanged")
    return 0


def cmd_activity_import(args) -> int:
    from cms import store
    from cms.csvfiles import parse_activity_csv

    actor = _actor(args)
    with database() as db, db.connection() as conn:
        parsed = parse_activity_csv(args.file, set(store.node_ids(conn)), actor)
        parsed.raise_if_errors()
        batch = store.insert_activity(conn, parsed.rows, source="csv", entered_by=actor, file=parsed.file,
                                      sha256=parsed.sha256)
    print(f"activity: {len(parsed.rows)} rows imported (batch {batch}, sha256 {parsed.sha256[:12]}, by {actor})")
    return 0


def cmd_activity_add(args) -> int:
    """One manual datum, validated exactly like a CSV row."""
    import csv
    import io
    import tempfile
    from dataclasses import replace
    from pathlib import Path

    from cms import store
    from cms.csvfiles import parse_activity_csv

    actor = _actor(args)
    buf = io.StringIO()
    csv.writer(buf).writerows([["node code", "period start", "period end", "activity", "quantity", "unit", "evidence"],
                               [args.node, args.start, args.end, args.activity, args.quantity, args.unit, args.evidence]])
    with tempfile.TemporaryDirectory() as tmp, database() as db, db.connection() as conn:
        path = Path(tmp) / "manual entry"
        path.write_text(buf.getvalue(), encoding="utf-8")
        parsed = parse_activity_csv(path, set(store.node_ids(conn)), actor)
        if parsed.errors:
            raise UserError(parsed.errors[0].split(", line 2, ", 1)[-1])
        rows = [replace(d, source="manual", datum_id=None) for d in parsed.rows]
        store.insert_activity(conn, rows, source="manual", entered_by=actor)
    print(f"activity: 1 datum entered by {actor}")
    return 0


def _plants(conn, root: str) -> list[str]:
    from cms import store

    tree = store.tree(conn)
    return sorted({tree.entity(c) for c in tree.subtree(root) if tree[tree.entity(c)].level == "plant"})


def cmd_activity_sync(args) -> int:
    from cms.rollup_activity import sync_rollup_activity

    start, end = _bounds(args)
    with database() as db, db.connection() as conn:
        _check_node(conn, args.node)
        stats = sync_rollup_activity(conn, _plants(conn, args.node), start, end)
    print("roll-up activity: " + ", ".join(f"{v} {k}" for k, v in stats.items()))
    return 0


def cmd_instruments_import(args) -> int:
    from cms import store
    from cms.csvfiles import parse_instrument_csv

    with database() as db, db.connection() as conn:
        parsed = parse_instrument_csv(args.file, set(store.node_ids(conn)))
        parsed.raise_if_errors()
        store.insert_instruments(conn, parsed.rows, _actor(args), parsed.file, parsed.sha256)
    print(f"instruments: {len(parsed.rows)} registered")
    return 0


def cmd_instruments_list(args) -> int:
    with database() as db, db.connection() as conn:
        rows = conn.execute(
            """SELECT i.code, i.kind, n.code, i.mwh, i.vintage, i.period_start, i.period_end,
                      coalesce((SELECT sum(mwh) FROM instrument_claim c WHERE c.instrument_id = i.instrument_id), 0)
               FROM instrument i JOIN node n USING (node_id) ORDER BY i.code""").fetchall()
    for code, kind, node, mwh, vintage, s, e, claimed in rows:
        print(f"{code:<24} {kind:<20} {node:<10} {mwh:>12} MWh vintage {vintage} {s}..{e} claimed {claimed} MWh")
    return 0


def _settings(args, start, end):
    from cms.engine import Settings

    return Settings(root=args.node, period_start=start, period_end=end, approach=args.boundary, gwp_set=args.gwp,
                    fuel_family=args.fuel_factors, factor_year=args.factor_year)


def cmd_inventory_compute(args) -> int:
    from cms import inventory_store
    from cms.rollup_activity import sync_rollup_activity

    start, end = _bounds(args)
    actor = _actor(args)
    diff = None
    with database() as db, db.connection() as conn:
        _check_node(conn, args.node)
        existing = inventory_store.find(conn, args.node, start, end)
        if existing and existing["status"] in ("review", "locked") and not args.restate:
            stored = dict(existing["summary"])
            order = list(_summary_keys())
            summary = {k: stored[k] for k in order if k in stored} | {k: v for k, v in stored.items() if k not in order}
            print(f"note: inventory {existing['inventory_id']} is {existing['status']}: showing the stored result "
                  "(use --restate for a new revision)", file=sys.stderr)
        else:
            if not args.no_rollups:
                sync_rollup_activity(conn, _plants(conn, args.node), start, end)
            inv, result, diff = inventory_store.save_draft(conn, _settings(args, start, end), actor,
                                                           year=args.year, restate=args.restate)
            summary = result.summary()
            existing = inventory_store.find(conn, args.node, start, end)
    summary.update({"inventory_id": existing["inventory_id"], "status": existing["status"],
                    "revision": existing["revision"], "content_hash": existing["content_hash"], "year": args.year})
    if diff is not None:
        summary["restatement_diff"] = diff
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
        return 0
    print(f"inventory {summary['inventory_id']} rev {summary['revision']} of {args.node} {summary['period_start']}.."
          f"{summary['period_end']} ({summary['status']}; {summary['boundary']}, {summary['gwp_set']})")
    print(f"  Scope 1                  {summary['scope1_tco2e']:>16,.3f} tCO2e")
    print(f"  Scope 2 location-based   {summary['scope2_location_tco2e']:>16,.3f} tCO2e")
    print(f"  Scope 2 market-based     {summary['scope2_market_tco2e']:>16,.3f} tCO2e")
    for plant, row in summary["by_plant"].items():
        print(f"  {plant:<10} share {row['share']:<6} S1 {row['scope1_tco2e']:,.3f}  S2-LB {row['scope2_location_tco2e']:,.3f}"
              f"  S2-MB {row['scope2_market_tco2e']:,.3f}")
    for note in summary.get("notes", []):
        print(f"note: {note}")
    if diff is not None:
        print(f"restatement: {len(diff)} line(s) changed against the locked revision")
    return 0


def _summary_keys() -> tuple[str, ...]:
    """Display order of a stored summary (jsonb reorders keys)."""
    return ("node", "period_start", "period_end", "boundary", "gwp_set", "fuel_factors", "factor_year_cap", "rounding",
            "unit", "scope1_tco2e", "scope2_location_tco2e", "scope2_market_tco2e", "totals_tco2e", "totals_kgco2e",
            "by_gas", "by_plant", "by_category", "by_month", "memo_outside_scopes", "instrument_claims_mwh", "notes",
            "line_count")


def _existing(conn, args):
    from cms import inventory_store

    start, end = _bounds(args)
    _check_node(conn, args.node)
    inv = inventory_store.find(conn, args.node, start, end)
    if inv is None:
        raise UserError(f"no inventory of {args.node} for {start}..{end}; run 'ems inventory compute' first",
                        where="--node")
    return inv


def cmd_inventory_review(args) -> int:
    from cms import inventory_store

    with database() as db, db.connection() as conn:
        inv = _existing(conn, args)
        inventory_store.review(conn, inv, _actor(args))
    print(f"inventory {inv['inventory_id']} is in review")
    return 0


def cmd_inventory_lock(args) -> int:
    from cms import inventory_store

    with database() as db, db.connection() as conn:
        inv = _existing(conn, args)
        digest = inventory_store.lock(conn, inv, _actor(args))
    print(f"inventory {inv['inventory_id']} locked, sha256 {digest}")
    return 0
