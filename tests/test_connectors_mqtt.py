"""MQTT connector against a real broker (amqtt in-process): the simulator's feed stored exactly, bad input
quarantined with the reason, payload decoding rules."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pandas as pd
import pytest
from mqttbroker import Broker, free_port

from ems.connectors.config import Payload, TopicMap
from ems.connectors.payload import decode_message, point_for, topic_matches


class ServiceThread:
    """A LiveService running in its own thread (as ``ems ingest serve`` runs it)."""

    def __init__(self, service):
        self.service = service
        self.thread = threading.Thread(target=lambda: asyncio.run(service.run()), daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 10
        while not all(c.connected.is_set() for c in self.service.connectors if hasattr(c, "connected")):
            assert time.monotonic() < deadline, "connectors did not connect"
            time.sleep(0.05)
        return self.service

    def __exit__(self, *exc):
        self.service.request_stop()
        self.thread.join(30)
        assert not self.thread.is_alive()


def wait_for(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def mqtt_config(port: int, prefix: str, **buffer):
    from ems.connectors.config import ConnectorsFile

    return ConnectorsFile.model_validate({
        "site": "QD", "buffer": buffer,
        "connectors": [{"type": "mqtt", "name": "sim-mqtt", "broker": f"127.0.0.1:{port}",
                        "client_id": f"ems-test-{port}", "reconnect": {"min_s": 1, "max_s": 2},
                        "topics": [{"filter": f"{prefix}/QD/+", "point": "{last}"},
                                   {"filter": "gw/+/batch", "point": "{1}"}]}]})


class RecordingSink:
    """The simulator's MQTT publisher, remembering what it published."""

    def __init__(self, port: int, prefix: str):
        from ems.sim.live import MqttSink

        self.sink = MqttSink(f"127.0.0.1:{port}", prefix, client_id=f"pub-{port}")
        self.sent: list[tuple[str, str, float]] = []
        self.plant_points = None

    def publish(self, plant, code, ts, value, unit):
        self.sent.append((code, ts, value))
        self.sink.publish(plant, code, ts, value, unit)

    def close(self):
        self.sink.close()


def stored_readings(conn) -> set[tuple[str, pd.Timestamp, float]]:
    rows = conn.execute("SELECT p.code, r.ts, r.value FROM reading r JOIN point p USING (point_id)").fetchall()
    return {(c, pd.Timestamp(t).tz_convert("UTC"), v) for c, t, v in rows}


def published(sent) -> set[tuple[str, pd.Timestamp, float]]:
    return {(c, pd.Timestamp(t).tz_convert("UTC"), v) for c, t, v in sent}


# ----------------------------------------------------------------------------------------- pure decoding

def test_topic_matching_and_point_templates():
    assert topic_matches("a/+/c", "a/b/c") and not topic_matches("a/+/c", "a/b/c/d")
    assert topic_matches("a/#", "a/b/c") and topic_matches("#", "x") and not topic_matches("a/b", "a")
    maps = [TopicMap(filter="carbon-cockpit/sim/QD/+"), TopicMap(filter="plant/+/meter/+", point="{1}.{3}")]
    assert point_for("carbon-cockpit/sim/QD/QD.MAIN.kWh", maps)[0] == "QD.MAIN.kWh"
    assert point_for("plant/QD/meter/kWh", maps)[0] == "QD.kWh"
    assert point_for("other/topic", maps) == (None, None)


def test_decode_formats_and_bad_input():
    maps = [TopicMap(filter="s/QD/+")]

    def dec(payload, topic="s/QD/QD.MAIN.kWh"):
        raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return decode_message(topic, raw, site="QD", origin="m", maps=maps, spec=Payload(), now_ns=10**18)

    (ok,) = dec({"ts": "2025-07-01T00:15:00+08:00", "value": 12.5, "unit": "kWh", "quality": "good"})
    assert (ok.tag, ok.value, ok.unit, ok.naive) == ("QD.MAIN.kWh", 12.5, "kWh", False)
    assert ok.ts_ns == pd.Timestamp("2025-06-30 16:15", tz="UTC").value
    assert dec(b"42")[0].value == 42 and dec(b"42")[0].ts_ns == 10**18          # bare number: now
    assert dec({"ts": 1751300100, "value": 1})[0].ts_ns == 1751300100 * 10**9   # epoch seconds
    assert dec({"ts": 1751300100000, "value": 1})[0].ts_ns == 1751300100 * 10**9  # epoch milliseconds
    assert dec({"ts": "2025-07-01 00:15", "value": 1})[0].naive                  # local time of the site
    batch = dec({"readings": [{"point": "QD.GAS.m3", "value": 3}, {"point": "QD.WATER.m3", "value": "4.5"}]})
    assert [(i.tag, i.value) for i in batch] == [("QD.GAS.m3", 3.0), ("QD.WATER.m3", 4.5)]
    reasons = {
        "malformed_json": dec(b"{not json"), "malformed_payload": dec(b"\xff\xfe"),
        "unparseable_value": dec({"value": "abc"}), "missing_value": dec({"v": 1}),
        "unparseable_time": dec({"ts": "yesterday-ish", "value": 1}),
        "source_bad_quality": dec({"value": 1, "quality": "bad"}),
        "unknown_topic": dec({"value": 1}, topic="elsewhere/x"),
    }
    for reason, items in reasons.items():
        assert [i.reason for i in items] == [reason], reason
        assert items[0].raw is not None and not items[0].is_reading


# ----------------------------------------------------------------------------------------- real broker

@pytest.mark.db
def test_simulator_feed_stored_exactly_and_bad_input_quarantined(conn, db_url, tmp_path):
    from ems.assets.loader import load_asset_file
    from ems.assets.store import load_asset_model
    from ems.connectors.service import LiveService
    from ems.sim.live import publish_live

    load_asset_model(conn, load_asset_file("examples/plant.yaml"))
    port = free_port()
    with Broker(port):
        service = LiveService(mqtt_config(port, "test/sim"), db_url, buffer_file=tmp_path / "buf.sqlite")
        with ServiceThread(service):
            sink = RecordingSink(port, "test/sim")
            asyncio.run(publish_live("QD", "2025-07-01", steps=3, speed=1e6, mqtt=sink))
            bad = [("test/sim/QD/QD.MAIN.kWh", b"{truncated"),
                   ("test/sim/QD/QD.WX.T", json.dumps({"ts": "2025-07-01T00:15:00+08:00", "value": "warm"})),
                   ("test/sim/QD/QD.NOPE", json.dumps({"ts": "2025-07-01T00:15:00+08:00", "value": 1})),
                   ("test/sim/QD/QD.WX.RH", json.dumps({"ts": "2025-07-01T01:00:00+08:00", "value": 50,
                                                        "quality": "uncertain"})),
                   ("gw/QD/batch", json.dumps({"readings": [
                       {"point": "QD.BAT.SOC", "ts": "2025-07-01T01:00:00+08:00", "value": 55.5},
                       {"point": "QD.BAT.SOC", "ts": "2025-07-01T01:15:00+08:00", "value": 56.0}]}))]
            for topic, payload in bad:
                sink.sink.client.publish(topic, payload, qos=1)
            sink.close()
            expected = len(sink.sent) + len(bad) + 1
            wait_for(lambda: service.forwarder.stats.spooled >= expected)
            assert service.forwarder.wait_idle(20)
    stats = service.forwarder.stats
    # the twin reports 0 degC for idle chilled/condenser water loops: outside the points' ranges, so
    # quarantined as out_of_range exactly like a historian file would be
    limits = {c: (lo, hi) for c, lo, hi in conn.execute("SELECT code, min_value, max_value FROM point")}
    sent = published(sink.sent)
    oor = {(c, t, v) for c, t, v in sent if (limits[c][0] is not None and v < limits[c][0])
           or (limits[c][1] is not None and v > limits[c][1])}
    assert 0 < len(oor) < len(sent) // 4
    assert stats.written == len(sent) - len(oor) + 2 and stats.quarantined == 4 + len(oor) and stats.dead == 0
    soc = {("QD.BAT.SOC", pd.Timestamp("2025-06-30 17:00", tz="UTC"), 55.5),
           ("QD.BAT.SOC", pd.Timestamp("2025-06-30 17:15", tz="UTC"), 56.0)}
    assert stored_readings(conn) == (sent - oor) | soc                     # every value, exactly as published
    q = conn.execute("SELECT field, reason, source, file FROM quarantine WHERE reason <> 'out_of_range' "
                     "ORDER BY field").fetchall()
    assert q == [("QD.NOPE", "unknown_tag", "mqtt", "sim-mqtt"), ("QD.WX.RH", "source_bad_quality", "mqtt", "sim-mqtt"),
                 ("QD.WX.T", "unparseable_value", "mqtt", "sim-mqtt"),
                 ("test/sim/QD/QD.MAIN.kWh", "malformed_json", "mqtt", "sim-mqtt")]
    assert conn.execute("SELECT count(*) FROM quarantine WHERE reason = 'out_of_range'").fetchone()[0] == len(oor)
    # counters ran on the live feed: the main meter's deltas are the register differences
    main = conn.execute("""SELECT r.value, r.delta FROM reading r JOIN point p USING (point_id)
                           WHERE p.code = 'QD.MAIN.kWh' ORDER BY r.ts""").fetchall()
    assert len(main) == 3 and main[0][1] is None
    assert [d for _, d in main[1:]] == pytest.approx([main[1][0] - main[0][0], main[2][0] - main[1][0]])
    assert conn.execute("SELECT count(*) FROM dirty_hour").fetchone()[0] > 0
    assert {r[0] for r in conn.execute("SELECT DISTINCT status FROM ingest_batch")} == {"done"}
