"""The scheduler against a real PostgreSQL: job store, run records, retries, alarms, misfires, overlaps,
one scheduler per database."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from ems.service.config import JobSchedule, Retry, load_service_config
from ems.service.scheduler import JobScheduler, PlannedJob, execute_job, sqlalchemy_engine

_calls: dict[str, int] = {}
_gate = threading.Event()


def flaky(conn) -> int:
    """Fails twice, then touches 7 rows."""
    _calls["flaky"] = _calls.get("flaky", 0) + 1
    if _calls["flaky"] <= 2:
        raise RuntimeError(f"transient failure {_calls['flaky']}")
    conn.execute("SELECT 1")
    return 7


def broken(conn) -> int:
    raise ValueError("meter table on fire")


def slow(conn) -> int:
    _gate.wait(10)
    return 1


def per_site(conn, site: str) -> int:
    return conn.execute("SELECT count(*) FROM node WHERE code = %s", (site,)).fetchone()[0] + 100


def job(target: str, *, attempts: int = 3, key: str | None = None, per_site_: bool = False, site=None) -> PlannedJob:
    name = target.split(":")[1]
    return PlannedJob(key or name, name, site, f"{__name__}:{target.split(':')[1]}", per_site_,
                      JobSchedule(every="1h"), "UTC", Retry(attempts=attempts, backoff_s=0.05, factor=2), 60)


def runs(conn, key):
    return conn.execute("SELECT status, attempt, rows_touched, error FROM job_run WHERE job_key = %s ORDER BY run_id",
                        (key,)).fetchall()


def test_retry_with_backoff_then_success(db, conn):
    _calls.clear()
    t0 = time.perf_counter()
    assert execute_job(db, job("x:flaky"), alarm_after=3) == "ok"
    assert time.perf_counter() - t0 >= 0.05 + 0.1          # waited 0.05 s, then 0.1 s
    rows = runs(conn, "flaky")
    assert [r[:3] for r in rows] == [("retry", 1, None), ("retry", 2, None), ("ok", 3, 7)]
    assert "transient failure 1" in rows[0][3]


def test_alarm_after_repeated_failures_and_cleared_by_success(db, conn):
    bad = job("x:broken", attempts=2, key="probe")
    for n in range(3):
        assert execute_job(db, bad, alarm_after=3) == "failed"
        alarms = conn.execute("SELECT failures, last_error, cleared_at FROM job_alarm WHERE job_key = 'probe'").fetchall()
        assert len(alarms) == (1 if n == 2 else 0)
    assert alarms[0][0] == 3 and "meter table on fire" in alarms[0][1] and alarms[0][2] is None
    assert [r[0] for r in runs(conn, "probe")] == ["retry", "failed"] * 3
    execute_job(db, bad, alarm_after=3)                      # a 4th failure updates the same alarm
    assert conn.execute("SELECT count(*), max(failures) FROM job_alarm WHERE job_key = 'probe'").fetchone() == (1, 4)
    good = PlannedJob("probe", "noop", None, "ems.service.jobs:noop", False, JobSchedule(every="1h"), "UTC",
                      Retry(attempts=1), 60)
    assert execute_job(db, good, alarm_after=3) == "ok"
    assert conn.execute("SELECT cleared_at IS NOT NULL FROM job_alarm WHERE job_key = 'probe'").fetchone()[0]


def test_per_site_job_gets_its_site(db, conn):
    conn.execute("INSERT INTO node (code, level, timezone) VALUES ('QD', 'site', 'Asia/Shanghai')")
    j = job("x:per_site", key="per_site@QD", per_site_=True, site="QD")
    assert execute_job(db, j, alarm_after=3) == "ok"
    assert conn.execute("SELECT site, rows_touched FROM job_run WHERE job_key = 'per_site@QD'").fetchone() == ("QD", 101)


def test_sqlalchemy_engine_takes_any_conninfo(db_url):
    from sqlalchemy import text

    eng = sqlalchemy_engine(db_url)                   # key=value conninfo (embedded server: a Unix socket)
    with eng.connect() as c:
        assert c.execute(text("SELECT count(*) FROM scheduler_job")).scalar() == 0
    eng.dispose()


def _cfg(tmp_path, jobs: str, extra: str = ""):
    p = tmp_path / "s.yaml"
    p.write_text(f"scheduler:\n  standby_poll_s: 0.2\n  retry: {{attempts: 1}}\n{extra}  jobs:\n{jobs}")
    return load_service_config(p, environ={})


def _wait(pred, timeout=15.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False


def test_scheduler_runs_jobs_from_the_postgres_store(db, conn, tmp_path):
    cfg = _cfg(tmp_path, "    noop: {every: 1s}\n    rollup_refresh: {every: 1h}\n")
    s = JobScheduler(db, cfg)
    s.start()
    try:
        assert s.state == "running"
        stored = dict(conn.execute("SELECT id, next_run_time FROM scheduler_job").fetchall())
        assert set(stored) == {"noop", "rollup_refresh"}
        assert _wait(lambda: conn.execute("SELECT count(*) FROM job_run WHERE job = 'noop' AND status = 'ok'")
                     .fetchone()[0] >= 2)
        late = conn.execute("SELECT max(extract(epoch FROM started_at - scheduled_at)) FROM job_run "
                            "WHERE job = 'noop'").fetchone()[0]
        assert late is not None and 0 <= late < 1.0
    finally:
        s.stop()
    # a restart with the same schedule keeps the stored next run time (misfires are then caught up)
    before = conn.execute("SELECT next_run_time FROM scheduler_job WHERE id = 'rollup_refresh'").fetchone()[0]
    cfg2 = _cfg(tmp_path, "    rollup_refresh: {every: 1h}\n")
    s2 = JobScheduler(db, cfg2)
    s2.start()
    try:
        rows = dict(conn.execute("SELECT id, next_run_time FROM scheduler_job").fetchall())
        assert rows == {"rollup_refresh": before}            # unchanged job kept; 'noop' removed
    finally:
        s2.stop()


def test_misfire_is_coalesced_or_recorded_missed(db, conn, tmp_path):
    cfg = _cfg(tmp_path, "    noop: {every: 1h}\n    rollup_refresh: {every: 1h, misfire_grace_s: 1}\n")
    s = JobScheduler(db, cfg)
    s.start()
    s.stop()
    # pretend the service was down for 2.5 hours: both jobs are overdue, by 2.5, 1.5 and 0.5 h
    past = (datetime.now(UTC) - timedelta(hours=2, minutes=30)).timestamp()
    conn.execute("UPDATE scheduler_job SET next_run_time = %s", (past,))
    import pickle

    for job_id, state in conn.execute("SELECT id, job_state FROM scheduler_job").fetchall():
        st = pickle.loads(state)
        st["next_run_time"] = datetime.fromtimestamp(past, UTC)
        conn.execute("UPDATE scheduler_job SET job_state = %s WHERE id = %s", (pickle.dumps(st), job_id))
    s = JobScheduler(db, cfg)
    s.start()
    try:
        assert _wait(lambda: conn.execute("SELECT count(*) FROM job_run WHERE status IN ('ok', 'missed')")
                     .fetchone()[0] >= 2)
        time.sleep(0.3)
        got = conn.execute("SELECT job, status, count(*) FROM job_run GROUP BY 1, 2 ORDER BY 1, 2").fetchall()
    finally:
        s.stop()
    # 3 missed hourly runs of noop (grace 3600 s) collapse into one run; rollup_refresh (grace 1 s) is dropped
    assert ("noop", "ok", 1) in got
    assert ("rollup_refresh", "missed", 1) in got and not any(g[:2] == ("rollup_refresh", "ok") for g in got)


def test_overlapping_run_is_skipped_and_recorded(db, conn, tmp_path):
    _gate.clear()
    cfg = _cfg(tmp_path, f"    slow: {{every: 1s, function: '{__name__}:slow'}}\n")
    s = JobScheduler(db, cfg)
    s.start()
    try:
        assert _wait(lambda: conn.execute("SELECT count(*) FROM job_run WHERE job = 'slow' AND status = 'skipped'")
                     .fetchone()[0] >= 1)
        assert conn.execute("SELECT count(*) FROM job_run WHERE job = 'slow' AND status = 'running'").fetchone()[0] == 1
    finally:
        _gate.set()
        s.stop()
    assert conn.execute("SELECT count(*) FROM job_run WHERE job = 'slow' AND status = 'ok'").fetchone()[0] >= 1


def test_one_scheduler_per_database_second_stands_by(db, conn, tmp_path):
    cfg = _cfg(tmp_path, "    noop: {every: 1h}\n")
    first, second = JobScheduler(db, cfg), JobScheduler(db, cfg)
    first.start()
    try:
        second.start()
        assert first.state == "running" and second.state == "standby"
        first.stop()
        assert _wait(lambda: second.state == "running", timeout=5)
    finally:
        first.stop()
        second.stop()


def test_jobs_cli_run_runs_and_alarms(ems, tmp_path):
    code, out, _ = ems("jobs", "run", "rollup_refresh")
    assert code == 0 and out.startswith("rollup_refresh: ok, rows 0")
    code, out, _ = ems("jobs", "runs")
    assert code == 0 and "rollup_refresh" in out and " ok " in out
    code, out, _ = ems("jobs", "alarms")
    assert code == 0 and "no open job alarms" in out
    code, _, err = ems("jobs", "run", "nonesuch")
    assert code == 2 and "no job 'nonesuch'" in err


@pytest.fixture(autouse=True)
def _release_gate():
    yield
    _gate.set()


def test_job_run_table_rejects_unknown_status(conn):
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("INSERT INTO job_run (job, job_key, status) VALUES ('x', 'x', 'exploded')")


def test_product_jobs_are_registered_and_inventory_drafts_runs(ems):
    """The default schedule's jobs resolve in the registry; the inventory job writes drafts."""
    import datetime as dt
    from pathlib import Path

    from cms.jobs import inventory_drafts
    from ems.service.registry import resolve
    from ems.service.scheduler import plan_jobs

    for job in plan_jobs(load_service_config(None, environ={})):
        assert callable(resolve(job.target)), job.name
    assert ems("config", "load", Path(__file__).parent / "data" / "plant_small.yaml")[0] == 0
    from ems.db import open_database

    db = open_database()
    try:
        with db.connection() as conn:
            assert inventory_drafts(conn, today=dt.date(2025, 7, 1)) == 3   # GRP, PA, PB
            assert conn.execute("SELECT count(*) FROM inventory WHERE year = 2025").fetchone()[0] == 3
    finally:
        db.close()
