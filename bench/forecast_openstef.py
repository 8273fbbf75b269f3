"""Day-ahead 15-min forecast of the OpenSTEF reference set 307 (net load with PV, NL).

Train on the train file (2020-08-15 .. 2020-10-31), test on the test file (November 2020). Each day
at 00:00 UTC a forecast is issued for the next 96 quarter-hours, from the data up to the issue time
only (the last known row is 23:45; the models are fitted once, on the train file). Weather, clear-sky,
standard-profile and day-ahead price columns are used as future-known inputs: in OpenSTEF they are
the weather forecasts and the day-ahead auction result available before the day starts.

Baselines on the same points: the same slot one day earlier and one week earlier.
Last line: ``bench: forecast_openstef mae=... naive_day_mae=... naive_week_mae=... skill_week=...``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from forecasting.backtest import backtest  # noqa: E402
from forecasting.contract import Spec  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TRAIN = DATA / "openstef_ref307_load_weather_15min_train_2020.csv.gz"
TEST = DATA / "openstef_ref307_load_weather_15min_test_2020.csv.gz"
FUTURE_KNOWN = ("radiation", "temp", "clouds", "windspeed", "windspeed_100m", "humidity", "pressure", "rain",
                "clearSky_ulf", "clearSky_dlf", "day_ahead_electricity_price", "sjv_E1A", "sjv_E3A")


def load() -> tuple[pd.DataFrame, pd.Timestamp]:
    train = pd.read_csv(TRAIN, index_col=0, parse_dates=True)
    test = pd.read_csv(TEST, index_col=0, parse_dates=True)
    test = test.loc[test.index > train.index[-1]]  # the files share one time stamp
    frame = pd.concat([train, test])
    frame = frame.reindex(pd.date_range(frame.index[0], frame.index[-1], freq="15min"))
    return frame, train.index[-1]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="gbm,sarimax,ets")
    args = p.parse_args(argv)
    frame, train_end = load()
    spec = Spec(target="load", freq="15min", horizon=96, future_known=FUTURE_KNOWN, calendar=None,
                tz="Europe/Amsterdam")
    issue = pd.date_range(train_end.ceil("1D"), frame.index[-1] - pd.Timedelta("1D"), freq="1D")
    origins = [t - spec.freq for t in issue]
    models = [m for m in args.models.split(",") if m]
    t0 = time.perf_counter()
    result = backtest(frame, spec, models, origins, fit_until=train_end,
                      options={"ets": {"window_days": 14}, "sarimax": {"window_days": 21}})
    elapsed = time.perf_counter() - t0
    print(f"OpenSTEF ref 307: train {frame.index[0]:%Y-%m-%d} .. {train_end:%Y-%m-%d %H:%M}, "
          f"{len(origins)} day-ahead issues {origins[0]:%Y-%m-%d %H:%M} .. {origins[-1]:%Y-%m-%d %H:%M} UTC, "
          f"{elapsed:.0f} s")
    print(f"{'model':<12}{'MAE':>8}{'RMSE':>8}{'CV(RMSE)':>10}{'NMBE':>8}{'MASE':>7}{'pinball':>9}"
          f"{'cover80':>9}{'skill_d':>9}{'skill_w':>9}{'fit_s':>7}")
    for name, m in result.metrics.items():
        print(f"{name:<12}{m['mae']:8.3f}{m['rmse']:8.3f}{m['cv_rmse']:10.3f}{m['nmbe']:8.3f}{m['mase']:7.3f}"
              f"{m['pinball']:9.3f}{m.get('coverage', float('nan')):9.3f}{m['skill_day']:9.3f}"
              f"{m['skill_week']:9.3f}{result.fit_seconds.get(name, 0):7.1f}")
    for name, why in result.failures.items():
        print(f"{name}: failed: {why}")
    best = min((m for m in models if m in result.metrics), key=lambda m: result.metrics[m]["mae"])
    m = result.metrics[best]
    print(f"best model: {best}")
    print(f"bench: forecast_openstef model={best} mae={m['mae']:.4f} cv_rmse={m['cv_rmse']:.4f} "
          f"naive_day_mae={result.metrics['naive_day']['mae']:.4f} "
          f"naive_week_mae={result.metrics['naive_week']['mae']:.4f} "
          f"skill_day={m['skill_day']:.4f} skill_week={m['skill_week']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
