"""Fan-out gives the same forecasts as a serial loop: over processes and over a local Dask cluster."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ems.errors import UserError
from forecasting.contract import Spec
from forecasting.fanout import Job, fan_out
from forecasting.synthetic import load_series


def _jobs(n=4):
    spec = Spec(target="load", freq="1h", horizon=24, tz="Asia/Shanghai")
    jobs = [Job(f"p{i}", load_series(days=15, freq="1h", seed=i)[["load"]], spec, model="sarimax",
                options={"window_days": 14}) for i in range(n)]
    bad = load_series(days=15, freq="1h")[["load"]].iloc[:5]  # far too short for a weekly model
    jobs.append(Job("bad", bad, spec, model="gbm"))
    return jobs


@pytest.fixture(scope="module")
def serial():
    return fan_out(_jobs(), executor="serial", batch_size=2)


def _same(a, b):
    assert [o.key for o in a] == [o.key for o in b]
    for x, y in zip(a, b):
        if x.forecast is None:
            assert y.forecast is None and x.error == y.error
        else:
            pd.testing.assert_frame_equal(x.forecast, y.forecast)


def test_serial_results_and_a_failing_series(serial):
    assert [o.key for o in serial] == [f"p{i}" for i in range(4)] + ["bad"]
    assert all(o.forecast is not None and len(o.forecast) == 24 for o in serial[:4])
    assert serial[-1].forecast is None and "too short" in serial[-1].error
    assert np.isfinite(serial[0].forecast.to_numpy()).all()


def test_process_pool_matches_serial(serial):
    _same(serial, fan_out(_jobs(), executor="process", workers=2, batch_size=3))


def test_dask_cluster_from_the_environment_matches_serial(serial, monkeypatch):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        monkeypatch.setenv("EMS_DASK_SCHEDULER", cluster.scheduler_address)
        _same(serial, fan_out(_jobs(), executor="auto", batch_size=2))


def test_dask_without_a_scheduler_is_a_user_error(monkeypatch):
    monkeypatch.delenv("EMS_DASK_SCHEDULER", raising=False)
    with pytest.raises(UserError, match="EMS_DASK_SCHEDULER"):
        fan_out(_jobs(1), executor="dask")
