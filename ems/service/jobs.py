"""The built-in scheduled jobs: thin wrappers over the product's functions (``job(conn) -> rows touched``)."""

from __future__ import annotations

import psycopg

JOB_RUN_KEEP_DAYS = 90


def rollup_refresh(conn: psycopg.Connection) -> int:
    """Refresh the dirty roll-up buckets; rows written."""
    from ems.rollups.refresh import refresh_rollups

    return refresh_rollups(conn).rows_written


def job_run_prune(conn: psycopg.Connection) -> int:
    """Delete run records older than :data:`JOB_RUN_KEEP_DAYS`; rows deleted."""
    cur = conn.execute("DELETE FROM job_run WHERE started_at < now() - make_interval(days => %s)",
                       (JOB_RUN_KEEP_DAYS,))
    return cur.rowcount


def noop(conn: psycopg.Connection) -> int:
    conn.execute("SELECT 1")
    return 0
