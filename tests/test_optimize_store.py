"""Recommendations in PostgreSQL: lifecycle enforced by the database, audit, OPC UA write-back."""

from __future__ import annotations

import asyncio
import socket

import pandas as pd
import psycopg
import pytest

from ems.errors import UserError

pytestmark = pytest.mark.db


def _rec(**kw) -> dict:
    t0 = pd.Timestamp("2025-07-15 14:00", tz="Asia/Shanghai")
    rec = {"plant_code": "FS", "system": "chilled_water", "valid_from": t0, "valid_to": t0 + pd.Timedelta("1h"),
           "inputs": {"zone_t_c": [24.0, 26.0, 26.0], "fit": {"r2": 0.99}},
           "baseline_decision": {"chws_setpoint_c": 7.0}, "decision": {"chws_setpoint_c": 10.5, "n_chillers": 2},
           "expected_kwh_saved": 120.0, "expected_cost_cny_saved": 95.5, "expected_tco2_saved": 0.0485,
           "diagnosis": ""}
    rec.update(kw)
    return rec


def test_lifecycle_and_events(conn):
    from ems.optimize import store

    rid = store.insert_recommendation(conn, _rec())
    assert store.get(conn, rid)["status"] == "proposed"
    with pytest.raises(UserError, match="needs a reason"):
        store.set_status(conn, rid, "rejected", "alice")
    store.set_status(conn, rid, "accepted", "alice")
    with pytest.raises(UserError, match="never applied"):
        store.record_measured(conn, rid, 100.0, "baseline model")
    store.set_status(conn, rid, "applied", "ems")
    store.record_measured(conn, rid, 104.2, "ems.analytics.baseline regression")
    with pytest.raises(UserError, match="applied: cannot become accepted"):
        store.set_status(conn, rid, "accepted", "bob")
    assert store.expire_due(conn, pd.Timestamp("2025-07-15 16:00", tz="Asia/Shanghai")) == 1
    r = store.get(conn, rid)
    assert r["status"] == "expired" and r["measured_kwh_saved"] == pytest.approx(104.2)
    assert [e[1] for e in store.events(conn, rid)] == ["proposed", "accepted", "applied", "expired"]


def test_rejection_keeps_reason_and_decision_is_immutable(conn):
    from ems.optimize import store

    rid = store.insert_recommendation(conn, _rec())
    store.set_status(conn, rid, "rejected", "bob", "line changeover this afternoon")
    assert store.list_recommendations(conn, "FS", "rejected")[0]["status_reason"] == "line changeover this afternoon"
    with pytest.raises(psycopg.errors.RaiseException, match="immutable"):
        conn.execute("UPDATE recommendation SET decision = '{}'::jsonb WHERE rec_id = %s", (rid,))
    with pytest.raises(psycopg.errors.RaiseException, match="starts as proposed"):
        conn.execute("""INSERT INTO recommendation (plant_code, system, valid_from, valid_to, inputs,
                        baseline_decision, decision, expected_kwh_saved, expected_cost_cny_saved, expected_tco2_saved,
                        status) VALUES ('FS', 'storage', now(), now() + interval '1 h', '{}', '{}', '{}', 0, 0, 0,
                        'applied')""")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _server_and_write(conn, rec_ids, cfg_kwargs):
    from asyncua import Server, ua

    from ems.optimize.writeback import WritebackConfig, write_accepted

    server = Server()
    await server.init()
    url = f"opc.tcp://127.0.0.1:{_free_port()}/ems-test/"
    server.set_endpoint(url)
    idx = await server.register_namespace("urn:test:chiller-plant")
    obj = await server.nodes.objects.add_object(idx, "CHP")
    var = await obj.add_variable(ua.NodeId("CHW.SP", idx), "CHW.SP", 7.0, ua.VariantType.Double)
    await var.set_writable()
    results = []
    async with server:
        cfg = WritebackConfig(endpoint=url, node_id=var.nodeid.to_string(), **cfg_kwargs)
        for rid in rec_ids:
            results.append(await write_accepted(conn, rid, cfg, actor="test"))
        final = await var.read_value()
    return results, final


def test_writeback_off_by_default_bounded_rate_limited_audited(conn):
    from ems.optimize import store

    a = store.insert_recommendation(conn, _rec())
    b = store.insert_recommendation(conn, _rec())
    c = store.insert_recommendation(conn, _rec())
    store.set_status(conn, a, "accepted", "alice")
    store.set_status(conn, c, "accepted", "alice")
    # disabled (the default): refused, value untouched
    res, final = asyncio.run(_server_and_write(conn, [a], {"low": 6.0, "high": 12.0, "max_step": 2.0}))
    assert res[0]["outcome"] == "refused" and "disabled" in res[0]["reason"] and final == 7.0
    # enabled: proposed (not accepted) refused; accepted written but clamped to 7 + 2 K; next one rate-limited
    res, final = asyncio.run(_server_and_write(conn, [b, a, c], {"low": 6.0, "high": 12.0, "max_step": 2.0,
                                                                 "enabled": True}))
    assert res[0]["outcome"] == "refused" and "not accepted" in res[0]["reason"]
    assert res[1]["outcome"] == "clamped" and res[1]["written"] == pytest.approx(9.0) and final == pytest.approx(9.0)
    assert res[2]["outcome"] == "refused" and "rate limit" in res[2]["reason"]
    assert store.get(conn, a)["status"] == "applied"
    rows = conn.execute("SELECT outcome FROM setpoint_write ORDER BY write_id").fetchall()
    assert [r[0] for r in rows] == ["refused", "refused", "clamped", "refused"]
