"""Job run records (``job_run``) and job alarms (``job_alarm``): the I/O of the scheduler's bookkeeping."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from datetime import datetime

import psycopg

log = logging.getLogger(__name__)

# Called with the alarm row (a dict) whenever an alarm is raised; the alarm module can register here.
ALARM_HOOKS: list[Callable[[dict], None]] = []
_HOST = socket.gethostname()


def start_run(conn: psycopg.Connection, job: str, site: str | None, key: str, scheduled_at: datetime | None,
              attempt: int) -> int:
    return conn.execute(
        """INSERT INTO job_run (job, site, job_key, scheduled_at, status, attempt, host, pid)
           VALUES (%s, %s, %s, %s, 'running', %s, %s, %s) RETURNING run_id""",
        (job, site, key, scheduled_at, attempt, _HOST, os.getpid())).fetchone()[0]


def finish_run(conn: psycopg.Connection, run_id: int, status: str, rows: int | None = None,
               error: str | None = None) -> None:
    conn.execute("UPDATE job_run SET finished_at = clock_timestamp(), status = %s, rows_touched = %s, error = %s "
                 "WHERE run_id = %s", (status, rows, error, run_id))


def record_event(conn: psycopg.Connection, job: str, site: str | None, key: str, status: str,
                 scheduled_at: datetime | None, error: str) -> None:
    """A run that did not start: 'missed' (misfire beyond the grace time) or 'skipped' (overlap)."""
    conn.execute(
        """INSERT INTO job_run (job, site, job_key, scheduled_at, finished_at, status, error, host, pid)
           VALUES (%s, %s, %s, %s, now(), %s, %s, %s, %s)""",
        (job, site, key, scheduled_at, status, error, _HOST, os.getpid()))


def consecutive_failures(conn: psycopg.Connection, key: str) -> int:
    """Failed runs (retries exhausted) of ``key`` since its last successful run."""
    return conn.execute(
        """SELECT count(*) FROM job_run WHERE job_key = %(k)s AND status = 'failed'
             AND run_id > coalesce((SELECT max(run_id) FROM job_run WHERE job_key = %(k)s AND status = 'ok'), 0)""",
        {"k": key}).fetchone()[0]


def after_failure(conn: psycopg.Connection, job: str, site: str | None, key: str, error: str,
                  alarm_after: int) -> dict | None:
    """Raise (or update) the job's alarm once it has failed ``alarm_after`` runs in a row; the alarm row or None."""
    n = consecutive_failures(conn, key)
    if n < alarm_after:
        return None
    row = conn.execute(
        """INSERT INTO job_alarm (job, site, job_key, failures, last_error) VALUES (%s, %s, %s, %s, %s)
           ON CONFLICT (job_key) WHERE cleared_at IS NULL
           DO UPDATE SET failures = EXCLUDED.failures, last_error = EXCLUDED.last_error
           RETURNING alarm_id, job, site, job_key, raised_at, failures, last_error, (xmax = 0) AS new""",
        (job, site, key, n, error)).fetchone()
    alarm = dict(zip(("alarm_id", "job", "site", "job_key", "raised_at", "failures", "last_error", "new"), row))
    if alarm["new"]:
        log.error("job alarm raised: %s failed %d runs in a row", key, n,
                  extra={"event": "job_alarm", "job": job, "site": site, "failures": n, "error": error})
        for hook in ALARM_HOOKS:
            try:
                hook(alarm)
            except Exception:
                log.exception("alarm hook %r failed", hook)
    return alarm


def after_success(conn: psycopg.Connection, key: str) -> int:
    """Clear the job's open alarm; the number cleared (0 or 1)."""
    n = conn.execute("UPDATE job_alarm SET cleared_at = now() WHERE job_key = %s AND cleared_at IS NULL",
                     (key,)).rowcount
    if n:
        log.info("job alarm cleared: %s ran again", key, extra={"event": "job_alarm_cleared", "job_key": key})
    return n


def recent_runs(conn: psycopg.Connection, job: str | None = None, limit: int = 30) -> list[tuple]:
    return conn.execute(
        """SELECT run_id, job_key, status, attempt, scheduled_at, started_at, finished_at, rows_touched, error
           FROM job_run WHERE %(job)s::text IS NULL OR job = %(job)s OR job_key = %(job)s
           ORDER BY run_id DESC LIMIT %(limit)s""", {"job": job, "limit": limit}).fetchall()


def open_alarms(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute("SELECT alarm_id, job_key, raised_at, failures, last_error, acknowledged_at FROM job_alarm "
                        "WHERE cleared_at IS NULL ORDER BY raised_at").fetchall()
