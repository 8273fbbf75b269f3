"""Write an accepted set-point to the plant over OPC UA: off by default, bounded, rate-limited, audited.

Rules: write-back must be enabled in the configuration; the recommendation must be *accepted*; the
value is clamped to [low, high] and to at most ``max_step`` from the value the controller holds now;
two writes to one node are at least ``min_interval_s`` apart. Every attempt - written, clamped,
refused or failed - is a row in ``setpoint_write``; a successful write marks the recommendation
applied.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import psycopg

from ems.optimize import store


@dataclass(frozen=True)
class WritebackConfig:
    endpoint: str
    node_id: str
    low: float
    high: float
    max_step: float
    min_interval_s: float = 900.0
    enabled: bool = False
    decision_key: str = "chws_setpoint_c"
    timeout_s: float = 5.0


def _audit(conn, rec_id, cfg: WritebackConfig, requested, written, previous, outcome, reason, actor) -> dict:
    conn.execute("""INSERT INTO setpoint_write (rec_id, endpoint, node_id, requested_value, written_value,
                        previous_value, outcome, reason, actor) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                 (rec_id, cfg.endpoint, cfg.node_id, requested, written, previous, outcome, reason, actor))
    return {"outcome": outcome, "requested": requested, "written": written, "previous": previous, "reason": reason}


async def write_accepted(conn: psycopg.Connection, rec_id: int, cfg: WritebackConfig, actor: str = "ems") -> dict:
    rec = store.get(conn, rec_id)
    requested = float(rec["decision"][cfg.decision_key])
    if not cfg.enabled:
        return _audit(conn, rec_id, cfg, requested, None, None, "refused", "write-back is disabled", actor)
    if rec["status"] != "accepted":
        return _audit(conn, rec_id, cfg, requested, None, None, "refused",
                      f"recommendation is {rec['status']}, not accepted", actor)
    recent = conn.execute(
        """SELECT count(*) FROM setpoint_write WHERE node_id = %s AND outcome IN ('written', 'clamped')
           AND at > now() - make_interval(secs => %s)""", (cfg.node_id, cfg.min_interval_s)).fetchone()[0]
    if recent:
        return _audit(conn, rec_id, cfg, requested, None, None, "refused",
                      f"rate limit: last write to {cfg.node_id} less than {cfg.min_interval_s:.0f} s ago", actor)
    from asyncua import Client, ua

    try:
        async with Client(url=cfg.endpoint, timeout=cfg.timeout_s) as client:
            node = client.get_node(cfg.node_id)
            previous = float(await node.read_value())
            value = min(max(requested, cfg.low), cfg.high)
            value = min(max(value, previous - cfg.max_step), previous + cfg.max_step)
            await node.write_value(ua.DataValue(ua.Variant(value, ua.VariantType.Double)))
    except (TimeoutError, OSError, ua.UaError) as exc:
        return _audit(conn, rec_id, cfg, requested, None, None, "failed", f"{type(exc).__name__}: {exc}", actor)
    outcome = "written" if abs(value - requested) < 1e-9 else "clamped"
    reason = None if outcome == "written" else f"bounded to [{cfg.low}, {cfg.high}], step <= {cfg.max_step}"
    res = _audit(conn, rec_id, cfg, requested, value, previous, outcome, reason, actor)
    store.set_status(conn, rec_id, "applied", actor, f"written over OPC UA: {value:g}")
    return res


def write_accepted_sync(conn, rec_id: int, cfg: WritebackConfig, actor: str = "ems") -> dict:
    return asyncio.run(write_accepted(conn, rec_id, cfg, actor))
