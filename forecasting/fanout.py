"""Fit-and-forecast for many series at once: serially, over local processes, or over a Dask cluster.

Work goes out in batches (one task per batch of series, not per series): with tasks of a few
milliseconds the scheduling overhead would eat the gain (see reference/dependency-feasibility.md §8).
With ``EMS_DASK_SCHEDULER`` set to a scheduler address (``tcp://host:8786``), ``executor='auto'``
uses that Dask cluster; otherwise a ``ProcessPoolExecutor`` on this machine.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import pandas as pd

from ems.errors import UserError
from forecasting.contract import Spec
from forecasting.models import build


@dataclass
class Job:
    """One series: ``frame`` is its history (target and future-known columns); ``future`` the
    future-known values for the horizon (None: no features)."""

    key: str
    frame: pd.DataFrame
    spec: Spec
    model: str = "sarimax"
    options: dict = field(default_factory=dict)
    future: pd.DataFrame | None = None


@dataclass
class Outcome:
    key: str
    forecast: pd.DataFrame | None
    seconds: float
    error: str | None = None


def run_job(job: Job) -> Outcome:
    t0 = time.perf_counter()
    try:
        model = build(job.model, job.spec, **job.options).fit(job.frame)
        idx = pd.date_range(job.frame.index[-1] + job.spec.freq, periods=job.spec.horizon, freq=job.spec.freq)
        future = job.future if job.future is not None else pd.DataFrame(index=idx)
        forecast = model.predict(job.frame, future)
    except (ValueError, ArithmeticError, UserError) as exc:  # one bad series must not sink the batch
        return Outcome(job.key, None, time.perf_counter() - t0, f"{type(exc).__name__}: {exc}")
    return Outcome(job.key, forecast, time.perf_counter() - t0)


def run_batch(jobs: list[Job]) -> list[Outcome]:
    return [run_job(j) for j in jobs]


def batches(jobs: list[Job], size: int) -> list[list[Job]]:
    return [jobs[i:i + size] for i in range(0, len(jobs), size)]


def fan_out(jobs: list[Job], executor: str = "auto", workers: int | None = None,
            batch_size: int | None = None, scheduler: str | None = None) -> list[Outcome]:
    """Run every job; results in the order of ``jobs``.

    ``executor``: 'serial', 'process', 'dask' or 'auto' (dask when ``EMS_DASK_SCHEDULER`` or
    ``scheduler`` is set, else process). ``batch_size`` defaults to about four batches per worker.
    """
    scheduler = scheduler or os.environ.get("EMS_DASK_SCHEDULER")
    if executor == "auto":
        executor = "dask" if scheduler else "process"
    workers = workers or os.cpu_count() or 1
    size = batch_size or max(1, -(-len(jobs) // (4 * workers)))
    parts = batches(jobs, size)
    if executor == "serial" or not jobs:
        results = [run_batch(p) for p in parts]
    elif executor == "process":
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(run_batch, parts))
    elif executor == "dask":
        if not scheduler:
            raise UserError("executor 'dask' needs a scheduler address (set EMS_DASK_SCHEDULER)")
        try:
            from distributed import Client
        except ImportError as exc:
            raise UserError("EMS_DASK_SCHEDULER is set but dask.distributed is not installed "
                            "(pip install 'dask[distributed]')") from exc
        with Client(scheduler, timeout="10s") as client:
            futures = client.map(run_batch, parts, pure=False)
            results = client.gather(futures)
    else:
        raise UserError(f"unknown executor '{executor}'; use serial, process, dask or auto")
    return [o for part in results for o in part]
