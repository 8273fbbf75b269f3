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
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _mqtt_common import (  # noqa: E402
    bench_env,
    publish_all,
    publisher,
    readings,
    run_naive,
)


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
    with bench_env("live") as (root, url, port, broker_name):
        run = uuid.uuid4().hex[:6]
        single = readings(args.readings, "2025-07-01 00:01")
        batched = readings(args.readings, "2025-08-01 00:01")
        naive = readings(args.baseline_readings, "2025-09-01 00:01")
        t_naive = run_naive(url, port, f"bn{run}", naive)
        t_single = run_service(url, port, f"bs{run}", single, 1, root)
        t_batched = run_service(url, port, f"bb{run}", batched, args.per_message, root)
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
