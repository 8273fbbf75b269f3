"""Shared parts of the MQTT benches (``live_ingest.py``, ``mqtt_ingest.py``): the bench plant, its readings,
a private broker, a QoS 1 publisher, the naive bridge baseline and the throw-away database."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

N_POINTS = 50


def point_code(i: int) -> str:
    """Even points are cumulative kWh registers, odd ones temperatures."""
    return f"M{i:02d}.kWh" if i % 2 == 0 else f"T{i:02d}"


def plant_yaml(n_points: int = N_POINTS) -> str:
    lines = ["version: 1", "nodes:", "  - code: LIVE", "    level: plant", "    timezone: Asia/Shanghai", "    points:"]
    for i in range(n_points):
        if i % 2 == 0:
            lines.append(f"      - {{code: {point_code(i)}, medium: electricity, quantity: energy, unit: kWh, "
                         f"kind: cumulative, interval: 1min, max_rate_per_h: 100000}}")
        else:
            lines.append(f"      - {{code: {point_code(i)}, medium: chilled_water, quantity: temperature, "
                         f"unit: degC, kind: instantaneous, interval: 1min, min: -20, max: 80}}")
    return "\n".join(lines) + "\n"


def readings(n: int, start: str, n_points: int = N_POINTS) -> list[tuple[str, str, float]]:
    """n readings, all points per minute, from ``start`` (local time +08:00)."""
    out = []
    t0 = pd.Timestamp(start, tz="Asia/Shanghai")
    steps = -(-n // n_points)
    codes = [point_code(i) for i in range(n_points)]
    for k in range(steps):
        iso = (t0 + pd.Timedelta(minutes=k)).isoformat()
        for i in range(n_points):
            v = 1000.0 * i + 2.5 * k if i % 2 == 0 else 7.0 + (k % 10) * 0.1
            out.append((codes[i], iso, round(v, 3)))
    return out[:n]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def amqtt_broker():
    """(port, stop) of an in-process amqtt broker in its own thread."""
    import asyncio

    from amqtt.broker import Broker

    port = free_port()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    box = {}

    def run():
        asyncio.set_event_loop(loop)

        async def start():
            box["b"] = Broker({"listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}}})
            await box["b"].start()
            ready.set()

        loop.run_until_complete(start())
        loop.run_forever()

    threading.Thread(target=run, daemon=True).start()
    ready.wait(10)

    def stop():
        asyncio.run_coroutine_threadsafe(box["b"].shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)

    return port, stop


def mosquitto_binary() -> str | None:
    return shutil.which("mosquitto") or next((p for p in ("/usr/sbin/mosquitto",) if os.access(p, os.X_OK)), None)


def mosquitto_broker(root: Path):
    """(port, stop) of a private mosquitto (no persistence; queues and in-flight window sized for an EMS
    subscriber: the defaults, 1000 queued / 20 in flight, drop QoS 1 messages under a burst)."""
    import subprocess

    port = free_port()
    conf = root / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                    "max_queued_messages 0\nmax_inflight_messages 1000\nset_tcp_nodelay true\n")
    proc = subprocess.Popen([mosquitto_binary(), "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    for _ in range(100):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)

    def stop():
        proc.terminate()
        proc.wait(10)

    return port, stop


def pick_broker(root: Path):
    if mosquitto_binary():
        port, stop = mosquitto_broker(root)
        return port, stop, f"mosquitto (private, port {port})"
    port, stop = amqtt_broker()
    return port, stop, "amqtt in-process"


def publisher(port: int, name: str):
    import paho.mqtt.client as mqtt

    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=name)
    c.max_inflight_messages_set(1000)
    c.connect("127.0.0.1", port)
    c.loop_start()
    return c


def publish_all(c, messages: list[tuple[str, str]]) -> None:
    infos = [c.publish(topic, payload, qos=1) for topic, payload in messages]
    for info in infos:
        info.wait_for_publish(60)


def gateway_payload(rows: list[tuple[str, str, float]], **extra) -> str:
    """A gateway's batch: ``{"readings": [{"point", "ts", "value"}, ...]}`` plus any top-level fields."""
    return json.dumps({**extra, "readings": [{"point": c, "ts": ts, "value": v} for c, ts, v in rows]})


def run_naive(url: str, port: int, prefix: str, data: list[tuple], per_message: int = 1) -> float:
    """Baseline: a paho subscriber that parses each message and runs one autocommit
    ``INSERT ... ON CONFLICT DO NOTHING`` per reading (no validation, counters, buffer or quarantine).
    ``per_message`` 1: one reading per message on ``<prefix>/LIVE/<point>``; more: gateway batches on
    ``<prefix>/gw``. Returns the seconds from the first publish until every reading is inserted."""
    import paho.mqtt.client as mqtt
    import psycopg

    conn = psycopg.connect(url, autocommit=True)
    ids = dict(conn.execute("SELECT code, point_id FROM point").fetchall())
    first, last = pd.Timestamp(data[0][1]), pd.Timestamp(data[-1][1])
    conn.execute("SELECT ems_ensure_reading_partitions(%s, %s)", (first, last))  # one-off, outside the clock
    batch = conn.execute("INSERT INTO ingest_batch (source, file) VALUES ('mqtt', 'naive') RETURNING batch_id"
                         ).fetchone()[0]
    done = threading.Event()
    count = [0]
    ready = threading.Event()
    sql = "INSERT INTO reading (point_id, ts, value, batch_id) VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING"

    def on_message(client, userdata, msg):
        doc = json.loads(msg.payload)
        if isinstance(doc, dict) and "readings" in doc:
            for r in doc["readings"]:
                conn.execute(sql, (ids[r["point"]], r["ts"], r["value"], batch))
            count[0] += len(doc["readings"])
        else:
            conn.execute(sql, (ids[msg.topic.rsplit("/", 1)[1]], doc["ts"], doc["value"], batch))
            count[0] += 1
        if count[0] >= len(data):
            done.set()

    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"naive-{prefix}")
    topic = f"{prefix}/LIVE/+" if per_message == 1 else f"{prefix}/gw"
    sub.on_connect = lambda c, u, f, rc, p=None: c.subscribe(topic, qos=1)
    sub.on_subscribe = lambda *a: ready.set()
    sub.on_message = on_message
    sub.connect("127.0.0.1", port)
    sub.loop_start()
    ready.wait(10)
    pub = publisher(port, f"pubn-{prefix}")
    if per_message == 1:
        msgs = [(f"{prefix}/LIVE/{c}", json.dumps({"ts": ts, "value": v})) for c, ts, v in data]
    else:
        msgs = [(f"{prefix}/gw", gateway_payload(data[i:i + per_message])) for i in range(0, len(data), per_message)]
    t0 = time.perf_counter()
    publish_all(pub, msgs)
    assert done.wait(600)
    elapsed = time.perf_counter() - t0
    for c in (pub, sub):
        c.loop_stop()
        c.disconnect()
    conn.close()
    return elapsed


@contextlib.contextmanager
def bench_env(name: str, n_points: int = N_POINTS) -> Iterator[tuple[Path, str, int, str]]:
    """(temp folder, database URL, broker port, broker description): a throw-away embedded server (or
    EMS_DATABASE_URL) holding the bench plant of ``n_points``, and a private broker; removed afterwards."""
    from ems.assets.loader import load_asset_file
    from ems.assets.store import load_asset_model
    from ems.db import open_database
    from ems.db.embedded import start_embedded, stop_embedded

    root = Path(tempfile.mkdtemp(prefix=f"ems-bench-{name}-", dir="/tmp"))
    url = os.environ.get("EMS_DATABASE_URL")
    pgdata = root / "pgdata"
    stop_broker = None
    try:
        if not url:
            url = start_embedded(pgdata)
        port, stop_broker, broker_name = pick_broker(root)
        db = open_database(url=url)
        plant = root / "plant.yaml"
        plant.write_text(plant_yaml(n_points))
        with db.connection() as conn:
            load_asset_model(conn, load_asset_file(plant))
        db.close()
        yield root, url, port, broker_name
    finally:
        if stop_broker is not None:
            stop_broker()
        if not os.environ.get("EMS_DATABASE_URL"):
            stop_embedded(pgdata)
        shutil.rmtree(root, ignore_errors=True)
