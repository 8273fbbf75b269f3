"""Connectors YAML: the example loads; mistakes are reported with file, line and field; the CLI runs
``ems ingest serve`` end to end against a real broker and database."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from test_connectors_mqtt import Broker, free_port

from ems.cli.main import main
from ems.connectors.config import load_connectors_file
from ems.errors import UserError

EXAMPLE = Path("examples/connectors.yaml")

GOOD = """\
version: 1
site: QD
connectors:
  - name: m
    type: mqtt
    broker: 127.0.0.1:1883
    topics:
      - filter: a/+/b
  - name: meters
    type: modbus
    host: 127.0.0.1
    devices:
      - unit_id: 3
        model: eastron-sdm630
        points:
          import_active_energy: QD.AC1.kWh
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "connectors.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_example_and_minimal_file_load(tmp_path):
    cfg = load_connectors_file(EXAMPLE)
    assert cfg.site == "QD" and [c.type for c in cfg.connectors] == ["mqtt", "opcua", "modbus"]
    assert cfg.connectors[1].node_ids()["nsu=urn:carbon-cockpit:sim;s=QD.CHW.Ts"] == "QD.CHW.Ts"
    small = load_connectors_file(_write(tmp_path, GOOD))
    assert small.connectors[0].qos == 1 and small.connectors[0].topics[0].point == "{last}"
    assert small.buffer.max_memory_items == 50_000


@pytest.mark.parametrize("old,new,line,field,words", [
    ("broker: 127.0.0.1:1883", "broker: localhost", 6, "broker", "connector 'm': 'localhost' is not host:port"),
    ("type: mqtt", "type: ftp", 5, "type", "type must be one of mqtt, opcua, modbus"),
    ("filter: a/+/b", "filter: a/#/b", 8, "filter", "not a valid MQTT topic filter"),
    ("import_active_energy: QD.AC1.kWh", "import_kwh: QD.AC1.kWh", 16, "points",
     "register 'import_kwh' is not in map 'eastron-sdm630'"),
    ("model: eastron-sdm630", "model: acme-9000", 14, "model", "unknown meter model 'acme-9000'"),
    ("name: meters", "name: m", 3, "connectors", "connector name 'm' is used twice"),
    ("unit_id: 3", "unit_id: 300", 13, "unit_id", "less than or equal to 255"),
    ("site: QD\n", "", None, "site", "Field required"),
])
def test_errors_name_file_line_and_field(tmp_path, old, new, line, field, words):
    path = _write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(UserError) as exc:
        load_connectors_file(path)
    assert words in exc.value.message
    assert exc.value.where.startswith(str(path))
    assert f"field '{field}'" in exc.value.where
    if line is not None:
        assert f"line {line}," in exc.value.where


def test_register_map_file_errors_and_custom_map(tmp_path):
    mapfile = tmp_path / "acme.yaml"
    mapfile.write_text("model: acme\nmanufacturer: Acme\nsource: manual p. 7\nword_order: little\n"
                       "registers:\n  - {name: e, address: 10, type: uint32, unit: Wh, scale: 10}\n", encoding="utf-8")
    cfg = load_connectors_file(_write(tmp_path, GOOD.replace("model: eastron-sdm630", "model: acme.yaml")
                                      .replace("import_active_energy:", "e:")))
    assert cfg.connectors[1].devices[0].model == "acme.yaml"
    mapfile.write_text(mapfile.read_text().replace("uint32", "uint24"), encoding="utf-8")
    with pytest.raises(UserError) as exc:
        load_connectors_file(tmp_path / "connectors.yaml")
    assert exc.value.where.startswith(str(mapfile)) and "line 6" in exc.value.where and "'type'" in exc.value.where


def test_cli_check_prints_errors_without_traceback(tmp_path, capsys):
    assert main(["connectors", "check", str(EXAMPLE)]) == 0
    assert "3 connector(s)" in capsys.readouterr().out
    bad = _write(tmp_path, GOOD.replace("type: mqtt", "type: ftp"))
    assert main(["connectors", "check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {bad}, line 5, field 'type'") and "Traceback" not in err
    assert main(["connectors", "maps"]) == 0
    assert "eastron-sdm630" in capsys.readouterr().out


@pytest.mark.db
def test_ingest_serve_cli_buffers_while_database_is_down_then_replays(ems, ems_env, tmp_path, conn, monkeypatch):
    import paho.mqtt.client as mqtt

    assert ems("config", "load", "examples/plant.yaml")[0] == 0
    port = free_port()
    text = f"""\
site: NOWHERE
buffer: {{drain_timeout_s: 0.3}}
connectors:
  - {{name: gw, type: mqtt, broker: "127.0.0.1:{port}", topics: [{{filter: "cli/QD/+"}}]}}
"""
    code, out, err = ems("ingest", "serve", "--config", _write(tmp_path, text))
    assert code == 2 and "site 'NOWHERE' is not in the asset model" in err
    path = _write(tmp_path, text.replace("NOWHERE", "QD"))

    def publish():
        time.sleep(0.7)
        pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="cli-pub")
        pub.connect("127.0.0.1", port)
        pub.loop_start()
        for k in range(4):
            msg = pub.publish("cli/QD/QD.WX.T", json.dumps({"ts": f"2025-07-01T0{k}:00:00+08:00", "value": 20 + k}), qos=1)
            msg.wait_for_publish(5)
        pub.publish("cli/QD/QD.WX.T", "not json", qos=1).wait_for_publish(5)
        pub.loop_stop()
        pub.disconnect()

    with Broker(port):
        t = threading.Thread(target=publish)
        t.start()
        monkeypatch.setenv("EMS_DATABASE_URL", "postgresql://ems@127.0.0.1:1/nowhere")   # the server is down
        code, out, err = ems("ingest", "serve", "--config", path, "--duration", "2")
        t.join()
    assert code == 4 and "warning: " in err and "left in buffer 5" in out        # kept on disk, exit 4
    assert (tmp_path / "data" / "buffer" / "QD.sqlite").exists()                 # under $EMS_DATA_DIR
    monkeypatch.setenv("EMS_DATABASE_URL", ems_env)                               # the server is back
    with Broker(port):
        code, out, err = ems("ingest", "serve", "--config", path, "--duration", "0.8")
    assert code == 0, err
    assert "stored 4, duplicates 0, quarantined 1" in out and "left in buffer 0" in out
    rows = conn.execute("SELECT r.value FROM reading r JOIN point p USING (point_id) WHERE p.code = 'QD.WX.T' "
                        "ORDER BY r.ts").fetchall()
    assert [v for (v,) in rows] == [20.0, 21.0, 22.0, 23.0]
    assert conn.execute("SELECT reason, source, file FROM quarantine").fetchall() == [("malformed_json", "mqtt", "gw")]
