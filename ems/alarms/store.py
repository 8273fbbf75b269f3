"""Alarm persistence: the rule set in force, evaluation state, events (open/clear/acknowledge) and the
notification log."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import psycopg

from ems.alarms.hysteresis import State
from ems.alarms.rules import RuleFile, load_rules, parse_rules, sha256
from ems.errors import UserError

EVENT_COLUMNS = ("event_id", "rule_id", "rule_type", "subject", "severity", "started_at", "ended_at", "threshold",
                 "peak_value", "last_value", "message", "raised_at", "cleared_at", "acked_by", "acked_at", "ack_note")


def save_rule_set(conn: psycopg.Connection, path: str | Path) -> tuple[int, RuleFile]:
    """Validate a rules file and make it the rule set in force; returns (set id, rules)."""
    rules = load_rules(path)     # file, line and field in every error
    text = Path(path).read_text(encoding="utf-8-sig")
    set_id = conn.execute("INSERT INTO alarm_rule_set (file, file_sha256, content) VALUES (%s, %s, %s) "
                          "RETURNING set_id", (str(path), sha256(text), text)).fetchone()[0]
    return set_id, rules


def current_rule_set(conn: psycopg.Connection) -> RuleFile | None:
    row = conn.execute("SELECT file, content FROM alarm_rule_set ORDER BY set_id DESC LIMIT 1").fetchone()
    return None if row is None else parse_rules(row[1], row[0])


def load_state(conn: psycopg.Connection, rule_id: str) -> dict[str, State]:
    rows = conn.execute("SELECT subject, last_ts, phase, since, event_id FROM alarm_state WHERE rule_id = %s",
                        (rule_id,)).fetchall()
    return {s: State(phase, _ts(since), _ts(last), eid) for s, last, phase, since, eid in rows}


def save_state(conn: psycopg.Connection, rule_id: str, subject: str, st: State) -> None:
    conn.execute(
        """INSERT INTO alarm_state (rule_id, subject, last_ts, phase, since, event_id) VALUES (%s, %s, %s, %s, %s, %s)
           ON CONFLICT (rule_id, subject) DO UPDATE SET last_ts = EXCLUDED.last_ts, phase = EXCLUDED.phase,
               since = EXCLUDED.since, event_id = EXCLUDED.event_id""",
        (rule_id, subject, _py(st.last_ts), st.phase, _py(st.since), st.event_id))


def open_event(conn, *, rule_id: str, rule_type: str, subject: str, severity: str, started_at, threshold: float,
               value: float, message: str) -> int:
    """Insert an open event, or return the open one of this rule and subject (never two open at once)."""
    row = conn.execute(
        """INSERT INTO alarm_event (rule_id, rule_type, subject, severity, started_at, threshold, peak_value, last_value,
                                    message)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT (rule_id, subject) WHERE ended_at IS NULL DO NOTHING RETURNING event_id""",
        (rule_id, rule_type, subject, severity, _py(started_at), threshold, value, value, message)).fetchone()
    if row:
        return row[0]
    return conn.execute("SELECT event_id FROM alarm_event WHERE rule_id = %s AND subject = %s AND ended_at IS NULL",
                        (rule_id, subject)).fetchone()[0]


def update_values(conn, event_id: int, peak: float, last: float, direction: str) -> None:
    agg = "GREATEST" if direction == "above" else "LEAST"
    conn.execute(f"UPDATE alarm_event SET peak_value = {agg}(peak_value, %s), last_value = %s WHERE event_id = %s",
                 (peak, last, event_id))


def close_event(conn, event_id: int, ended_at, value: float) -> None:
    conn.execute("UPDATE alarm_event SET ended_at = %s, cleared_at = now(), last_value = %s WHERE event_id = %s",
                 (_py(ended_at), value, event_id))


def acknowledge(conn: psycopg.Connection, event_id: int, who: str, note: str | None) -> dict:
    row = conn.execute("UPDATE alarm_event SET acked_by = %s, acked_at = now(), ack_note = %s WHERE event_id = %s "
                       "RETURNING event_id", (who, note, event_id)).fetchone()
    if row is None:
        raise UserError(f"no alarm event with id {event_id}", where="EVENT_ID")
    return event(conn, event_id)


def event(conn: psycopg.Connection, event_id: int) -> dict:
    row = conn.execute(f"SELECT {', '.join(EVENT_COLUMNS)} FROM alarm_event WHERE event_id = %s",
                       (event_id,)).fetchone()
    return dict(zip(EVENT_COLUMNS, row))


def list_events(conn: psycopg.Connection, *, open_only: bool = False, unacked: bool = False,
                rule_id: str | None = None, limit: int = 100) -> pd.DataFrame:
    where = ["(%s::text IS NULL OR rule_id = %s)"]
    if open_only:
        where.append("ended_at IS NULL")
    if unacked:
        where.append("acked_at IS NULL")
    rows = conn.execute(f"SELECT {', '.join(EVENT_COLUMNS)} FROM alarm_event WHERE {' AND '.join(where)} "
                        "ORDER BY started_at DESC, event_id DESC LIMIT %s", (rule_id, rule_id, limit)).fetchall()
    return pd.DataFrame(rows, columns=list(EVENT_COLUMNS))


def pending_notifications(conn, rule_id: str, channels: int, max_attempts: int) -> list[tuple[dict, str]]:
    """(event, kind) pairs of a rule with ``channels`` notifiers whose notifications are not all done
    (sent, or failed ``max_attempts`` times): 'raised' for every event, 'cleared' for ended ones."""
    rows = conn.execute(
        f"""SELECT {', '.join('e.' + c for c in EVENT_COLUMNS)}, k.kind FROM alarm_event e
            CROSS JOIN (VALUES ('raised'), ('cleared')) AS k(kind)
            WHERE e.rule_id = %s AND (k.kind = 'raised' OR e.ended_at IS NOT NULL)
              AND (SELECT count(*) FROM alarm_notification n WHERE n.event_id = e.event_id AND n.kind = k.kind
                   AND (n.status = 'sent' OR n.attempts >= %s)) < %s
            ORDER BY e.event_id, k.kind DESC""", (rule_id, max_attempts, channels)).fetchall()
    return [(dict(zip(EVENT_COLUMNS, r[:-1])), r[-1]) for r in rows]


def notification_status(conn, event_id: int, channel: str, kind: str) -> tuple[str, int] | None:
    row = conn.execute("SELECT status, attempts FROM alarm_notification WHERE event_id = %s AND channel = %s "
                       "AND kind = %s", (event_id, channel, kind)).fetchone()
    return None if row is None else (row[0], row[1])


def record_notification(conn, event_id: int, channel: str, kind: str, error: str | None) -> None:
    conn.execute(
        """INSERT INTO alarm_notification (event_id, channel, kind, status, error) VALUES (%s, %s, %s, %s, %s)
           ON CONFLICT (event_id, channel, kind) DO UPDATE SET status = EXCLUDED.status, error = EXCLUDED.error,
               attempts = alarm_notification.attempts + 1, sent_at = now()""",
        (event_id, channel, kind, "failed" if error else "sent", error))


def _ts(x) -> pd.Timestamp | None:
    return None if x is None else pd.Timestamp(x).tz_convert("UTC")


def _py(x):
    return None if x is None else pd.Timestamp(x).to_pydatetime()
