"""``ems inventory restate`` and ``ems inventory base-year``: restatements with a line-by-line diff and
base-year recalculation after structural changes. Added to the ``inventory`` command by cms.cli."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation

from ems.cli.common import database
from ems.errors import UserError


def register_inventory_actions(vs) -> None:
    r = vs.add_parser("restate", help="new revision of the locked inventory (same settings) with a line-by-line diff")
    r.add_argument("--year", type=int, required=True, help="reporting year (1 Jan to 1 Jan)")
    r.add_argument("--node", required=True, help="reporting node code")
    r.add_argument("--from", dest="start", help="custom period start YYYY-MM-DD")
    r.add_argument("--to", dest="end", help="custom period end, exclusive")
    r.add_argument("--dry-run", action="store_true", help="show the diff, create nothing")
    r.add_argument("--json", action="store_true", help="print the result as JSON")
    r.add_argument("--by", help="who acts (default $EMS_USER or the login name)")
    r.set_defaults(handler=cmd_restate)
    b = vs.add_parser("base-year", help="recalculate the base year when structural changes pass a threshold")
    b.add_argument("--year", type=int, required=True, help="the base year (its inventory must be locked)")
    b.add_argument("--node", required=True, help="reporting node code")
    b.add_argument("--threshold", default="0.05", help="significance threshold, fraction of base-year emissions "
                                                       "(default 0.05 = 5 %%)")
    b.add_argument("--basis", default="market", choices=["market", "location"],
                   help="Scope 1 + Scope 2 market-based (default, the target scope) or location-based")
    b.add_argument("--dry-run", action="store_true", help="assess only, create nothing")
    b.add_argument("--json", action="store_true", help="print the assessment as JSON")
    b.add_argument("--by", help="who acts (default $EMS_USER or the login name)")
    b.set_defaults(handler=cmd_base_year)


def _t(kg: str) -> str:
    return f"{Decimal(kg) / 1000:,.3f}"


def cmd_restate(args) -> int:
    from cms.cli import _actor, _bounds, _check_node
    from cms.restate import restate

    start, end = _bounds(args)
    with database() as db, db.connection() as conn:
        _check_node(conn, args.node)
        out = restate(conn, args.node, start, end, _actor(args), year=args.year, dry_run=args.dry_run)
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=2, default=str))
        return 0
    if out["created"]:
        print(f"restatement: inventory {out['inventory_id']} rev {out['revision']} (draft) restates inventory "
              f"{out['restates']} rev {out['restated_revision']} (sha256 {out['restated_hash']})")
    elif not out["diff"]:
        print(f"nothing to restate: inventory {out['restates']} rev {out['restated_revision']} is unchanged by "
              "today's factors and activity data")
        return 0
    else:
        print(f"dry run: {len(out['diff'])} line(s) would change against inventory {out['restates']}")
    for k in ("scope1", "scope2_location", "scope2_market"):
        print(f"  {k:<16} {_t(out['before_kgco2e'][k]):>16} -> {_t(out['after_kgco2e'][k]):>16} tCO2e")
    for d in out["diff"]:
        print(f"  datum {d['datum_id']} {d['entity']} {d['activity']} {d['scope_key']} {d['gas']}: "
              f"{d['before_kgco2e']} -> {d['after_kgco2e']} kg ({Decimal(d['change_kgco2e']):+}): {d['reason']}")
    return 0


def cmd_base_year(args) -> int:
    from cms.cli import _actor, _check_node
    from cms.restate_base import recalculate

    try:
        threshold = Decimal(args.threshold)
    except InvalidOperation as exc:
        raise UserError(f"not a number: {args.threshold!r}", where="--threshold") from exc
    with database() as db, db.connection() as conn:
        _check_node(conn, args.node)
        rec = recalculate(conn, args.node, args.year, threshold, args.basis, _actor(args), dry_run=args.dry_run)
    if args.json:
        print(json.dumps(rec, ensure_ascii=False, indent=2, default=str))
        return 0
    pct = Decimal(rec["significance"]) * 100
    print(f"base year {args.year} of {args.node} ({rec['basis']}): {_t(rec['base_kgco2e'])} tCO2e; structural "
          f"change {_t(rec['structural_change_kgco2e'])} tCO2e = {pct:.2f} % (threshold "
          f"{Decimal(rec['threshold']) * 100:.2f} %)")
    for c in rec["changes"]:
        print(f"  {c['plant']}: {c['change']}: {_t(c['basis_kgco2e'])} tCO2e")
    if not rec["significant"]:
        print("below the threshold: the base year is not recalculated")
    elif rec["inventory_id"] is None:
        print(f"significant: the recalculated base year would be {_t(rec['recalculated_kgco2e'])} tCO2e (dry run)")
    else:
        print(f"significant: recalculated base year {_t(rec['recalculated_kgco2e'])} tCO2e stored as inventory "
              f"{rec['inventory_id']} rev {rec['revision']} (draft: review and lock it)")
    return 0
