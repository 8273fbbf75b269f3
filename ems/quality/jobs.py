"""Scheduled jobs of data quality and alarms: plain ``job(conn) -> rows touched`` functions.

Run ``data_quality`` after ``rollup_refresh`` (the meter-tree balance reads the roll-ups) and ``alarms``
after ``data_quality`` (data-quality and imbalance rules read its tables).
"""

from __future__ import annotations

import psycopg


def data_quality(conn: psycopg.Connection) -> int:
    """Recompute the point-days touched since the last run (and today's); rows written."""
    from ems.quality.store import run_quality

    return run_quality(conn).rows_touched


def alarms(conn: psycopg.Connection) -> int:
    """Evaluate the rule set in force (``ems alarms rules load``) and notify; events and notifications."""
    from ems.alarms.engine import run_alarms
    from ems.alarms.store import current_rule_set

    rules = current_rule_set(conn)
    if rules is None:
        return 0
    return run_alarms(conn, rules).rows_touched


JOBS = {"data_quality": data_quality, "alarms": alarms}

_DESCRIPTIONS = {
    "data_quality": "data-quality figures per point and day and meter-tree balance for the days touched",
    "alarms": "evaluate the alarm rules, open/close events, send webhook and e-mail notifications",
}

try:  # plug into the scheduler registry when the service package is present (it imports this module)
    from ems.service.registry import register_job
except ImportError:  # pragma: no cover - the service package is optional
    register_job = None
if register_job is not None:
    for _name, _fn in JOBS.items():
        register_job(_name, f"{__name__}:{_fn.__name__}", description=_DESCRIPTIONS[_name])
