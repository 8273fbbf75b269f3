"""``ems optimize``: closed-loop evaluation, recommendations and their lifecycle."""

from __future__ import annotations

import json
import sys

from ems.errors import UserError

SYSTEMS = ("chw", "air", "storage")


def register(sub) -> None:
    p = sub.add_parser("optimize", help="setpoint optimiser: evaluate on the plant twin, recommend, accept/reject",
                       description="Chilled-water, compressed-air and storage optimiser.")
    s = p.add_subparsers(dest="optimize_command", metavar="ACTION", required=True)
    e = s.add_parser("evaluate", help="closed-loop proof on the plant twin; writes docs/optimiser-results.md")
    e.add_argument("--days", type=float, default=153.0, help="window length from 2025-05-01 (default: the "
                                                             "cooling season, 153 days)")
    e.add_argument("--plant", action="append", help="plant code (repeatable; default FS and QD)")
    e.add_argument("--systems", default=",".join(SYSTEMS), help="comma list of chw, air, storage")
    e.add_argument("--json", action="store_true", help="print the results as one JSON object")
    e.add_argument("--no-doc", action="store_true", help="do not rewrite docs/optimiser-results.md")
    e.set_defaults(handler=cmd_evaluate)
    r = s.add_parser("recommend", help="a chilled-water recommendation for the plant's current state, stored")
    r.add_argument("--plant", default="FS")
    r.add_argument("--at", required=True, help="local time of the decision (the twin runs to it under the "
                                               "plant's own control), e.g. '2025-07-15 14:00'")
    r.add_argument("--forecast-issued", help="when the forecast was issued (stale beyond 1 h stops the "
                                             "recommendation)")
    r.add_argument("--json", action="store_true")
    r.set_defaults(handler=cmd_recommend)
    for name, helptext in (("accept", "accept a proposed recommendation"), ("reject", "reject one, with a reason")):
        a = s.add_parser(name, help=helptext)
        a.add_argument("rec_id", type=int)
        a.add_argument("--by", default="cli", help="who decides")
        a.add_argument("--reason", help="why (required to reject)")
        a.set_defaults(handler=cmd_accept if name == "accept" else cmd_reject)
    ls = s.add_parser("list", help="list recommendations")
    ls.add_argument("--plant")
    ls.add_argument("--status", choices=["proposed", "accepted", "rejected", "applied", "expired"])
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=cmd_list)


def _systems(text: str) -> list[str]:
    out = [x.strip() for x in text.split(",") if x.strip()]
    bad = [x for x in out if x not in SYSTEMS]
    if bad:
        raise UserError(f"unknown system(s) {', '.join(bad)} (choose from {', '.join(SYSTEMS)})")
    return out


def cmd_evaluate(args) -> int:
    from ems.optimize import evaluate, report
    from ems.optimize.config import plant_config

    if not 1 <= args.days <= 153:
        raise UserError(f"--days {args.days:g} outside 1..153 (the cooling season May-September)")
    plants = args.plant or ["FS", "QD"]
    for p in plants:
        plant_config(p)
    systems = _systems(args.systems)
    start, end = evaluate.window(args.days)
    results = []
    for p in plants:
        hist = evaluate.training(p) if ("chw" in systems or "air" in systems) else None
        if "chw" in systems:
            results.append(evaluate.evaluate_chw(p, start, end, hist))
        if "air" in systems:
            results.append(evaluate.evaluate_air(p, start, end, hist))
        if "storage" in systems:
            results.append(evaluate.evaluate_storage(p, start, end))
    summ = report.summary(results)
    if not args.no_doc:
        cmd = "ems optimize evaluate" + (f" --days {args.days:g}" if args.days != 153 else "") + "".join(
            f" --plant {p}" for p in (args.plant or []))
        report.DOC.write_text(report.markdown(results, cmd), encoding="utf-8")
    if args.json:
        json.dump(summ, sys.stdout, indent=1, default=float)
        print()
    else:
        for key, row in summ.items():
            extra = "" if "saving_vs_trim_pct" not in row else f", vs trim-and-respond {row['saving_vs_trim_pct']:.1f} %"
            print(f"{key}: saving {row.get('saving_vs_baseline_pct', float('nan')):.1f} %{extra}; "
                  f"baseline {row['baseline']['kwh']:,.0f} kWh, optimised {row['optimised']['kwh']:,.0f} kWh")
        if not args.no_doc:
            print(f"wrote {report.DOC}")
    return 0


def cmd_recommend(args) -> int:
    import pandas as pd

    from ems.cli.common import database
    from ems.optimize import evaluate, store
    from ems.optimize.chw_control import ChwOptimiser, fit_models
    from ems.optimize.closed_loop import production_plan
    from ems.optimize.config import plant_config
    from ems.optimize.history import DataProblem
    from ems.optimize.recommend import chw_recommendation
    from ems.sim.twin import PlantTwin

    pc = plant_config(args.plant)
    try:
        at = pd.Timestamp(args.at)
    except ValueError as exc:
        raise UserError(f"--at '{args.at}' is not a time") from exc
    day = at.normalize()
    twin = PlantTwin(args.plant, start=str(day.date()), days=1 + (at - day) / pd.Timedelta("1D"))
    last = None
    while twin.time <= at:
        last = twin.step(None)
    hist = evaluate.training(args.plant)
    pm, zm = fit_models(hist, production_plan(args.plant, hist.index), pc.chw)
    opt = ChwOptimiser(pc.chw, pm, zm, plan=evaluate._plan_fn(args.plant, str(day.date()),
                                                               str((day + pd.Timedelta("2D")).date())))
    issued = pd.Timestamp(args.forecast_issued) if args.forecast_issued else None
    try:
        rec = chw_recommendation(opt, pc, twin.observe(), last, issued)
    except DataProblem as exc:
        raise UserError(str(exc)) from exc
    with database() as db, db.connection() as conn:
        rec_id = store.insert_recommendation(conn, rec)
    out = {"rec_id": rec_id, "decision": rec["decision"], "expected_kwh_saved": rec["expected_kwh_saved"],
           "expected_cost_cny_saved": rec["expected_cost_cny_saved"], "expected_tco2_saved": rec["expected_tco2_saved"],
           "diagnosis": rec["diagnosis"]}
    if args.json:
        print(json.dumps(out, default=str))
    else:
        d = rec["decision"]
        print(f"recommendation {rec_id} ({args.plant}, {rec['valid_from']:%Y-%m-%d %H:%M} for 1 h): CHW supply "
              f"{d['chws_setpoint_c']:.1f} °C, {d['n_chillers']} chillers, {d['n_chw_pumps']} CHW pumps at "
              f"{d['chw_pump_hz']:.1f} Hz; expected {rec['expected_kwh_saved']:.1f} kWh, "
              f"{rec['expected_cost_cny_saved']:.2f} CNY, {rec['expected_tco2_saved'] * 1000:.1f} kgCO2 saved")
        if rec["diagnosis"]:
            print(f"diagnosis: {rec['diagnosis']}")
    return 0


def _set(args, status: str) -> int:
    from ems.cli.common import database
    from ems.optimize import store

    with database() as db, db.connection() as conn:
        rec = store.set_status(conn, args.rec_id, status, args.by, args.reason)
    print(f"recommendation {rec['rec_id']}: {rec['status']}" + (f" ({rec['status_reason']})" if rec["status_reason"]
                                                                else ""))
    return 0


def cmd_accept(args) -> int:
    return _set(args, "accepted")


def cmd_reject(args) -> int:
    return _set(args, "rejected")


def cmd_list(args) -> int:
    from ems.cli.common import database
    from ems.optimize import store

    with database() as db, db.connection() as conn:
        rows = store.list_recommendations(conn, args.plant, args.status)
    if args.json:
        print(json.dumps(rows, default=str))
        return 0
    if not rows:
        print("no recommendations")
    from zoneinfo import ZoneInfo

    tz = ZoneInfo("Asia/Shanghai")
    for r in rows:
        print(f"{r['rec_id']:>5}  {r['plant_code']}  {r['system']:<14} {r['valid_from'].astimezone(tz):%Y-%m-%d %H:%M}  "
              f"{r['status']:<9} {r['expected_kwh_saved']:8.1f} kWh  {json.dumps(r['decision'])[:80]}")
    return 0
