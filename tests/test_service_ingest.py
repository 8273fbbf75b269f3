"""``ems serve`` with live ingestion: MQTT readings through a real broker (amqtt in-process) are stored, and a
clean stop flushes what is still buffered."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import pytest
from mqttbroker import Broker, free_port

from ems.service.config import load_service_config
from ems.service.runtime import Service

ROOT = Path(__file__).resolve().parents[1]
pytest.importorskip("amqtt")


def test_serve_ingests_live_readings_and_flushes_on_stop(ems, ems_env, tmp_path):
    assert ems("config", "load", ROOT / "examples" / "plant.yaml")[0] == 0
    port = free_port()
    (tmp_path / "connectors.yaml").write_text(
        "site: QD\nbuffer: {spool_interval_s: 0.05, drain_timeout_s: 10}\nconnectors:\n"
        f"  - {{type: mqtt, name: m, broker: '127.0.0.1:{port}', client_id: svc-{port}, "
        "topics: [{filter: 'carbon-cockpit/sim/QD/+', point: '{last}'}]}\n")
    (tmp_path / "service.yaml").write_text("role: ingest\nweb: {port: 0}\ningest: {config: connectors.yaml}\n")
    cfg = load_service_config(tmp_path / "service.yaml", environ={})
    with Broker(port):
        svc = Service(cfg, data_dir=tmp_path / "data")
        svc.start()
        try:
            deadline = time.monotonic() + 10
            while not all(c.connected.is_set() for c in svc.ingest.service.connectors):
                assert time.monotonic() < deadline, "connector did not connect"
                time.sleep(0.05)
            with urllib.request.urlopen(f"http://127.0.0.1:{svc.port}/healthz", timeout=5) as r:
                body = json.loads(r.read())
            assert body["role"] == "ingest" and body["ingest"]["state"] == "running"
            from ems.sim.live import MqttSink

            sink = MqttSink(f"127.0.0.1:{port}", "carbon-cockpit/sim", client_id=f"pub-{port}")
            for i in range(1, 41):
                sink.publish("QD", "QD.MAIN.kWh", f"2025-07-01T{i // 4:02d}:{(i % 4) * 15:02d}:00+08:00",
                             1000.0 + 10 * i, "kWh")
            sink.close()
            deadline = time.monotonic() + 10
            while svc.ingest.service.forwarder.stats.received < 40:
                assert time.monotonic() < deadline, "broker did not deliver"
                time.sleep(0.05)
        finally:
            assert svc.stop() == 0                            # nothing left in the buffer
    import psycopg

    with psycopg.connect(ems_env) as conn:
        n = conn.execute("SELECT count(*) FROM reading r JOIN point p USING (point_id) "
                         "WHERE p.code = 'QD.MAIN.kWh'").fetchone()[0]
    assert n == 40
    assert not svc.ingest.alive()
