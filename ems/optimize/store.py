"""Recommendations in PostgreSQL (``sql/009_recommendations.sql``): insert, lifecycle, listing.

The lifecycle is enforced in the database (trigger): proposed -> accepted | rejected (with a
reason) | expired; accepted -> applied | rejected | expired; applied -> expired. Every transition
is logged in ``recommendation_event``. Decision, inputs and expectations are immutable once stored.
"""

from __future__ import annotations

import json
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from ems.errors import UserError

COLUMNS = ("rec_id", "plant_code", "system", "created_at", "valid_from", "valid_to", "decision", "baseline_decision",
           "expected_kwh_saved", "expected_cost_cny_saved", "expected_tco2_saved", "diagnosis", "status",
           "status_reason", "decided_by", "applied_at", "measured_kwh_saved")


def _json_default(o: Any):
    if hasattr(o, "isoformat"):
        return o.isoformat()
    if hasattr(o, "tolist"):
        return o.tolist()
    return str(o)


def _jsonb(v: dict) -> Jsonb:
    return Jsonb(json.loads(json.dumps(v, default=_json_default)))


def insert_recommendation(conn: psycopg.Connection, rec: dict) -> int:
    row = conn.execute(
        """INSERT INTO recommendation (plant_code, system, valid_from, valid_to, inputs, baseline_decision, decision,
               expected_kwh_saved, expected_cost_cny_saved, expected_tco2_saved, diagnosis)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING rec_id""",
        (rec["plant_code"], rec["system"], rec["valid_from"], rec["valid_to"], _jsonb(rec["inputs"]),
         _jsonb(rec["baseline_decision"]), _jsonb(rec["decision"]), float(rec["expected_kwh_saved"]),
         float(rec["expected_cost_cny_saved"]), float(rec["expected_tco2_saved"]), rec.get("diagnosis") or None),
    ).fetchone()
    return int(row[0])


def get(conn: psycopg.Connection, rec_id: int) -> dict:
    row = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM recommendation WHERE rec_id = %s", (rec_id,)).fetchone()
    if row is None:
        raise UserError(f"no recommendation {rec_id} (see 'ems optimize list')")
    return dict(zip(COLUMNS, row, strict=True))


def set_status(conn: psycopg.Connection, rec_id: int, status: str, actor: str | None = None,
               reason: str | None = None) -> dict:
    """Move a recommendation along its lifecycle; a refused transition is a UserError."""
    if status == "rejected" and not (reason or "").strip():
        raise UserError("rejecting a recommendation needs a reason (--reason)")
    cur = get(conn, rec_id)
    try:
        with conn.transaction():
            conn.execute(
                """UPDATE recommendation SET status = %s, status_reason = %s, decided_by = %s,
                       decided_at = CASE WHEN %s IN ('accepted', 'rejected') THEN now() ELSE decided_at END,
                       applied_at = CASE WHEN %s = 'applied' THEN now() ELSE applied_at END
                   WHERE rec_id = %s""", (status, reason, actor, status, status, rec_id))
    except psycopg.errors.RaiseException as exc:
        raise UserError(f"recommendation {rec_id} is {cur['status']}: cannot become {status}") from exc
    return get(conn, rec_id)


def expire_due(conn: psycopg.Connection, now) -> int:
    """Expire proposed/accepted/applied recommendations whose validity has ended; return how many."""
    rows = conn.execute(
        """UPDATE recommendation SET status = 'expired', status_reason = 'validity ended'
           WHERE status IN ('proposed', 'accepted', 'applied') AND valid_to <= %s RETURNING rec_id""", (now,)).fetchall()
    return len(rows)


def record_measured(conn: psycopg.Connection, rec_id: int, kwh_saved: float, method: str) -> None:
    """The measured saving of an applied recommendation (e.g. from ems.analytics.baseline models)."""
    cur = get(conn, rec_id)
    if cur["applied_at"] is None:
        raise UserError(f"recommendation {rec_id} was never applied: no measured saving")
    conn.execute("""UPDATE recommendation SET measured_kwh_saved = %s, measured_method = %s, measured_at = now()
                    WHERE rec_id = %s""", (kwh_saved, method, rec_id))


def list_recommendations(conn: psycopg.Connection, plant: str | None = None, status: str | None = None,
                         limit: int = 50) -> list[dict]:
    where, args = [], []
    if plant:
        where.append("plant_code = %s")
        args.append(plant)
    if status:
        where.append("status = %s")
        args.append(status)
    sql = f"SELECT {', '.join(COLUMNS)} FROM recommendation"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY rec_id DESC LIMIT %s"
    rows = conn.execute(sql, (*args, limit)).fetchall()
    return [dict(zip(COLUMNS, r, strict=True)) for r in rows]


def events(conn: psycopg.Connection, rec_id: int) -> list[tuple]:
    return conn.execute("SELECT from_status, to_status, actor, reason FROM recommendation_event WHERE rec_id = %s "
                        "ORDER BY event_id", (rec_id,)).fetchall()
