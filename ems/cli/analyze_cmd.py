"""``ems enpi | intensity | tce | profile | peak | baseline``: indicators of a node from the roll-ups."""

from __future__ import annotations

import json

import pandas as pd

from ems.cli.common import database
from ems.cli.readings_cmd import parse_time
from ems.errors import UserError


def register(sub) -> None:
    e = sub.add_parser("enpi", help="equipment EnPIs: chiller plant kW/kW, kW/RT, COP, delta-T; compressed-air "
                                    "specific power, leak baseline, dryer purge share")
    _common(e)
    e.add_argument("--by", choices=["day", "month"], default="month")
    e.set_defaults(handler=cmd_enpi)
    i = sub.add_parser("intensity", help="electricity per unit of output per product line and plant")
    _common(i)
    i.add_argument("--by", choices=["day", "month"], default="month")
    i.set_defaults(handler=cmd_intensity)
    t = sub.add_parser("tce", help="energy in tonnes of standard coal equivalent (GB/T 2589) per medium")
    _common(t)
    t.add_argument("--basis", choices=["equivalent", "equal_value"], default="equivalent",
                   help="electricity at its calorific equivalent (0.1229 kgce/kWh) or equal value (grid coal)")
    t.add_argument("--include", default="", help="secondary media to count anyway, e.g. heat")
    t.set_defaults(handler=cmd_tce)
    p = sub.add_parser("profile", help="typical day of electric power per day type (workday, weekend, holiday)")
    _common(p)
    p.set_defaults(handler=cmd_profile)
    k = sub.add_parser("peak", help="maximum 15-min electric demand per month")
    _common(k)
    k.set_defaults(handler=cmd_peak)
    s = sub.add_parser("sankey", help="energy flows from supplies through systems to workshops (MWh), with balances")
    _common(s)
    s.set_defaults(handler=cmd_sankey)
    b = sub.add_parser("baseline", help="weather- and production-normalised baseline and measured savings")
    b.add_argument("--node", required=True)
    b.add_argument("--base", required=True, help="base period FROM..TO, e.g. 2025-01-01..2025-07-01")
    b.add_argument("--reporting", required=True, help="reporting period FROM..TO")
    b.add_argument("--json", action="store_true")
    b.add_argument("--csv", action="store_true", help="print the daily savings table as CSV")
    b.set_defaults(handler=cmd_baseline)


def _common(p) -> None:
    p.add_argument("--node", required=True, help="node code (group, plant, workshop, system)")
    p.add_argument("--from", dest="start", required=True, help="start (site local time)")
    p.add_argument("--to", dest="end", required=True, help="end, exclusive")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true")
    out.add_argument("--csv", action="store_true")


def _range(conn, args) -> tuple[pd.Timestamp, pd.Timestamp]:
    from ems.analytics.sources import node_info

    tz = node_info(conn, args.node)["timezone"]
    return parse_time(args.start, tz, "--from"), parse_time(args.end, tz, "--to")


def _show(title: str, frame: pd.DataFrame, args) -> None:
    if args.csv:
        print(frame.to_csv(index=False), end="")
        return
    print(f"== {title}")
    if frame.empty:
        print("(no data in this range)")
        return
    with pd.option_context("display.max_rows", 400, "display.width", 200, "display.max_columns", 30,
                           "display.float_format", "{:,.3f}".format):
        print(frame.to_string(index=False))


def _records(frame: pd.DataFrame) -> list[dict]:
    return json.loads(frame.to_json(orient="records", date_format="iso"))


def cmd_enpi(args) -> int:
    from ems.analytics.reports import air_stations, chiller_plants

    with database() as db, db.connection() as conn:
        start, end = _range(conn, args)
        chillers = chiller_plants(conn, args.node, start, end, args.by)
        air = air_stations(conn, args.node, start, end, args.by)
    if not chillers and not air:
        raise UserError(f"no chiller plant or compressed-air station (points with role chiller_plant_energy or "
                        f"air_station_energy) below '{args.node}'", where="--node")
    if args.json:
        print(json.dumps({"chiller_plants": {k: _records(v) for k, v in chillers.items()},
                          "air_stations": {k: _records(v) for k, v in air.items()}}, indent=1))
        return 0
    for system, table in chillers.items():
        _show(f"chiller plant {system}", table, args)
    for system, table in air.items():
        _show(f"compressed-air station {system}", table, args)
    return 0


def cmd_intensity(args) -> int:
    from ems.analytics.reports import intensity

    with database() as db, db.connection() as conn:
        start, end = _range(conn, args)
        table = intensity(conn, args.node, start, end, args.by)
    if args.json:
        print(json.dumps(_records(table), indent=1))
        return 0
    _show(f"electricity intensity (kWh per unit) below {args.node}", table, args)
    return 0


def cmd_tce(args) -> int:
    from ems.analytics.reports import tce

    include = tuple(m.strip() for m in args.include.split(",") if m.strip())
    with database() as db, db.connection() as conn:
        start, end = _range(conn, args)
        table, skipped = tce(conn, args.node, start, end, args.basis, include)
    total = float(table["tce"].sum()) if len(table) else 0.0
    if args.json:
        print(json.dumps({"node": args.node, "basis": args.basis, "total_tce": total, "media": _records(table),
                          "equal_value_year": table.attrs.get("equal_value_year"),
                          "not_counted": skipped}, indent=1, ensure_ascii=False))
        return 0
    _show(f"{args.node}: energy in tce ({args.basis} basis)", table, args)
    if not args.csv:
        print(f"total: {total:,.3f} tce")
        if table.attrs.get("equal_value_year"):
            print(f"note: electricity equal value of {table.attrs['equal_value_year']} (the latest published "
                  "year not after the period)")
        for medium, why in skipped.items():
            print(f"not counted: {medium}: {why}")
    return 0


def _power(args) -> tuple[str, pd.Series]:
    """The node's zone and its 15-min electric power over the requested range."""
    from ems.analytics.reports import power_kw_15min
    from ems.analytics.sources import node_info

    with database() as db, db.connection() as conn:
        start, end = _range(conn, args)
        return node_info(conn, args.node)["timezone"], power_kw_15min(conn, args.node, start, end)


def cmd_profile(args) -> int:
    from ems.analytics.profiles import typical_days

    tz, power = _power(args)
    days = typical_days(power, tz)
    table = pd.DataFrame({f"{kind}_kw": d["mean"] for kind, d in days.items()})
    table.index = [t.strftime("%H:%M") for t in table.index]
    table = table.rename_axis("time").reset_index()
    if args.json:
        print(json.dumps({"node": args.node, "n_days": {k: d.attrs["n_days"] for k, d in days.items()},
                          "profile": _records(table)}, indent=1))
        return 0
    counts = ", ".join(f"{k} {d.attrs['n_days']} d" for k, d in days.items())
    _show(f"{args.node}: typical day, mean kW per 15 min ({counts})", table, args)
    return 0


def cmd_peak(args) -> int:
    from ems.analytics.profiles import monthly_peak_demand

    tz, power = _power(args)
    table = monthly_peak_demand(power.dropna(), tz)
    if args.json:
        print(json.dumps(_records(table), indent=1))
        return 0
    _show(f"{args.node}: maximum 15-min demand per month", table, args)
    return 0


def _period(text: str, tz: str, where: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    if ".." not in text:
        raise UserError("a period looks like FROM..TO, e.g. 2025-01-01..2025-07-01", where=where)
    a, b = text.split("..", 1)
    return parse_time(a, tz, where), parse_time(b, tz, where)


def cmd_baseline(args) -> int:
    from ems.analytics.reports import baseline
    from ems.analytics.sources import node_info

    with database() as db, db.connection() as conn:
        tz = node_info(conn, args.node)["timezone"]
        base, reporting = _period(args.base, tz, "--base"), _period(args.reporting, tz, "--reporting")
        if reporting[0] < base[1]:
            raise UserError("the reporting period must start after the base period ends", where="--reporting")
        report = baseline(conn, args.node, base, reporting)
    model, table = report.model, report.savings
    summary = table.attrs["summary"]
    if args.json:
        print(json.dumps({"node": args.node, "model": model.to_dict(), "summary": summary,
                          "savings": _records(table.reset_index())}, indent=1, default=str))
        return 0
    if args.csv:
        print(table.reset_index().to_csv(index=False), end="")
        return 0
    m = model.metrics
    print(f"baseline of {args.node} electricity, daily, features: {', '.join(report.features)}")
    print(f"fit on {int(m['n'])} days: CV(RMSE) {m['cv_rmse_pct']:.1f} %, NMBE {m['nmbe_pct']:.2f} %, "
          f"adj. R2 {m['adj_r2']:.3f} -> {'meets' if model.acceptable else 'does NOT meet'} ASHRAE Guideline 14 "
          f"(CV(RMSE) <= {model.thresholds['cv_rmse_pct']:g} %, |NMBE| <= {model.thresholds['nmbe_pct']:g} %)")
    for name, coef in model.coefficients.items():
        print(f"  {name:<24} {coef:>14,.3f}  (p = {model.p_values[name]:.3g})")
    print(f"reporting period: baseline {summary['baseline_total']:,.0f} kWh, actual {summary['actual_total']:,.0f} kWh, "
          f"savings {summary['savings_total']:,.0f} kWh ({summary['fractional_savings'] * 100:.1f} %) "
          f"+/- {summary.get('savings_total_u90', float('nan')):,.0f} kWh at 90 % confidence")
    return 0


def cmd_sankey(args) -> int:
    from ems.analytics.reports import energy_flows
    from ems.analytics.sankey import build_sankey

    with database() as db, db.connection() as conn:
        start, end = _range(conn, args)
        flows = energy_flows(conn, args.node, start, end)
    if flows.empty:
        raise UserError(f"no metered energy flows below '{args.node}' (meters with parents or site virtual meters)",
                        where="--node")
    data = build_sankey(flows, "MWh")
    links = data.links[["source", "target", "value", "kind"]]
    if args.json:
        print(json.dumps({"unit": "MWh", "nodes": data.nodes, "links": _records(links),
                          "balance": _records(data.balance), "plotly": data.to_plotly()}, indent=1, ensure_ascii=False))
        return 0
    _show(f"{args.node}: energy flows (MWh)", links, args)
    if not args.csv:
        _show("balance of each through-node", data.balance, args)
    return 0
