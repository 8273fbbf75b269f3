"""``ems forecast``: backtest any CSV series; train and run forecasts for stored points.

``ems forecast backtest --csv FILE ...`` needs no plant and no database.
"""

from __future__ import annotations

import json
import math

from ems.errors import UserError


def register(sub) -> None:
    f = sub.add_parser("forecast", help="forecasting: backtest, train, run",
                       description="Forecasts with quantiles; every model is scored against seasonal naive.")
    fsub = f.add_subparsers(dest="forecast_command", metavar="ACTION", required=True)

    b = fsub.add_parser("backtest", help="rolling-origin backtest of a CSV series (no plant needed)",
                        description="Each origin sees only the data up to it. Feature columns are treated as known "
                                    "for the horizon at issue time (weather forecasts, schedules, setpoints).")
    b.add_argument("--csv", required=True, help="CSV file")
    b.add_argument("--time-col", required=True, help="time stamp column (naive times are local to --tz)")
    b.add_argument("--target-col", required=True)
    b.add_argument("--feature-cols", default="", help="comma-separated future-known feature columns")
    b.add_argument("--tz", default="UTC", help="IANA zone of naive time stamps and of the calendar (default UTC)")
    b.add_argument("--freq", default="15min", help="step (default 15min)")
    b.add_argument("--horizon", default="1d", help="e.g. 2h, 1d, or a number of steps (default 1d)")
    b.add_argument("--models", default=None, help="comma-separated: ets,sarimax,gbm (default: all)")
    b.add_argument("--folds", type=int, default=5, help="number of origins (default 5)")
    b.add_argument("--step", default=None, help="time between origins (default: the horizon)")
    b.add_argument("--calendar", default="CN", help="CN (Chinese holidays and adjusted working days) or none")
    b.add_argument("--report", help="write a Markdown report to FILE.md (a PNG plot beside it if matplotlib is "
                                    "installed)")
    b.add_argument("--json", action="store_true", help="print the metrics of every model as one JSON object")
    b.set_defaults(handler=cmd_backtest)

    from forecasting.jobs_cli import register_jobs

    register_jobs(fsub)


def _clean(obj):
    """JSON without NaN (null instead)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    return obj


def cmd_backtest(args) -> int:
    from forecasting.backtest import backtest, rolling_origins
    from forecasting.checks import require_ok
    from forecasting.contract import Spec, step_text
    from forecasting.data import horizon_steps, parse_freq, read_csv_series
    from forecasting.models import parse_models

    if args.folds < 1:
        raise UserError("must be at least 1", where="--folds")
    freq = parse_freq(args.freq)
    steps = horizon_steps(args.horizon, freq)
    features = [c.strip() for c in args.feature_cols.split(",") if c.strip()]
    calendar = None if args.calendar.lower() == "none" else args.calendar.upper()
    _check_tz(args.tz)
    frame = read_csv_series(args.csv, args.time_col, args.target_col, features, freq, args.tz)
    spec = Spec(target=args.target_col, freq=freq, horizon=steps, future_known=tuple(features),
                calendar=calendar, tz=args.tz)
    check = require_ok(frame[args.target_col], freq, name=args.target_col)
    step = horizon_steps(args.step, freq, "--step") if args.step else None
    origins = rolling_origins(frame.index, spec, folds=args.folds, step=step)
    result = backtest(frame, spec, parse_models(args.models), origins)
    if args.report:
        from forecasting.report import write_report

        write_report(result, args.report, source=args.csv)
    if args.json:
        out = result.as_dict() | {"checks": {"completeness": check.completeness, "warnings": check.warnings}}
        print(json.dumps(_clean(out), default=str))
        return 0
    print(f"{args.target_col}: {len(origins)} origins, horizon {steps} x {step_text(freq)} "
          f"({step_text(steps * freq)})")
    for w in check.warnings:
        print(f"warning: {w}")
    print(f"{'model':<12}{'MAE':>10}{'RMSE':>10}{'CV(RMSE)':>10}{'NMBE':>9}{'MASE':>7}{'pinball':>10}"
          f"{'cover':>7}{'skill_d':>9}{'skill_w':>9}")
    for name, m in result.metrics.items():
        print(f"{name:<12}{m['mae']:10.4g}{m['rmse']:10.4g}{m['cv_rmse']:10.3f}{m['nmbe']:9.3f}{m['mase']:7.3f}"
              f"{m['pinball']:10.4g}{m.get('coverage', math.nan):7.2f}{m['skill_day']:9.3f}{m['skill_week']:9.3f}")
    for name, why in result.failures.items():
        print(f"{name}: failed: {why}")
    if args.report:
        print(f"report: {args.report}")
    return 0


def _check_tz(tz: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UserError(f"unknown time zone '{tz}'", where="--tz") from exc
