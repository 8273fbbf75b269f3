"""``ems cost`` and ``ems settle``: time-of-use electricity cost and internal settlement from stored data."""

from __future__ import annotations

import sys

import pandas as pd

from ems.cli.common import database
from ems.cli.readings_cmd import parse_time
from ems.errors import UserError

_QUARTER = pd.Timedelta("15min")


def register(sub) -> None:
    c = sub.add_parser("cost", help="electricity cost of a node or meter under a time-of-use tariff",
                       description="Prices the 15-min electricity of a node (its meters, sub-meters not counted "
                                   "twice) or of one meter under a tariff (built-in ids: see --list-tariffs).")
    _common(c)
    target = c.add_mutually_exclusive_group()
    target.add_argument("--node", help="node code")
    target.add_argument("--point", help="one meter (point code)")
    c.add_argument("--by", choices=["day", "month"], default="day")
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
    p.add_argument("--tariff", default="CN-GD-IND-TOU", help="tariff id (default: Guangdong 2021 industrial TOU)")
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


def point_kwh_15min(conn, point: dict, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    """A meter's energy per 15 min (kWh), indexed by interval end."""
    from ems.readings.query import read_point
    from ems.units import conversion

    frame = read_point(conn, point, start, end, "15min")
    scale, _ = conversion(point["unit"], "kWh")
    return pd.Series(frame["delta_sum"].astype(float).to_numpy() * scale,
                     index=pd.DatetimeIndex(frame["bucket"]) + _QUARTER, name=point["code"])


def _daily_max(conn, code: str | None, start, end) -> pd.Series | None:
    if not code:
        return None
    point = _point(conn, code)
    from ems.readings.query import read_point

    frame = read_point(conn, point, start, end, "day")
    return pd.Series(frame["max"].to_numpy(float), index=pd.DatetimeIndex(frame["bucket"]).date)


def _price(conn, args, kwh: pd.Series, site: str, tz: str, start, end) -> pd.DataFrame:
    from ems.analytics.tariff_cost import site_energy_cost
    from ems.analytics.tariff_files import TariffAssignment

    tariffs = _tariffs(args)
    if not any(t.id == args.tariff for t in tariffs):
        raise UserError(f"no tariff with id '{args.tariff}' (ems cost --list-tariffs)", where="--tariff")
    assignment = TariffAssignment(site_code=site, tariff_id=args.tariff, valid_from=start.date())
    return site_energy_cost(kwh, site, [assignment], tariffs, tz, _daily_max(conn, args.temp_point, start, end))


def _range(args, tz: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    if not args.start or not args.end:
        raise UserError("--from and --to are needed", where="--from")
    return parse_time(args.start, tz, "--from"), parse_time(args.end, tz, "--to")


def cmd_cost(args) -> int:
    from ems.analytics.tariff_cost import cost_summary
    from ems.rollups.query import node_energy

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
            frame = node_energy(conn, args.node, start, end, "15min", "electricity")
            kwh = pd.Series(frame["value"].astype(float).to_numpy(), index=pd.DatetimeIndex(frame["bucket"]) + _QUARTER)
        if kwh.empty:
            print("no electricity readings in this range")
            return 0
        summary = cost_summary(_price(conn, args, kwh, site, tz, start, end), by=args.by)
    with pd.option_context("display.max_rows", 500, "display.width", 160, "display.float_format", "{:,.2f}".format):
        print(summary.to_string(index=False))
    print(f"total: {summary['kwh'].sum():,.2f} kWh, {summary['cost_cny'].sum():,.2f} CNY")
    for note in summary.attrs.get("assumptions", []):
        print(f"note: {note}")
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
