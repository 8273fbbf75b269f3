"""``ems cost`` and ``ems settle``: time-of-use electricity cost and internal settlement from stored data."""

from __future__ import annotations

import sys

import pandas as pd

from ems.analytics.cost_data import billed_kwh as _billed_kwh
from ems.analytics.cost_data import point_kwh_15min
from ems.cli.common import database
from ems.cli.readings_cmd import parse_time
from ems.errors import UserError


def register(sub) -> None:
    c = sub.add_parser("cost", help="electricity cost of a node or meter under a time-of-use tariff",
                       description="Prices the 15-min electricity of a node (its meters, sub-meters not counted "
                                   "twice) or of one meter under a tariff (built-in ids: see --list-tariffs).")
    _common(c)
    target = c.add_mutually_exclusive_group()
    target.add_argument("--node", help="node code")
    target.add_argument("--point", help="one meter (point code)")
    c.add_argument("--by", choices=["day", "month"], default="day")
    c.add_argument("--centres", action="store_true",
                   help="cost per cost centre: each child node of --node, plus the unmetered remainder")
    c.add_argument("--demand", action="store_true", help="also the monthly demand charge from the grid-import meters")
    c.add_argument("--out", help="write the cost table to FILE.csv / FILE.xlsx (both without a suffix)")
    c.add_argument("--list-tariffs", action="store_true", help="list the built-in tariffs and exit")
    c.set_defaults(handler=cmd_cost)

    s = sub.add_parser("settle", help="internal settlement: allocate a parent meter's cost to sub-meters",
                       description="Each sub-meter pays its own time-of-use mix; the unmetered remainder is "
                                   "allocated by --rule. Totals equal the parent's cost to the fen.")
    _common(s)
    s.add_argument("--parent", required=True, help="parent meter (point code)")
    s.add_argument("--children", help="sub-meters, comma separated (default: the parent's sub-meters)")
    s.add_argument("--rule", default="proportional",
                   help="proportional | to_centre:NAME | fixed:CENTRE=SHARE,CENTRE=SHARE")
    s.add_argument("--by", choices=["day", "month"], default="month")
    s.add_argument("--out", help="write the settlement to FILE.csv / FILE.xlsx (both without a suffix)")
    s.set_defaults(handler=cmd_settle)


def _common(p) -> None:
    p.add_argument("--from", dest="start", help="start (site local time)")
    p.add_argument("--to", dest="end", help="end, exclusive")
    p.add_argument("--tariff", help="tariff id (default: the site's assigned tariffs, plant YAML 'tariffs:')")
    p.add_argument("--tariff-file", help="a tariff YAML file instead of the built-in ones")
    p.add_argument("--temp-point", help="outdoor temperature point for temperature-triggered sharp peaks")


def _tariffs(args):
    from ems.analytics.tariff_files import builtin_tariffs, load_tariff

    return [load_tariff(args.tariff_file)] if args.tariff_file else builtin_tariffs()


def _point(conn, code: str) -> dict:
    from ems.assets.store import points_frame

    match = [p for p in points_frame(conn) if p["code"] == code]
    if not match:
        raise UserError(f"no point with code '{code}' (see 'ems points')")
    return match[0]


def _demand(conn, args, node: str, tz: str, start, end) -> None:
    """Print the monthly demand charge (基本电费) of the billed meters when the tariff has one."""
    from ems.analytics.sources import role_points
    from ems.analytics.tariff_cost import demand_charge
    from ems.analytics.tariff_files import assigned_tariff

    site, assigned, tariffs = _assignments(conn, args, node, start)
    tariff = assigned_tariff(assigned, tariffs, site, (end - pd.Timedelta("1s")).date())
    if tariff.demand_charge is None:
        print(f"demand charge: {tariff.label} has none")
        return
    meters = role_points(conn, node).get("grid_import", [])
    if not meters:
        raise UserError(f"no grid-import meter (role grid_import) below '{node}' to read the demand from",
                        where="--demand")
    kwh = pd.concat([point_kwh_15min(conn, m, start, end, demand=True) for m in meters], axis=1).sum(axis=1, min_count=1)
    table = demand_charge(kwh * 4.0, tariff, tz)
    with pd.option_context("display.width", 160, "display.float_format", "{:,.2f}".format):
        print(table.to_string(index=False))
    print(f"demand charge total: {table['charge_cny'].sum():,.2f} CNY"
          + (" (price assumed, not published: replace with the site's contract)" if tariff.demand_charge.assumed else ""))


def _daily_max(conn, code: str | None, start, end) -> pd.Series | None:
    if not code:
        return None
    point = _point(conn, code)
    from ems.readings.query import read_point

    frame = read_point(conn, point, start, end, "day")
    return pd.Series(frame["max"].to_numpy(float), index=pd.DatetimeIndex(frame["bucket"]).date)


def _assignments(conn, args, node: str, start) -> tuple[str, list, list]:
    """(site, assignments, tariffs): --tariff overrides the site's assigned tariffs."""
    from ems.analytics.cost_data import site_tariffs

    return site_tariffs(conn, node, start, args.tariff, _tariffs(args))


def _price(conn, args, kwh: pd.Series, node: str, tz: str, start, end) -> pd.DataFrame:
    from ems.analytics.tariff_cost import site_energy_cost

    site, assigned, tariffs = _assignments(conn, args, node, start)
    return site_energy_cost(kwh, site, assigned, tariffs, tz, _daily_max(conn, args.temp_point, start, end))


def _range(args, tz: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    if not args.start or not args.end:
        raise UserError("--from and --to are needed", where="--from")
    return parse_time(args.start, tz, "--from"), parse_time(args.end, tz, "--to")


def _centres(conn, args, tz: str, start, end) -> int:
    """Cost of the node (and with --centres of each child node and the remainder) per day or month."""
    from ems.analytics.cost_data import centre_report
    from ems.analytics.cost_report import export_cost_report

    report = centre_report(conn, args.node, tz, start, end, args.by, centres=args.centres, tariff_id=args.tariff,
                           tariffs=_tariffs(args), daily_max_temp_c=_daily_max(conn, args.temp_point, start, end))
    with pd.option_context("display.max_rows", 500, "display.width", 180, "display.float_format", "{:,.2f}".format):
        print(report.lines.to_string(index=False))
    print(f"total: {report.lines['kwh'].sum():,.2f} kWh, {report.lines['cost_cny'].sum():,.2f} CNY "
          f"({', '.join(report.tariffs)})")
    for note in report.notes:
        print(f"note: {note}")
    if args.out:
        for path in export_cost_report(report, args.out):
            print(f"wrote {path}")
    return 0


def cmd_cost(args) -> int:
    from ems.analytics.tariff_cost import cost_summary

    if args.list_tariffs:
        for t in _tariffs(args):
            print(f"{t.id:<24} version {t.version:<6} {t.name.en or ''} / {t.name.zh or ''}  from {t.valid_from}")
        return 0
    if not (args.node or args.point):
        raise UserError("give --node or --point", where="--node")
    with database() as db, db.connection() as conn:
        if args.point:
            point = _point(conn, args.point)
            tz, site = point["timezone"], point["node"]
            start, end = _range(args, tz)
            kwh = point_kwh_15min(conn, point, start, end)
        else:
            row = conn.execute("SELECT timezone FROM node WHERE code = %s", (args.node,)).fetchone()
            if row is None:
                raise UserError(f"no node with code '{args.node}' (see 'ems nodes')", where="--node")
            tz, site = row[0], args.node
            start, end = _range(args, tz)
            _assignments(conn, args, site, start)   # fail before reading data when no tariff applies
            if args.centres or args.out:
                return _centres(conn, args, tz, start, end)
            kwh, basis = _billed_kwh(conn, args.node, start, end)
            print(f"priced: {basis}")
        if kwh.empty:
            print("no electricity readings in this range")
            return 0
        summary = cost_summary(_price(conn, args, kwh, site, tz, start, end), by=args.by)
    with pd.option_context("display.max_rows", 500, "display.width", 160, "display.float_format", "{:,.2f}".format):
        print(summary.to_string(index=False))
    print(f"total: {summary['kwh'].sum():,.2f} kWh, {summary['cost_cny'].sum():,.2f} CNY")
    for note in summary.attrs.get("assumptions", []):
        print(f"note: {note}")
    if args.demand and args.node:
        with database() as db, db.connection() as conn:
            _demand(conn, args, args.node, tz, start, end)
    return 0


def _rule(text: str):
    from ems.analytics.settlement import AllocationRule

    if text == "proportional":
        return AllocationRule("proportional")
    if text.startswith("to_centre:"):
        return AllocationRule("to_centre", centre=text.split(":", 1)[1])
    if text.startswith("fixed:"):
        try:
            shares = {k: float(v) for k, v in (part.split("=") for part in text[6:].split(","))}
        except ValueError as exc:
            raise UserError("fixed shares look like fixed:A=0.6,B=0.4", where="--rule") from exc
        return AllocationRule("fixed_shares", shares=shares)
    raise UserError(f"unknown rule '{text}'", where="--rule")


def cmd_settle(args) -> int:
    from ems.analytics.settlement import export_settlement, settle

    with database() as db, db.connection() as conn:
        parent = _point(conn, args.parent)
        tz = parent["timezone"]
        start, end = _range(args, tz)
        if args.children:
            children = [_point(conn, c.strip()) for c in args.children.split(",") if c.strip()]
        else:
            from ems.assets.store import points_frame

            children = [p for p in points_frame(conn) if p["parent"] == parent["code"] and not p["formula"]]
        if not children:
            raise UserError(f"meter '{parent['code']}' has no sub-meters; name them with --children")
        parent_kwh = point_kwh_15min(conn, parent, start, end)
        costs = _price(conn, args, parent_kwh, parent["node"], tz, start, end)
        kids = pd.DataFrame({c["code"]: point_kwh_15min(conn, c, start, end) for c in children}).reindex(parent_kwh.index)
        result = settle(costs, kids, _rule(args.rule), tz, by=args.by, parent_code=parent["code"])
    with pd.option_context("display.max_rows", 500, "display.width", 180, "display.float_format", "{:,.2f}".format):
        print(result.lines.to_string(index=False))
    for note in result.notes:
        print(f"note: {note}")
    if args.out:
        for path in export_settlement(result, args.out):
            print(f"wrote {path}")
    if result.imbalanced:
        print("warning: sub-meters exceed the parent in some intervals (meter-tree imbalance; see the balance sheet)",
              file=sys.stderr)
    return 0
