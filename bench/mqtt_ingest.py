"""Benchmark: sustained MQTT ingest through the full live pipeline, publish-to-queryable latency, lost readings.

A plant of ``--points`` points (half cumulative kWh registers, half temperatures) is loaded into a throw-away
embedded server (or EMS_DATABASE_URL); a private broker is started (mosquitto if installed, as in
``live_ingest.py``). The service under test is the real one, ``ems ingest serve --config FILE``, in its own
process: MQTT (QoS 1, manual acknowledgement) -> store-and-forward disk buffer -> validation, counters to
intervals, quarantine, dirty hours -> PostgreSQL. Payloads are batched as gateways send them: each gateway
owns ``--per-message`` meters and publishes one ``{"readings": [{"point", "ts", "value"}, ...]}`` message per
polling cycle on ``<prefix>/gw/<n>``. Every ``--bad-every``-th reading (a temperature) is out of range, so
the quarantine path is exercised and accounted for.

Phases, in one run:

1. **baseline** (the same broker, payloads and database): the naive bridge many projects start with, a paho
   subscriber running one autocommit ``INSERT ... ON CONFLICT DO NOTHING`` per reading (no validation,
   counters, buffer or quarantine); see :func:`_mqtt_common.run_naive`.
2. **sustained rate**: ``--readings`` readings published as fast as the broker takes them (the service's
   back-pressure applies); the clock runs from the first publish until the last message is queryable.
3. **latency**: an open-loop publisher at ``--rate`` readings/s (default: the 20,000/s target, or 80 % of
   the rate measured in phase 2 when that is lower, so the figure is latency, not backlog) for
   ``--latency-seconds``. Each message's publish time is stamped in a side table (in the bench process,
   same monotonic clock); a poller queries ``reading`` every ~5 ms for each message's last reading (a
   message's items are committed in order, in one transaction or the last of two) and takes the start of
   the first query that sees it as "queryable". p50 / p99 over messages.

Lost readings: everything published (PUBACKed by the broker) minus what is stored in ``reading`` minus what
is quarantined (distinct point and time, for this connector's ingest batches). Must be 0.

    python bench/mqtt_ingest.py [--readings 500000] [--points 1000] [--per-message 100] [--rate 0]
                                [--latency-seconds 20] [--baseline-readings 2000] [--bad-every 1000]

Last line: ``bench: mqtt_ingest readings_per_s=... p50_ms=... p99_ms=... lost=... baseline_readings_per_s=...
ratio=...`` (``ratio`` = readings_per_s / baseline_readings_per_s).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _mqtt_common import ROOT, bench_env, gateway_payload, publisher, readings, run_naive  # noqa: E402

TARGET = 20_000
BAD_VALUE = 999.0  # a temperature above the points' max (80 degC): quarantined as out_of_range


@dataclass
class Phase:
    """The messages of one phase, their markers (the last reading of each: point id, µs since 1970 UTC),
    publish stamps and the times they were first seen queryable (time.monotonic())."""

    name: str
    msgs: list[tuple[str, str]]
    sizes: list[int]
    markers: list[tuple[int, int]]
    bad: int
    stamps: list[float | None] = field(default_factory=list)
    seen: list[float | None] = field(default_factory=list)

    def __post_init__(self):
        self.stamps = [None] * len(self.msgs)
        self.seen = [None] * len(self.msgs)

    @property
    def readings(self) -> int:
        return sum(self.sizes)


def build_phase(name: str, data: list[tuple], per_message: int, prefix: str, n_gateways: int,
                ids: dict[str, int], bad_every: int) -> Phase:
    msgs, sizes, markers, bad = [], [], [], 0
    for j, i in enumerate(range(0, len(data), per_message)):
        rows = data[i:i + per_message]
        if bad_every:
            rows = list(rows)
            for k in range(len(rows) - 1):  # never the last one: it is the message's marker
                if (i + k) % bad_every == 1 and not rows[k][0].startswith("M"):
                    rows[k] = (rows[k][0], rows[k][1], BAD_VALUE)
                    bad += 1
        msgs.append((f"{prefix}/gw/{j % n_gateways}", gateway_payload(rows)))
        sizes.append(len(rows))
        code, ts, _ = rows[-1]
        markers.append((ids[code], pd.Timestamp(ts).value // 1000))
    return Phase(name, msgs, sizes, markers, bad)


class Watcher(threading.Thread):
    """Polls ``reading`` for the markers of a phase, oldest unseen first."""

    def __init__(self, url: str, phase: Phase, poll_s: float = 0.005):
        super().__init__(daemon=True, name=f"watch-{phase.name}")
        self.url, self.phase, self.poll_s = url, phase, poll_s
        self.index = {m: j for j, m in enumerate(phase.markers)}
        self.done = threading.Event()
        self.stop = threading.Event()
        self.polls = 0

    def run(self) -> None:
        import psycopg

        p = self.phase
        pids = sorted({m[0] for m in p.markers})
        hi = pd.Timestamp(max(m[1] for m in p.markers), unit="us", tz="UTC").to_pydatetime()
        lo = 0
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.stop.is_set():
                while lo < len(p.seen) and p.seen[lo] is not None:
                    lo += 1
                if lo == len(p.seen):
                    self.done.set()
                    return
                if p.stamps[lo] is None:
                    time.sleep(self.poll_s)
                    continue
                low = pd.Timestamp(p.markers[lo][1], unit="us", tz="UTC").to_pydatetime()
                t_query = time.monotonic()
                rows = conn.execute(
                    "SELECT point_id, (extract(epoch FROM ts) * 1000000)::bigint FROM reading "
                    "WHERE point_id = ANY(%s) AND ts >= %s AND ts <= %s ORDER BY ts LIMIT 50000",
                    (pids, low, hi)).fetchall()
                self.polls += 1
                for pid, us in rows:
                    j = self.index.get((pid, us))
                    if j is not None and p.seen[j] is None:
                        p.seen[j] = t_query
                time.sleep(self.poll_s)


def run_phase(url: str, pub, phase: Phase, rate: float | None, timeout_s: float) -> tuple[float, bool]:
    """Publish a phase (as fast as possible, or paced at ``rate`` readings/s) and wait until every message
    is queryable. Returns (seconds from the first publish to the last message queryable, all PUBACKed)."""
    w = Watcher(url, phase)
    w.start()
    infos = []
    t0 = time.monotonic()
    sent = 0
    for j, (topic, payload) in enumerate(phase.msgs):
        if rate:
            delay = t0 + sent / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        phase.stamps[j] = time.monotonic()
        infos.append(pub.publish(topic, payload, qos=1))
        sent += phase.sizes[j]
    acked = True
    for info in infos:
        try:
            info.wait_for_publish(max(1.0, t0 + timeout_s - time.monotonic()))
        except (RuntimeError, ValueError):
            acked = False
        acked = acked and info.is_published()
    w.done.wait(max(1.0, t0 + timeout_s - time.monotonic()))
    w.stop.set()
    w.join(10)
    seen = [s for s in phase.seen if s is not None]
    return ((max(seen) if seen else time.monotonic()) - t0), acked


def latencies_ms(phase: Phase) -> list[float]:
    return sorted((s - t) * 1000 for s, t in zip(phase.seen, phase.stamps) if s is not None and t is not None)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    k = min(len(values) - 1, max(0, round(q / 100 * len(values) + 0.5) - 1))  # nearest rank
    return values[k]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def start_service(root: Path, url: str, port: int, prefix: str, origin: str) -> tuple[subprocess.Popen, Path]:
    cfg = root / "connectors.yaml"
    cfg.write_text(f"site: LIVE\nbuffer: {{path: {root / 'buffer.sqlite'}}}\nconnectors:\n"
                   f"  - type: mqtt\n    name: {origin}\n    broker: 127.0.0.1:{port}\n    client_id: svc-{prefix}\n"
                   f"    topics:\n      - {{filter: '{prefix}/gw/+', point: gw}}\n")
    log = root / "service.log"
    env = {**os.environ, "EMS_DATABASE_URL": url, "EMS_DATA_DIR": str(root / "data")}
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "ems.cli.main", "ingest", "serve", "--config", str(cfg)],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    return proc, log


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--readings", type=int, default=500_000, help="readings in the sustained-rate phase")
    ap.add_argument("--points", type=int, default=1000, help="points in the plant (half counters)")
    ap.add_argument("--per-message", type=int, default=100, help="readings per gateway message (meters per gateway)")
    ap.add_argument("--rate", type=float, default=0,
                    help="offered readings/s in the latency phase (0: min(20000, 0.8 x the sustained rate))")
    ap.add_argument("--latency-seconds", type=float, default=20.0)
    ap.add_argument("--baseline-readings", type=int, default=2_000)
    ap.add_argument("--bad-every", type=int, default=1000, help="one out-of-range reading in N (0: none)")
    args = ap.parse_args()
    if args.points % 2 or args.per_message < 2 or args.points < args.per_message:
        ap.error("--points must be even and at least --per-message (>= 2)")
    import logging

    import psycopg

    logging.basicConfig(level=logging.ERROR)
    load = os.getloadavg()
    run = uuid.uuid4().hex[:6]
    prefix, origin = f"bm{run}", f"bench-{run}"
    n_gw = -(-args.points // args.per_message)
    minutes = lambda n: -(-n // args.points) + 1  # noqa: E731
    # time ranges in this order, so that every phase writes after the stored tail (not the late path)
    t_naive = pd.Timestamp("2025-03-01 00:01")
    t_warm = pd.Timestamp("2025-06-01 00:01")
    t_sat = pd.Timestamp("2025-07-01 00:01")
    svc_proc = None
    with bench_env("mqtt", args.points) as (root, url, port, broker_name):
        conn = psycopg.connect(url, autocommit=True)
        ids = dict(conn.execute("SELECT code, point_id FROM point").fetchall())
        naive = readings(args.baseline_readings, t_naive.isoformat(), args.points)
        warm = build_phase("warm-up", readings(args.points, t_warm.isoformat(), args.points), args.per_message,
                           prefix, n_gw, ids, 0)
        sat = build_phase("sustained", readings(args.readings, t_sat.isoformat(), args.points), args.per_message,
                          prefix, n_gw, ids, args.bad_every)
        first_ts = t_warm.tz_localize("Asia/Shanghai")
        conn.execute("SELECT ems_ensure_reading_partitions(%s, %s)",
                     (first_ts, first_ts + pd.Timedelta(days=200)))  # DDL outside every clock

        # 1. baseline
        t_base = run_naive(url, port, f"bn{run}", naive, args.per_message)
        r_base = len(naive) / t_base
        print(f"baseline (naive bridge, INSERT per reading): {len(naive)} readings in {t_base:.2f} s = "
              f"{r_base:,.0f} readings/s", file=sys.stderr)

        svc_proc, svc_log = start_service(root, url, port, prefix, origin)
        pub = publisher(port, f"pub-{prefix}")
        try:
            # warm-up: the subscription exists (the broker keeps the session from here), caches are filled
            deadline = time.monotonic() + 90
            while True:
                warm.stamps = [None] * len(warm.msgs)
                elapsed, _ = run_phase(url, pub, warm, None, 3.0)
                if all(s is not None for s in warm.seen):
                    break
                if svc_proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"service did not start:\n{svc_log.read_text()[-3000:]}")

            # 2. sustained rate
            cpu0 = cpu_seconds(svc_proc.pid)
            t_sus, acked_sat = run_phase(url, pub, sat, None, 60 + sat.readings / 2000)
            cpu_sat = cpu_seconds(svc_proc.pid) - cpu0
            r_sat = sat.readings / t_sus
            lat_sat = latencies_ms(sat)
            print(f"sustained: {sat.readings} readings in {len(sat.msgs)} messages ({args.per_message}/message, "
                  f"{n_gw} gateways, {args.points} points) in {t_sus:.2f} s = {r_sat:,.0f} readings/s; service "
                  f"process CPU {cpu_sat / t_sus:.2f} cores; backlog latency p50 {pct(lat_sat, 50):.0f} ms, "
                  f"max {pct(lat_sat, 100):.0f} ms", file=sys.stderr)

            # 3. latency at a rate the service sustains
            rate = args.rate or min(TARGET, 0.8 * r_sat)
            n_lat = max(args.per_message, int(rate * args.latency_seconds) // args.per_message * args.per_message)
            t_lat0 = t_sat + pd.Timedelta(minutes=minutes(args.readings))
            lat = build_phase("latency", readings(n_lat, t_lat0.isoformat(), args.points),
                              args.per_message, prefix, n_gw, ids, args.bad_every)
            _, acked_lat = run_phase(url, pub, lat, rate, 60 + args.latency_seconds * 3)
            lat_ms = latencies_ms(lat)
            seen = [x for x in lat.seen if x is not None]
            achieved = (lat.readings - lat.sizes[0]) / max(1e-9, max(seen) - min(seen)) if seen else 0.0
            p50, p99 = pct(lat_ms, 50), pct(lat_ms, 99)
            print(f"latency: offered {rate:,.0f} readings/s ({rate / args.per_message:,.0f} messages/s) for "
                  f"{lat.readings} readings; achieved {achieved:,.0f} readings/s (first to last queryable); publish -> queryable "
                  f"over {len(lat_ms)} messages: p50 {p50:.0f} ms, p90 {pct(lat_ms, 90):.0f} ms, p99 {p99:.0f} ms, "
                  f"max {pct(lat_ms, 100):.0f} ms", file=sys.stderr)
            tenth = max(1, len(lat.msgs) // 10)
            early, late = (sorted((s - t) * 1000 for s, t in zip(lat.seen[a:b], lat.stamps[a:b]) if s and t)
                           for a, b in ((0, tenth), (len(lat.msgs) - tenth, len(lat.msgs))))
            print(f"latency trend: p50 {pct(early, 50):.0f} ms over the first tenth of messages, "
                  f"{pct(late, 50):.0f} ms over the last", file=sys.stderr)
            if achieved < 0.95 * rate or pct(late, 50) > 2 * pct(early, 50) + 100:
                print("warning: the offered rate was not sustained (a backlog grew during the latency phase); "
                      "p50/p99 include queueing; try a lower --rate", file=sys.stderr)
        finally:
            pub.loop_stop()
            pub.disconnect()
            svc_proc.send_signal(signal.SIGTERM)
            try:
                svc_proc.wait(90)
            except subprocess.TimeoutExpired:
                svc_proc.kill()
                svc_proc.wait(10)
        summary = svc_log.read_text().strip().splitlines()
        print(f"service: {summary[-1] if summary else '(no output)'} (exit {svc_proc.returncode})", file=sys.stderr)

        # lost: published - stored - quarantined
        phases = (warm, sat, lat)
        published = sum(p.readings for p in phases)
        bad = sum(p.bad for p in phases)
        lo = t_warm.tz_localize("Asia/Shanghai")
        hi = pd.Timestamp(max(m[1] for m in lat.markers), unit="us", tz="UTC")
        stored = conn.execute("SELECT count(*) FROM reading WHERE point_id = ANY(%s) AND ts >= %s AND ts <= %s",
                              (list(ids.values()), lo, hi)).fetchone()[0]
        quarantined = conn.execute(
            "SELECT count(DISTINCT (q.field, q.ts_text)) FROM quarantine q JOIN ingest_batch b USING (batch_id) "
            "WHERE b.file = %s", (origin,)).fetchone()[0]
        conn.close()
    lost = published - stored - quarantined
    print(f"accounting: published {published} (PUBACKed: {acked_sat and acked_lat}), stored {stored}, quarantined "
          f"{quarantined} (out-of-range injected: {bad}), lost {lost}", file=sys.stderr)
    print(f"broker: {broker_name}; cores: {os.cpu_count()}; load average before the run: "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}", file=sys.stderr)
    print(f"bench: mqtt_ingest readings_per_s={r_sat:.0f} p50_ms={p50:.0f} p99_ms={p99:.0f} lost={lost} "
          f"baseline_readings_per_s={r_base:.0f} ratio={r_sat / r_base:.2f}")


if __name__ == "__main__":
    main()
