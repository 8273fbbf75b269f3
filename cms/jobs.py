"""Scheduled carbon jobs: the draft inventories of the current year, kept current from the roll-ups.

``inventory_drafts(conn)`` syncs metered activity from the energy roll-ups and recomputes the draft
inventory of every root node and plant for the current (and, in January, the previous) year; inventories
in review or locked are left alone (a newer factor is a restatement, made on purpose).
"""

from __future__ import annotations

import datetime as dt

import psycopg


def inventory_drafts(conn: psycopg.Connection, today: dt.date | None = None) -> int:
    """Recompute the drafts; returns the number of inventories written."""
    from cms import inventory_store
    from cms.engine import Settings
    from cms.rollup_activity import sync_rollup_activity

    today = today or dt.date.today()
    years = [today.year - 1, today.year] if today.month == 1 else [today.year]
    plants = [r[0] for r in conn.execute("SELECT code FROM node WHERE level = 'plant' ORDER BY code")]
    roots = [r[0] for r in conn.execute("SELECT code FROM node WHERE parent_id IS NULL ORDER BY code")] + plants
    written = 0
    for year in years:
        lo, hi = dt.date(year, 1, 1), dt.date(year + 1, 1, 1)
        sync_rollup_activity(conn, plants, lo, hi)
        for root in roots:
            existing = inventory_store.find(conn, root, lo, hi)
            if existing is None or existing["status"] == "draft":
                inventory_store.save_draft(conn, Settings(root=root, period_start=lo, period_end=hi), "scheduler",
                                           year=year)
                written += 1
    conn.commit()
    return written


def factor_restatements(conn: psycopg.Connection) -> int:
    """A draft restatement (with its line-by-line diff) of every locked inventory whose factors have since
    been superseded by a newer version; returns the restatements written. Locking one stays a person's act."""
    from cms.restate import restate

    rows = conn.execute(
        """SELECT DISTINCT n.code, i.period_start, i.period_end, i.year FROM inventory i JOIN node n USING (node_id)
           JOIN inventory_factor x USING (inventory_id) JOIN factor f USING (factor_pk)
           WHERE i.status = 'locked' AND f.superseded_by IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM inventory j WHERE j.node_id = i.node_id AND j.period_start = i.period_start
                             AND j.period_end = i.period_end AND j.revision > i.revision AND j.status = 'locked')
           ORDER BY 1, 2""").fetchall()
    written = 0
    for code, start, end, year in rows:
        written += bool(restate(conn, code, start, end, "scheduler", year=year)["inventory_id"])
    conn.commit()
    return written


try:  # plug into the scheduler registry when the service package is present
    from ems.service.registry import register_job
except ImportError:  # pragma: no cover
    register_job = None
if register_job is not None:
    register_job("inventory_drafts", f"{__name__}:inventory_drafts",
                 description="draft Scope 1/2 inventories of the current year from the roll-ups")
    register_job("factor_restatements", f"{__name__}:factor_restatements",
                 description="draft restatements of locked inventories whose factors were superseded")
