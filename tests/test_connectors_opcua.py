"""OPC UA connector against the simulator's asyncua server in-process: subscriptions, bad status codes,
refused nodes, and reconnect + resubscribe after the server restarts."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

POINTS = ["QD.MAIN.kWh", "QD.WX.T", "QD.AIR.P", "QD.BAT.SOC"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config(url: str):
    from ems.connectors.config import ConnectorsFile

    nodes = [{"point": p} for p in POINTS] + [{"point": "QD.GAS.m3", "node_id": "nsu=urn:carbon-cockpit:sim;s=NOPE"}]
    return ConnectorsFile.model_validate({"site": "QD", "connectors": [{
        "type": "opcua", "name": "sim-opcua", "endpoint": url, "namespace_uri": "urn:carbon-cockpit:sim",
        "publishing_interval_ms": 50, "reconnect": {"min_s": 0.2, "max_s": 0.5}, "nodes": nodes}]})


def test_config_requires_node_ids_or_namespace_and_certificates():
    from pydantic import ValidationError

    from ems.connectors.config import OpcUaConnector

    with pytest.raises(ValidationError, match="needs a node_id"):
        OpcUaConnector.model_validate({"type": "opcua", "name": "x", "endpoint": "opc.tcp://h:4840",
                                       "nodes": [{"point": "A"}]})
    with pytest.raises(ValidationError, match="certificate"):
        OpcUaConnector.model_validate({"type": "opcua", "name": "x", "endpoint": "opc.tcp://h:4840",
                                       "security_policy": "Basic256Sha256", "nodes": [{"point": "A", "node_id": "i=1"}]})
    ok = OpcUaConnector.model_validate({"type": "opcua", "name": "x", "endpoint": "opc.tcp://h:4840",
                                        "namespace_uri": "urn:u", "nodes": [{"point": "A"}, {"point": "B", "node_id": "i=5"}]})
    assert ok.node_ids() == {"nsu=urn:u;s=A": "A", "i=5": "B"}


async def _write_step(sink, values: dict[str, float], ts: datetime) -> None:
    for code, v in values.items():
        await sink.write(code, v, ts)


async def _until(predicate, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.05)


@pytest.mark.db
def test_subscription_reconnect_and_bad_status(conn, db_url, tmp_path):
    from asyncua import ua

    from ems.assets.loader import load_asset_file
    from ems.assets.store import load_asset_model
    from ems.connectors.service import LiveService
    from ems.sim.live import OpcUaSink
    from ems.sim.points import plant_points

    load_asset_model(conn, load_asset_file("examples/plant.yaml"))
    points = [p for p in plant_points("QD") if p.code in POINTS]
    url = f"opc.tcp://127.0.0.1:{_free_port()}/sim"
    t = [datetime(2025, 7, 1, tzinfo=UTC) + timedelta(minutes=15 * k) for k in range(1, 6)]
    steps = [{"QD.MAIN.kWh": 1000.0 + 10 * k, "QD.WX.T": 25.0 + k, "QD.AIR.P": 6.5, "QD.BAT.SOC": 50.0 + k}
             for k in range(5)]

    async def main():
        sink = OpcUaSink(url)
        await sink.start("QD", points)
        await _write_step(sink, steps[0], t[0])              # current values before the client subscribes
        service = LiveService(_config(url), db_url, buffer_file=tmp_path / "buf.sqlite")
        run = asyncio.create_task(service.run())
        opc = service.connectors[0]
        await asyncio.wait_for(opc.connected.wait(), 10)
        for k in (1, 2):
            await _write_step(sink, steps[k], t[k])
            await asyncio.sleep(0.15)
        bad = ua.DataValue(ua.Variant(99.0, ua.VariantType.Double), StatusCode=ua.StatusCode(ua.StatusCodes.BadSensorFailure),
                           SourceTimestamp=t[2], ServerTimestamp=t[2])
        await sink.vars["QD.WX.T"].write_value(bad)
        await asyncio.sleep(0.3)
        await sink.stop()                                     # the server goes away ...
        await _until(lambda: not opc.connected.is_set())
        sink2 = OpcUaSink(url)                                # ... and comes back (same endpoint, new process)
        await sink2.start("QD", points)
        await _write_step(sink2, steps[3], t[3])
        await asyncio.wait_for(opc.connected.wait(), 10)      # reconnected and resubscribed
        seen = opc.notifications
        await _write_step(sink2, steps[4], t[4])
        await _until(lambda: opc.notifications >= seen + len(POINTS))
        service.request_stop()
        await run
        await sink2.stop()
        return service

    service = asyncio.run(main())
    assert service.left_in_buffer == 0 and service.forwarder.stats.dead == 0
    rows = conn.execute("""SELECT p.code, r.ts, r.value FROM reading r JOIN point p USING (point_id)""").fetchall()
    sim = {(c, pd.Timestamp(ts).tz_convert("UTC"), v) for c, ts, v in rows if pd.Timestamp(ts).year == 2025}
    expected = {(c, pd.Timestamp(t[k]), v) for k in range(5) for c, v in steps[k].items()}
    assert sim == expected                                        # every value written, at its source time
    # the only other readings: the restarted server's initial 0.0 values, stamped at its start
    others = [v for c, ts, v in rows if pd.Timestamp(ts).year != 2025]
    assert set(others) <= {0.0}
    q = conn.execute("SELECT field, reason, detail, source, file FROM quarantine ORDER BY reason").fetchall()
    reasons = {(f, r) for f, r, *_ in q}
    assert ("QD.WX.T", "source_bad_quality") in reasons and ("QD.GAS.m3", "opcua_bad_node") in reasons
    assert any("BadSensorFailure" in d for _, r, d, *_ in q if r == "source_bad_quality")
    assert {s for *_, s, _f in q} == {"opcua"} and {f for *_, f in q} == {"sim-opcua"}
    assert reasons <= {("QD.WX.T", "source_bad_quality"), ("QD.GAS.m3", "opcua_bad_node"),
                       ("QD.WX.T", "out_of_range"), ("QD.AIR.P", "out_of_range"), ("QD.BAT.SOC", "out_of_range")}
