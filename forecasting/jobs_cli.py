"""``ems forecast train``, ``ems forecast run`` and ``ems forecast accuracy`` for stored points."""

from __future__ import annotations

import json

import pandas as pd

from ems.errors import UserError


def register_jobs(fsub) -> None:
    t = fsub.add_parser("train", help="backtest, fit and register models for a stored point; pick the champion")
    t.add_argument("--point", required=True, help="target point code")
    t.add_argument("--features", default="", help="future-known feature point codes, comma separated")
    t.add_argument("--freq", default="15min")
    t.add_argument("--horizon", default="1d", help="e.g. 2h, 1d")
    t.add_argument("--models", default=None, help="comma-separated: ets,sarimax,gbm (default: all)")
    t.add_argument("--days", type=float, default=35, help="days of history (default 35)")
    t.add_argument("--until", help="end of the training data (UTC ISO time; default now)")
    t.add_argument("--folds", type=int, default=5)
    t.add_argument("--calendar", default="CN")
    t.add_argument("--json", action="store_true")
    t.set_defaults(handler=cmd_train)

    r = fsub.add_parser("run", help="issue and store the champion's forecast for a stored point")
    r.add_argument("--point", required=True)
    r.add_argument("--at", help="issue time (UTC ISO; default: after the last reading)")
    r.add_argument("--horizon", default=None, help="pick the champion of this horizon (default: shortest)")
    r.add_argument("--freq", default="15min", help="step, to read --horizon (default 15min)")
    r.add_argument("--json", action="store_true")
    r.set_defaults(handler=cmd_run)

    a = fsub.add_parser("accuracy", help="fill arrived actuals, show live accuracy per lead hour, flag drift")
    a.add_argument("--point", required=True)
    a.add_argument("--ratio", type=float, default=2.0, help="drift when live MAE > RATIO x backtest MAE")
    a.add_argument("--json", action="store_true")
    a.set_defaults(handler=cmd_accuracy)


def _time(text: str | None, flag: str) -> pd.Timestamp | None:
    if not text:
        return None
    try:
        ts = pd.Timestamp(text)
    except ValueError as exc:
        raise UserError(f"'{text}' is not a time", where=flag) from exc
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def cmd_train(args) -> int:
    from ems.cli.common import database
    from forecasting.cli import _clean
    from forecasting.data import horizon_steps, parse_freq
    from forecasting.jobs import train_point
    from forecasting.models import parse_models

    freq = parse_freq(args.freq)
    features = tuple(c.strip() for c in args.features.split(",") if c.strip())
    with database() as db, db.connection() as conn:
        out = train_point(conn, args.point, horizon=horizon_steps(args.horizon, freq), freq=freq,
                          models=parse_models(args.models), days=args.days, end=_time(args.until, "--until"),
                          feature_codes=features, folds=args.folds,
                          calendar=None if args.calendar.lower() == "none" else args.calendar.upper())
    if args.json:
        print(json.dumps(_clean(out), default=str))
        return 0
    print(f"{args.point}: {len(out['models'])} models registered, champion {out['champion']} "
          f"(model {out['champion_id']})")
    for name, m in out["metrics"].items():
        print(f"  {name:<12} MAE {m['mae']:.4g}  skill vs day {m['skill_day']:+.1%}  vs week {m['skill_week']:+.1%}")
    return 0


def cmd_run(args) -> int:
    from ems.cli.common import database
    from forecasting.data import horizon_steps, parse_freq
    from forecasting.jobs import run_point

    horizon = horizon_steps(args.horizon, parse_freq(args.freq)) if args.horizon else None
    with database() as db, db.connection() as conn:
        out = run_point(conn, args.point, at=_time(args.at, "--at"), horizon=horizon)
    fc = out.pop("forecast")
    if args.json:
        out["forecast"] = [{"ts": ts.isoformat(), **row} for ts, row in fc.round(6).iterrows()]
        print(json.dumps(out, default=str))
        return 0
    print(f"{args.point}: {out['values']} values issued at {out['issued_at']} by {out['model']} "
          f"(model {out['model_id']}); first p50 {fc['p50'].iloc[0]:.4g}, last p50 {fc['p50'].iloc[-1]:.4g}")
    return 0


def cmd_accuracy(args) -> int:
    from ems.cli.common import database
    from forecasting.cli import _clean
    from forecasting.jobs import update_accuracy

    with database() as db, db.connection() as conn:
        out = update_accuracy(conn, args.point, ratio=args.ratio)
    if args.json:
        print(json.dumps(_clean(out), default=str))
        return 0
    print(f"{args.point}: {out['filled']} actuals filled")
    for row in out["accuracy"]:
        print(f"  model {row['model_id']} {row['model']:<10} lead {row['lead_h']:>3} h  n {row['n']:>5}  "
              f"MAE {row['mae']:.4g}  skill {row['skill'] if row['skill'] is None else round(row['skill'], 3)}")
    if out["drift"]:
        d = out["drift"]
        print(f"  DRIFT: live MAE {d['live_mae']:.4g} is {d['ratio']:.2f} x the backtest MAE {d['backtest_mae']:.4g}")
    return 0
