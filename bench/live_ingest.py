"""Benchmark: live ingestion throughput, MQTT -> store-and-forward -> full pipeline -> PostgreSQL.

A plant of 50 points (25 cumulative kWh registers, 25 temperatures) is loaded into a throw-away
embedded server (or EMS_DATABASE_URL). ``ems ingest serve``'s service (:class:`LiveService`) subscribes
to the broker; a publisher sends one-minute readings at QoS 1 and the clock runs from the first publish
until every reading is committed (validated, counters, dirty hours, ingest batch) and the disk buffer
is empty. Two payload styles: one reading per message (the simulator's format) and gateway batches of
``--per-message`` readings. The baseline, measured in the same run on the same broker, is the naive
bridge many projects start with: a paho subscriber that parses each message and runs one
``INSERT ... ON CONFLICT DO NOTHING`` per reading (autocommit; no validation, no counters, no buffer).

Broker: a private mosquitto started for the run (max_queued_messages 0, max_inflight_messages 1000)
when the binary is installed, else amqtt in-process (slower; pure Python).

    python bench/live_ingest.py [--readings 20000] [--per-message 100] [--baseline-readings 3000]

Last line: ``bench: live_ingest readings_per_s=... batched_readings_per_s=... baseline_readings_per_s=...
ratio_vs_naive=... ratio_batched_vs_naive=...``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

N_POINTS = 50


def plant_yaml() -> str:
    lines = ["version: 1", "nodes:", "  - code: LIVE", "    level: plant", "    timezone: Asia/Shanghai", "    points:"]
    for i in range(N_POINTS):
        if i % 2 == 0:
            lines.append(f"      - {{code: M{i:02d}.kWh, medium: electricity, quantity: energy, unit: kWh, "
                         f"kind: cumulative, interval: 1min, max_rate_per_h: 100000}}")
        else:
            lines.append(f"      - {{code: T{i:02d}, medium: chilled_water, quantity: temperature, unit: degC, "
                         f"kind: instantaneous, interval: 1min, min: -20, max: 80}}")
    return "\n".join(lines) + "\n"


def readings(n: int, start: str) -> list[tuple[str, str, float]]:
    """n readings, all points per minute, from ``start`` (local time +08:00)."""
    out = []
    t0 = pd.Timestamp(start, tz="Asia/Shanghai")
    steps = -(-n // N_POINTS)
    for k in range(steps):
        iso = (t0 + pd.Timedelta(minutes=k)).isoformat()
        for i in range(N_POINTS):
            v = 1000.0 * i + 2.5 * k if i % 2 == 0 else 7.0 + (k % 10) * 0.1
            out.append((f"M{i:02d}.kWh" if i % 2 == 0 else f"T{i:02d}", iso, round(v, 3)))
    return out[:n]


def amqtt_broker():
    """(port, stop) of an in-process amqtt broker in its own thread."""
    import asyncio

    from amqtt.broker import Broker

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
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


def mosquitto_broker(root: Path):
    """(port, stop) of a private mosquitto (no persistence; queues and in-flight window sized for an EMS
    subscriber: the defaults, 1000 queued / 20 in flight, drop QoS 1 messages under a burst)."""
    import subprocess

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conf = root / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                    "max_queued_messages 0\nmax_inflight_messages 1000\nset_tcp_nodelay true\n")
    proc = subprocess.Popen([shutil.which("mosquitto"), "-c", str(conf)], stdout=subprocess.DEVNULL,
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
    if shutil.which("mosquitto"):
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


def run_service(url: str, port: int, prefix: str, data: list[tuple], per_message: int, tmp: Path) -> float:
    from ems.connectors.config import ConnectorsFile
    from ems.connectors.service import LiveService

    cfg = ConnectorsFile.model_validate({"site": "LIVE", "connectors": [{
        "type": "mqtt", "name": "bench", "broker": f"127.0.0.1:{port}", "client_id": f"bench-{prefix}",
        "topics": [{"filter": f"{prefix}/LIVE/+", "point": "{last}"}, {"filter": f"{prefix}/gw", "point": "gw"}]}]})
    service = LiveService(cfg, url, buffer_file=tmp / f"{prefix}.sqlite")
    import asyncio

    th = threading.Thread(target=lambda: asyncio.run(service.run()), daemon=True)
    th.start()
    while not service.connectors[0].connected.is_set():
        time.sleep(0.02)
    if per_message == 1:
        msgs = [(f"{prefix}/LIVE/{c}", json.dumps({"ts": ts, "value": v, "unit": "kWh" if c.startswith("M") else "degC"}))
                for c, ts, v in data]
    else:
        msgs = [(f"{prefix}/gw", json.dumps({"readings": [{"point": c, "ts": ts, "value": v}
                                                          for c, ts, v in data[i:i + per_message]]}))
                for i in range(0, len(data), per_message)]
    pub = publisher(port, f"pub-{prefix}")
    stats = service.forwarder.stats
    t0 = time.perf_counter()
    publish_all(pub, msgs)
    deadline = time.monotonic() + 600
    while stats.written + stats.quarantined + stats.duplicates < len(data) or service.buffer.count():
        time.sleep(0.005)
        if os.environ.get("BENCH_DEBUG") and int(time.monotonic() * 200) % 400 == 0:
            print(stats, service.buffer.count(), service.connectors[0].messages, file=sys.stderr)
        if time.monotonic() > deadline:
            raise SystemExit(f"not all readings arrived: {stats}")
    elapsed = time.perf_counter() - t0
    assert stats.written == len(data), (stats, len(data))
    lat = sorted(stats.latencies_s)
    print(f"  {per_message} reading(s)/message: {stats.transactions} database transactions, median "
          f"{lat[len(lat) // 2] * 1000:.0f} ms, {service.connectors[0].messages} messages", file=sys.stderr)
    pub.loop_stop()
    pub.disconnect()
    service.request_stop()
    th.join(30)
    return elapsed


def run_naive(url: str, port: int, prefix: str, data: list[tuple]) -> float:
    """Baseline: one INSERT per message in the MQTT callback."""
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

    def on_message(client, userdata, msg):
        doc = json.loads(msg.payload)
        conn.execute("INSERT INTO reading (point_id, ts, value, batch_id) VALUES (%s, %s, %s, %s) "
                     "ON CONFLICT DO NOTHING", (ids[msg.topic.rsplit("/", 1)[1]], doc["ts"], doc["value"], batch))
        count[0] += 1
        if count[0] == len(data):
            done.set()

    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"naive-{prefix}")
    sub.on_connect = lambda c, u, f, rc, p=None: c.subscribe(f"{prefix}/LIVE/+", qos=1)
    sub.on_subscribe = lambda *a: ready.set()
    sub.on_message = on_message
    sub.connect("127.0.0.1", port)
    sub.loop_start()
    ready.wait(10)
    pub = publisher(port, f"pubn-{prefix}")
    msgs = [(f"{prefix}/LIVE/{c}", json.dumps({"ts": ts, "value": v})) for c, ts, v in data]
    t0 = time.perf_counter()
    publish_all(pub, msgs)
    assert done.wait(600)
    elapsed = time.perf_counter() - t0
    for c in (pub, sub):
        c.loop_stop()
        c.disconnect()
    conn.close()
    return elapsed


def main() -> None:
    import faulthandler

    faulthandler.dump_traceback_later(float(os.environ.get("BENCH_DUMP_AFTER_S", "1e9")), exit=True)
    ap = argparse.ArgumentParser()
    ap.add_argument("--readings", type=int, default=20_000)
    ap.add_argument("--per-message", type=int, default=100)
    ap.add_argument("--baseline-readings", type=int, default=3_000)
    args = ap.parse_args()
    import logging

    logging.basicConfig(level=logging.ERROR)
    from ems.assets.loader import load_asset_file
    from ems.assets.store import load_asset_model
    from ems.db import open_database
    from ems.db.embedded import start_embedded, stop_embedded

    root = Path(tempfile.mkdtemp(prefix="ems-bench-live-", dir="/tmp"))
    url = os.environ.get("EMS_DATABASE_URL")
    pgdata = root / "pgdata"
    if not url:
        url = start_embedded(pgdata)
    port, stop_broker, broker_name = pick_broker(root)
    try:
        db = open_database(url=url)
        plant = root / "plant.yaml"
        plant.write_text(plant_yaml())
        with db.connection() as conn:
            load_asset_model(conn, load_asset_file(plant))
        db.close()
        run = uuid.uuid4().hex[:6]
        single = readings(args.readings, "2025-07-01 00:01")
        batched = readings(args.readings, "2025-08-01 00:01")
        naive = readings(args.baseline_readings, "2025-09-01 00:01")
        t_naive = run_naive(url, port, f"bn{run}", naive)
        t_single = run_service(url, port, f"bs{run}", single, 1, root)
        t_batched = run_service(url, port, f"bb{run}", batched, args.per_message, root)
    finally:
        stop_broker()
        if not os.environ.get("EMS_DATABASE_URL"):
            stop_embedded(pgdata)
        shutil.rmtree(root, ignore_errors=True)
    r_naive = len(naive) / t_naive
    r_single = len(single) / t_single
    r_batched = len(batched) / t_batched
    print(f"broker: {broker_name}; cores: {os.cpu_count()}")
    print(f"naive bridge (INSERT per message): {len(naive)} readings in {t_naive:.2f} s = {r_naive:,.0f} readings/s")
    print(f"live service, 1 reading/message:   {len(single)} readings in {t_single:.2f} s = {r_single:,.0f} readings/s")
    print(f"live service, {args.per_message} readings/message: {len(batched)} readings in {t_batched:.2f} s = "
          f"{r_batched:,.0f} readings/s")
    print(f"bench: live_ingest readings_per_s={r_single:.0f} batched_readings_per_s={r_batched:.0f} "
          f"baseline_readings_per_s={r_naive:.0f} ratio_vs_naive={r_single / r_naive:.2f} "
          f"ratio_batched_vs_naive={r_batched / r_naive:.2f}")


if __name__ == "__main__":
    main()
