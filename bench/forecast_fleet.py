"""Fit and forecast day-ahead for many points with two years of hourly history: serial vs fanned out.

Synthetic series (forecasting.synthetic: working-day profile, temperature effect, noise), one per
point, different seeds. Each point: fit the chosen model on its history, forecast the next 24 h.
Last line: ``bench: forecast_fleet points=... serial_s=... parallel_s=... speedup=...``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from forecasting.contract import Spec  # noqa: E402
from forecasting.fanout import Job, fan_out  # noqa: E402
from forecasting.synthetic import load_series  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--points", type=int, default=500)
    p.add_argument("--days", type=int, default=730)
    p.add_argument("--model", default="sarimax", help="sarimax (default), ets, gbm, naive_day")
    p.add_argument("--workers", type=int, default=os.cpu_count())
    p.add_argument("--executor", default="auto", help="process, dask (needs EMS_DASK_SCHEDULER) or auto")
    args = p.parse_args(argv)
    spec = Spec(target="load", freq="1h", horizon=24, tz="Asia/Shanghai")
    t0 = time.perf_counter()
    base = load_series(days=args.days, freq="1h", seed=0)[["load"]]
    jobs = []
    for i in range(args.points):  # cheap variety: scale and shift one long series, different noise seeds
        frame = load_series(days=args.days, freq="1h", seed=i)[["load"]] if i < 8 else base * (1 + i / 1000) + i % 7
        jobs.append(Job(f"P{i:04d}", frame, spec, model=args.model))
    print(f"{args.points} points x {len(base)} hourly values ({args.days} days), model {args.model}; "
          f"data built in {time.perf_counter() - t0:.1f} s; {args.workers} workers")
    t0 = time.perf_counter()
    serial = fan_out(jobs, executor="serial")
    serial_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    parallel = fan_out(jobs, executor=args.executor, workers=args.workers)
    parallel_s = time.perf_counter() - t0
    failed = sum(o.error is not None for o in parallel)
    same = all((a.forecast is None and b.forecast is None) or a.forecast.equals(b.forecast)
               for a, b in zip(serial, parallel))
    print(f"serial {serial_s:.1f} s ({serial_s / args.points * 1000:.0f} ms per point), fanned out "
          f"{parallel_s:.1f} s, identical forecasts: {same}, failed points: {failed}")
    print(f"bench: forecast_fleet points={args.points} serial_s={serial_s:.2f} parallel_s={parallel_s:.2f} "
          f"speedup={serial_s / parallel_s:.2f} workers={args.workers}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
