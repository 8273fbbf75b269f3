"""Demo-plant forecast figures from the plant twin's historian export (``ems sim generate``).

1. Zone temperature (workshop WS1), 2 h ahead at 15 min, issued every 2 h, with the chilled-water
   supply temperature (controllable) and outdoor temperature as future-known inputs.
2. Compressed-air demand (flow), day-ahead at 15 min, issued daily at local midnight.

The first ``--train-days`` are for fitting (once); the rest is the test period, each forecast made
from the data before its issue time only. Outdoor temperature is the twin's actual weather used as a
perfect weather forecast (an optimistic assumption: say so when quoting the figure).
Last line: ``bench: forecast_demo zone_mae_c=... air_mae=... air_naive_day_mae=... air_skill_day=...``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from forecasting.backtest import backtest  # noqa: E402
from forecasting.contract import Spec  # noqa: E402


def load(out: Path, plant: str, tz: str) -> pd.DataFrame:
    frames = [pd.read_csv(f, encoding="gbk", index_col=0) for f in sorted((out / plant).glob("*_15min.csv"))]
    frame = pd.concat(frames)
    # interval-end labels in plant-local time -> interval start, UTC
    idx = pd.DatetimeIndex(pd.to_datetime(frame.index)).tz_localize(tz) - pd.Timedelta("15min")
    frame.index = idx.tz_convert("UTC")
    frame = frame[~frame.index.duplicated()]
    return frame.reindex(pd.date_range(frame.index[0], frame.index[-1], freq="15min"))


def report(title: str, result) -> None:
    print(title)
    for name, m in result.metrics.items():
        print(f"  {name:<11} MAE {m['mae']:.4f}  RMSE {m['rmse']:.4f}  CV(RMSE) {m['cv_rmse']:.3f}  "
              f"skill_day {m['skill_day']:+.3f}  skill_week {m['skill_week']:+.3f}  cover80 {m['coverage']:.2f}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--plant", default="FS")
    p.add_argument("--tz", default="Asia/Shanghai")
    p.add_argument("--days", type=int, default=56)
    p.add_argument("--train-days", type=int, default=42)
    p.add_argument("--start", default="2025-06-02")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "ems.cli.main", "sim", "generate", "--days", str(args.days),
                        "--start", args.start, "--out", tmp, "--plants", args.plant], check=True)
        frame = load(Path(tmp), args.plant, args.tz)
    P = args.plant
    train_end = frame.index[0] + pd.Timedelta(days=args.train_days) - pd.Timedelta("15min")

    zone = frame[[f"{P}.WS1.T", f"{P}.CHW.Ts", f"{P}.WX.T"]]
    zspec = Spec(target=f"{P}.WS1.T", freq="15min", horizon=8, future_known=(f"{P}.CHW.Ts", f"{P}.WX.T"),
                 tz=args.tz)
    zorigins = list(pd.date_range(train_end, frame.index[-1] - pd.Timedelta("2h"), freq="2h"))
    zres = backtest(zone, zspec, ["gbm", "sarimax"], zorigins, fit_until=train_end)
    report(f"zone temperature {P}.WS1.T, 2 h ahead, {len(zorigins)} issues", zres)

    air = frame[[f"{P}.AIR.F", f"{P}.WX.T"]]
    aspec = Spec(target=f"{P}.AIR.F", freq="15min", horizon=96, future_known=(), tz=args.tz)
    midnights = pd.date_range(train_end.tz_convert(args.tz).ceil("1D"), frame.index[-1].tz_convert(args.tz)
                              - pd.Timedelta("1D"), freq="1D").tz_convert("UTC")
    aorigins = [t - aspec.freq for t in midnights]
    ares = backtest(air, aspec, ["gbm", "sarimax", "ets"], aorigins, fit_until=train_end)
    report(f"compressed-air demand {P}.AIR.F, day-ahead, {len(aorigins)} issues", ares)

    zbest = min(("gbm", "sarimax"), key=lambda m: zres.metrics[m]["mae"])
    abest = min(("gbm", "sarimax", "ets"), key=lambda m: ares.metrics[m]["mae"])
    z, a = zres.metrics[zbest], ares.metrics[abest]
    print(f"bench: forecast_demo zone_model={zbest} zone_mae_c={z['mae']:.4f} "
          f"zone_naive_day_mae_c={zres.metrics['naive_day']['mae']:.4f} air_model={abest} air_mae={a['mae']:.4f} "
          f"air_naive_day_mae={ares.metrics['naive_day']['mae']:.4f} "
          f"air_naive_week_mae={ares.metrics['naive_week']['mae']:.4f} "
          f"air_skill_day={a['skill_day']:.4f} air_skill_week={a['skill_week']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
