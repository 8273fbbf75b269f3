"""The scheduler: APScheduler 3.x with its job store in PostgreSQL, exactly one per database.

* The job store is ``SQLAlchemyJobStore`` (table ``scheduler_job``, migration 010) over SQLAlchemy's
  ``postgresql+psycopg`` dialect. The engine is built with a ``creator`` that hands SQLAlchemy a psycopg
  connection made from the product's own conninfo, so every form works: a URL, a key=value conninfo and
  the embedded server's Unix-socket URI (``postgresql://postgres:@/postgres?host=/path/pgdata``).
* One scheduler per database: it holds a PostgreSQL advisory lock while it runs. A second worker started
  against the same database stands by and takes over when the first one stops (or dies: its session ends
  and the lock with it).
* Every scheduled job calls the module-level :func:`run_job` (APScheduler pickles the reference), which
  looks the job up in the registry, runs it on a pooled connection, records each attempt in ``job_run``,
  retries with exponential back-off, and raises a ``job_alarm`` after repeated failed runs.
* ``coalesce=True`` and ``max_instances=1`` on every job: runs missed while the service was down collapse
  into one; a run due while the previous one is still going is skipped and recorded as 'skipped'; a run
  later than the grace time is dropped and recorded as 'missed'.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg

from ems.db.connection import Database
from ems.service import runs
from ems.service.config import JobSchedule, Retry, ServiceConfig, parse_every
from ems.service.registry import lookup, resolve

log = logging.getLogger(__name__)

SCHEDULER_LOCK_KEY = 0x454D5353  # 'EMSS'
JOB_TABLE = "scheduler_job"


@dataclass(frozen=True)
class PlannedJob:
    key: str                    # scheduler id: name or name@site
    name: str
    site: str | None
    target: str                 # 'package.module:function'
    per_site: bool
    schedule: JobSchedule
    timezone: str
    retry: Retry
    misfire_grace_s: float

    def trigger(self):
        from apscheduler.triggers.cron import CronTrigger
        from apscheduler.triggers.interval import IntervalTrigger

        if self.schedule.cron:
            return CronTrigger.from_crontab(self.schedule.cron, timezone=self.timezone)
        return IntervalTrigger(seconds=parse_every(self.schedule.every).total_seconds(), timezone=self.timezone)


def plan_jobs(cfg: ServiceConfig) -> list[PlannedJob]:
    """The jobs the configuration asks for, one per (job, site) for per-site jobs."""
    s = cfg.scheduler
    out: list[PlannedJob] = []

    def make(name: str, sched: JobSchedule, site: str | None, tz: str, per_site: bool) -> None:
        if not sched.enabled:
            return
        spec = lookup(name)
        target = sched.function or (spec.target if spec else None)
        if target is None:  # a per-site job known only from its group-level entry
            target = s.jobs[name].function
        out.append(PlannedJob(
            key=f"{name}@{site}" if site else name, name=name, site=site, target=target, per_site=per_site,
            schedule=sched, timezone=tz, retry=sched.retry or s.retry,
            misfire_grace_s=sched.misfire_grace_s or s.misfire_grace_s))

    site_scoped = {n for site in s.sites.values() for n in site.jobs}
    for name, sched in s.jobs.items():
        spec = lookup(name)
        per_site = bool(spec and spec.per_site) or name in site_scoped
        if per_site:
            # group-level entry of a per-site job: the default schedule of every configured site
            for code, site in s.sites.items():
                if name not in site.jobs:
                    make(name, sched, code, site.timezone or s.timezone, True)
        else:
            make(name, sched, None, s.timezone, False)
    for code, site in s.sites.items():
        for name, sched in site.jobs.items():
            base = s.jobs.get(name)
            if base is not None and sched.function is None and base.function:
                sched = sched.model_copy(update={"function": base.function})
            make(name, sched, code, site.timezone or s.timezone, True)
    return out


# --- the run of one job (in a scheduler worker thread) ---------------------------------------------------

class _Context:
    """What :func:`run_job` needs; set by the running :class:`JobScheduler` of this process."""

    def __init__(self, db: Database, cfg: ServiceConfig, jobs: dict[str, PlannedJob], stop: threading.Event):
        self.db, self.cfg, self.jobs, self.stop = db, cfg, jobs, stop
        self.due: dict[str, datetime] = {}       # job key -> scheduled run time of the run being submitted
        self.lock = threading.Lock()


_CTX: _Context | None = None


def _rows(result: Any) -> int | None:
    if result is None or isinstance(result, bool):
        return None
    if isinstance(result, int):
        return result
    for attr in ("rows_touched", "rows_written", "rows"):
        value = getattr(result, attr, None)
        if isinstance(value, int):
            return value
    return None


def execute_job(db: Database, job: PlannedJob, *, alarm_after: int, scheduled_at: datetime | None = None,
                stop: threading.Event | None = None) -> str:
    """Run ``job`` now with retries, recording every attempt; the final status ('ok' or 'failed')."""
    stop = stop or threading.Event()
    for attempt in range(1, job.retry.attempts + 1):
        with db.connection() as rec:
            run_id = runs.start_run(rec, job.name, job.site, job.key, scheduled_at, attempt)
        t0 = time.perf_counter()
        try:
            fn = resolve(job.target)
            with db.connection() as conn:
                result = fn(conn, site=job.site) if job.per_site else fn(conn)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}".strip()
            last = attempt == job.retry.attempts or stop.is_set()
            status = "failed" if last else "retry"
            log.warning("job %s attempt %d failed: %s", job.key, attempt, error,
                        extra={"event": "job_failed", "job": job.name, "site": job.site, "attempt": attempt,
                               "status": status, "duration_s": round(time.perf_counter() - t0, 3),
                               "trace": traceback.format_exc(limit=5)})
            with db.connection() as rec:
                runs.finish_run(rec, run_id, status, error=error[:4000])
                if last:
                    runs.after_failure(rec, job.name, job.site, job.key, error[:4000], alarm_after)
                    return "failed"
            if stop.wait(job.retry.delay(attempt)):
                with db.connection() as rec:
                    runs.finish_run(rec, run_id, "failed", error=(error + " (service stopping: no more retries)")[:4000])
                    runs.after_failure(rec, job.name, job.site, job.key, error[:4000], alarm_after)
                return "failed"
            continue
        rows = _rows(result)
        with db.connection() as rec:
            runs.finish_run(rec, run_id, "ok", rows)
            runs.after_success(rec, job.key)
        log.info("job %s ok: %s rows in %.3f s", job.key, rows, time.perf_counter() - t0,
                 extra={"event": "job_ok", "job": job.name, "site": job.site, "attempt": attempt, "rows": rows,
                        "duration_s": round(time.perf_counter() - t0, 3)})
        return "ok"
    return "failed"  # pragma: no cover - the loop always returns


def run_job(name: str, site: str | None = None) -> None:
    """Entry point of every scheduled job (referenced by the job store; keep its name and module)."""
    ctx = _CTX
    key = f"{name}@{site}" if site else name
    if ctx is None:
        log.error("job %s fired outside a running scheduler", key)
        return
    with ctx.lock:
        scheduled_at = ctx.due.pop(key, None)
    job = ctx.jobs.get(key)
    if job is None:
        with ctx.db.connection() as rec:
            rid = runs.start_run(rec, name, site, key, scheduled_at, 1)
            runs.finish_run(rec, rid, "failed", error="job is no longer in the service configuration")
        return
    execute_job(ctx.db, job, alarm_after=ctx.cfg.scheduler.alarm_after_failures, scheduled_at=scheduled_at,
                stop=ctx.stop)


# --- the scheduler ----------------------------------------------------------------------------------------

def sqlalchemy_engine(conninfo: str):
    """An SQLAlchemy engine (``postgresql+psycopg``) for any libpq conninfo, Unix-socket URIs included."""
    from sqlalchemy import create_engine

    return create_engine("postgresql+psycopg://", creator=lambda: psycopg.connect(conninfo),
                         pool_pre_ping=True, pool_size=2, max_overflow=2)


class JobScheduler:
    """Starts APScheduler once this process holds the scheduler lock; stops it cleanly."""

    def __init__(self, db: Database, cfg: ServiceConfig):
        self.db = db
        self.cfg = cfg
        self.jobs = {j.key: j for j in plan_jobs(cfg)}
        self.stop_event = threading.Event()
        self.state = "stopped"           # stopped | standby | running | failed
        self.scheduler = None
        self._lock_conn: psycopg.Connection | None = None
        self._thread: threading.Thread | None = None
        self.error: str | None = None

    # lifecycle
    def start(self, *, wait_for_lock: float | None = None) -> None:
        """Take the lock (or stand by in a thread until it can) and start scheduling."""
        self.stop_event.clear()
        if self._try_lock():
            self._start_scheduler()
            return
        self.state = "standby"
        log.warning("another scheduler holds the lock for this database; standing by",
                    extra={"event": "scheduler_standby"})
        self._thread = threading.Thread(target=self._standby, name="scheduler-standby", daemon=True)
        self._thread.start()
        if wait_for_lock:
            deadline = time.monotonic() + wait_for_lock
            while self.state == "standby" and time.monotonic() < deadline:
                time.sleep(0.05)

    def _standby(self) -> None:
        while not self.stop_event.wait(self.cfg.scheduler.standby_poll_s):
            try:
                if self._try_lock():
                    self._start_scheduler()
                    return
            except Exception as exc:  # keep standing by through database outages
                log.warning("scheduler standby: %s", exc)

    def _try_lock(self) -> bool:
        if self._lock_conn is None or self._lock_conn.closed:
            self._lock_conn = psycopg.connect(self.db.url, autocommit=True, application_name="ems-scheduler-lock")
        got = self._lock_conn.execute("SELECT pg_try_advisory_lock(%s)", (SCHEDULER_LOCK_KEY,)).fetchone()[0]
        return bool(got)

    def _start_scheduler(self) -> None:
        global _CTX
        from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
        from apscheduler.schedulers.background import BackgroundScheduler

        ctx = _Context(self.db, self.cfg, self.jobs, self.stop_event)

        class _Executor(ThreadPoolExecutor):
            def _do_submit_job(self, job, run_times):       # remember when the run was due (lateness)
                with ctx.lock:
                    ctx.due[job.id] = run_times[-1]
                return super()._do_submit_job(job, run_times)

        s = self.cfg.scheduler
        self.scheduler = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=sqlalchemy_engine(self.db.url), tablename=JOB_TABLE)},
            executors={"default": _Executor(s.workers)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": int(s.misfire_grace_s)},
            timezone=s.timezone)
        self.scheduler.add_listener(self._on_missed, EVENT_JOB_MISSED)
        self.scheduler.add_listener(self._on_overlap, EVENT_JOB_MAX_INSTANCES)
        _CTX = ctx
        self.scheduler.start(paused=True)
        self._sync_jobs()
        self.scheduler.resume()
        self.state = "running"
        log.info("scheduler running with %d job(s): %s", len(self.jobs), ", ".join(sorted(self.jobs)) or "none",
                 extra={"event": "scheduler_started", "jobs": sorted(self.jobs)})

    def _sync_jobs(self) -> None:
        """Make the job store hold exactly the configured jobs; unchanged jobs keep their next run time
        (so runs missed while the service was down are caught up, coalesced into one)."""
        sch = self.scheduler
        for job in self.jobs.values():
            trigger = job.trigger()
            existing = sch.get_job(job.key)
            same = existing is not None and _trigger_id(existing.trigger) == _trigger_id(trigger) \
                and tuple(existing.args) == (job.name, job.site) \
                and existing.misfire_grace_time == int(job.misfire_grace_s)
            if same:
                continue
            sch.add_job(run_job, trigger, args=(job.name, job.site), id=job.key, name=job.key,
                        replace_existing=True, misfire_grace_time=int(job.misfire_grace_s))
        for existing in sch.get_jobs():
            if existing.id not in self.jobs:
                sch.remove_job(existing.id)

    def _on_missed(self, event) -> None:
        self._record_event(event.job_id, "missed", event.scheduled_run_time,
                           "misfire: later than the grace time; run dropped")

    def _on_overlap(self, event) -> None:
        self._record_event(event.job_id, "skipped", event.scheduled_run_times[-1],
                           "previous run still going (max_instances=1)")

    def _record_event(self, key: str, status: str, when: datetime, error: str) -> None:
        job = self.jobs.get(key)
        name, site = (job.name, job.site) if job else (key.partition("@")[0], key.partition("@")[2] or None)
        log.warning("job %s %s: %s", key, status, error, extra={"event": f"job_{status}", "job": name, "site": site})
        try:
            with self.db.connection() as rec:
                runs.record_event(rec, name, site, key, status, when, error)
        except Exception:
            log.exception("could not record the %s run of %s", status, key)

    def stop(self, timeout: float = 60.0) -> None:
        """Stop scheduling, let running jobs finish (their retries are cut short), release the lock."""
        global _CTX
        self.stop_event.set()
        if self.scheduler is not None and self.scheduler.running:
            t = threading.Thread(target=self.scheduler.shutdown, kwargs={"wait": True}, daemon=True)
            t.start()
            t.join(timeout)
            if t.is_alive():
                log.warning("scheduler: jobs still running after %.0f s; leaving them", timeout)
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._lock_conn is not None and not self._lock_conn.closed:
            self._lock_conn.close()   # the advisory lock ends with the session
        if _CTX is not None and _CTX.stop is self.stop_event:
            _CTX = None
        self.state = "stopped"
        log.info("scheduler stopped", extra={"event": "scheduler_stopped"})

    def health(self) -> dict:
        out: dict[str, Any] = {"state": self.state}
        if self.state == "running" and self.scheduler is not None:
            nxt = [j.next_run_time for j in self.scheduler.get_jobs() if j.next_run_time]
            out["jobs"] = len(self.jobs)
            out["next_run"] = min(nxt).astimezone(UTC).isoformat() if nxt else None
        return out


def _trigger_id(trigger) -> tuple:
    return type(trigger).__name__, str(trigger), str(getattr(trigger, "timezone", ""))
