"""One alarm run: evaluate every enabled rule from where its last run stopped, open and close events,
then send the notifications that are due (new events, cleared events, earlier failures).

De-duplication: each (rule, subject) carries its hysteresis state between runs, so a run never
re-evaluates samples it has seen and never opens a second event while one is open (also enforced by a
unique index). Notifications are an outbox: each (event, notifier, raised|cleared) is sent once; a
failed one is retried on later runs up to :data:`MAX_ATTEMPTS` times.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import pandas as pd
import psycopg

from ems.alarms import store
from ems.alarms.hysteresis import Condition, State, step
from ems.alarms.notify import NotifyError, send
from ems.alarms.rules import RuleFile, _Rule
from ems.alarms.signals import signals

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5


@dataclass
class AlarmRunResult:
    samples: int = 0
    raised: int = 0
    cleared: int = 0
    notified: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def rows_touched(self) -> int:
        return self.raised + self.cleared + self.notified + self.failed


def condition(rule: _Rule) -> Condition:
    return Condition(rule.direction, rule.on, rule.off, pd.Timedelta(rule.min_duration), pd.Timedelta(rule.min_clear))


def _message(rule: _Rule, subject: str, value: float) -> str:
    what = {"threshold": "value", "rate_of_change": "rate per hour", "forecast_deviation": "deviation from forecast",
            "data_quality": getattr(rule, "check", ""), "meter_imbalance": "unaccounted share",
            "enpi": getattr(rule, "indicator", "")}[rule.type]   # type: ignore[attr-defined]
    return f"{rule.id}: {subject} {what} {value:.4g} {rule.direction} {rule.on:g}"


def evaluate_rule(conn: psycopg.Connection, rule: _Rule, now: pd.Timestamp, since: pd.Timestamp | None,
                  result: AlarmRunResult) -> None:
    states = store.load_state(conn, rule.id)
    known = [s.last_ts for s in states.values() if s.last_ts is not None]
    start = min(known) if known else (since if since is not None else now - pd.Timedelta(rule.lookback))
    cond = condition(rule)
    with conn.transaction():
        for subject, series in signals(conn, rule, start, now).items():
            st = states.get(subject, State())
            if st.last_ts is None and since is not None:
                st.last_ts = since
            fresh = series[series.index > st.last_ts] if st.last_ts is not None else series
            result.samples += int(fresh.notna().sum())
            for t in step(st, fresh, cond):
                if t.kind == "raise":
                    st.event_id = store.open_event(
                        conn, rule_id=rule.id, rule_type=rule.type, subject=subject,   # type: ignore[attr-defined]
                        severity=rule.severity, started_at=t.ts, threshold=rule.on, value=t.peak,
                        message=_message(rule, subject, t.peak))
                    store.update_values(conn, st.event_id, t.peak, t.value, rule.direction)
                    result.raised += 1
                elif st.event_id is not None:
                    store.close_event(conn, st.event_id, t.ts, t.value)
                    st.event_id = None
                    result.cleared += 1
            if st.event_id is not None and st.phase in ("active", "pending_off") and fresh.notna().any():
                worst = fresh.max() if rule.direction == "above" else fresh.min()
                store.update_values(conn, st.event_id, float(worst), float(fresh.dropna().iloc[-1]), rule.direction)
            store.save_state(conn, rule.id, subject, st)


def notify_due(conn: psycopg.Connection, rules: RuleFile, result: AlarmRunResult) -> None:
    for rule in rules.rules:
        notifiers = rules.notifiers_of(rule)
        if not notifiers:
            continue
        for ev, kind in store.pending_notifications(conn, rule.id, len(notifiers), MAX_ATTEMPTS):
            for n in notifiers:
                status = store.notification_status(conn, ev["event_id"], n.id, kind)
                if status and (status[0] == "sent" or status[1] >= MAX_ATTEMPTS):
                    continue
                try:
                    send(n, ev, kind)
                    error = None
                    result.notified += 1
                except NotifyError as exc:
                    error = str(exc)
                    result.failed += 1
                    log.warning("alarm %s: %s notification via %s failed: %s", ev["event_id"], kind, n.id, error)
                store.record_notification(conn, ev["event_id"], n.id, kind, error)


def run_alarms(conn: psycopg.Connection, rules: RuleFile, *, now: pd.Timestamp | None = None,
               since: pd.Timestamp | None = None, notify: bool = True) -> AlarmRunResult:
    """Evaluate ``rules`` up to ``now``; ``since`` sets where subjects never evaluated start (default: each
    rule's ``lookback`` before now). A rule whose data cannot be read is reported and skipped."""
    from ems.errors import UserError

    now = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now).tz_convert("UTC")
    since = None if since is None else pd.Timestamp(since).tz_convert("UTC")
    result = AlarmRunResult()
    for rule in rules.rules:
        if not rule.enabled:
            continue
        try:
            evaluate_rule(conn, rule, now, since, result)
        except UserError as exc:
            result.errors.append(f"rule '{rule.id}': {exc.message}")
    if notify:
        notify_due(conn, rules, result)
    return result
