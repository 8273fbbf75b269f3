"""Soak: ``ems serve`` (ingestion + scheduler + cockpit in one process) fed by the demo group's live simulator.

The simulator (``ems sim live``, plant QD) publishes every meter over MQTT through an in-process broker
(amqtt) at an accelerated clock (``--speed 900``: one 15-min step per second); the service ingests it through
its connectors, refreshes roll-ups every ``--refresh-every`` and runs a 1 s probe job. Measured:

* memory: the service's RSS after a warm-up minute and at the end (growth in MB and MB per hour);
* job lateness: ``job_run.started_at - scheduled_at`` (p50 / p95 / max), plus missed / skipped / failed runs;
* ingest lag: readings published but not yet stored, in seconds of feed (sampled every 2 s), and the time
  to drain after the feed stops;
* nothing lost: readings stored + quarantined = readings published; the service exits 0 on SIGTERM.

    python bench/soak.py [--minutes 30] [--speed 900] [--refresh-every 10s]

State lives in a temporary folder (embedded PostgreSQL) unless EMS_DATABASE_URL is set (then that database
must be empty). Last line: ``bench: soak minutes=... readings=... lost=... rss_growth_mb=...
job_late_p95_s=... ingest_lag_p95_s=... drain_s=... exit=...``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import psutil
import psycopg

ROOT = Path(__file__).resolve().parents[1]
EMS = [sys.executable, "-m", "ems.cli.main"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """amqtt in its own thread and event loop."""

    def __init__(self, port: int):
        self.port, self.loop, self.ready = port, asyncio.new_event_loop(), threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        from amqtt.broker import Broker as AmqttBroker

        asyncio.set_event_loop(self.loop)

        async def start():
            self.broker = AmqttBroker({"listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}",
                                                                 "max_connections": 20}}})
            await self.broker.start()
            self.ready.set()

        self.loop.run_until_complete(start())
        self.loop.run_forever()

    def start(self) -> None:
        self.thread.start()
        if not self.ready.wait(15):
            raise SystemExit("MQTT broker did not start")

    def stop(self) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self.broker.shutdown(), self.loop).result(timeout=10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(round(q * (len(v) - 1))))]


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status
    except Exception:
        return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--speed", type=float, default=900.0, help="simulated seconds per second (900: 15 min/s)")
    ap.add_argument("--plant", default="QD")
    ap.add_argument("--refresh-every", default="10s", help="roll-up refresh interval (wall clock)")
    args = ap.parse_args()

    work = Path("/tmp") / f"ems-soak-{uuid.uuid4().hex[:8]}"   # short: Unix socket paths are limited
    work.mkdir()
    env = dict(os.environ, EMS_DATA_DIR=str(work / "data"), PYTHONUNBUFFERED="1")
    port, mqtt_port = free_port(), free_port()
    broker = Broker(mqtt_port)
    serve = sim = None
    rc = None
    try:
        subprocess.run(EMS + ["config", "load", str(ROOT / "examples" / "plant.yaml")], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        broker.start()
        (work / "connectors.yaml").write_text(
            f"site: {args.plant}\nbuffer: {{drain_timeout_s: 60}}\nconnectors:\n"
            f"  - {{type: mqtt, name: sim, broker: '127.0.0.1:{mqtt_port}', client_id: soak-{mqtt_port}, qos: 1, "
            f"topics: [{{filter: 'carbon-cockpit/sim/{args.plant}/+', point: '{{last}}'}}]}}\n")
        (work / "service.yaml").write_text(
            f"web: {{host: 127.0.0.1, port: {port}, threads: 4}}\ningest: {{config: connectors.yaml}}\n"
            "logging: {level: INFO, format: json}\n"
            f"scheduler:\n  jobs:\n    rollup_refresh: {{every: {args.refresh_every}}}\n    noop: {{every: 1s}}\n")
        log = open(work / "serve.log", "w")
        serve = subprocess.Popen(EMS + ["serve", "--config", str(work / "service.yaml")], env=env, stderr=log,
                                 stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while get(f"http://127.0.0.1:{port}/readyz") != 200:
            if serve.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"service did not start; see {work / 'serve.log'}")
            time.sleep(0.2)
        url = os.environ.get("EMS_DATABASE_URL") or _embedded_url(work / "data" / "pgdata")
        proc = psutil.Process(serve.pid)
        steps = max(1, int(args.minutes * 60 * args.speed / 900))
        time.sleep(2)   # the MQTT subscription is up once the service is ready; give it a moment
        with psycopg.connect(url, autocommit=True) as conn:
            t0 = time.monotonic()
            sim = subprocess.Popen(EMS + ["sim", "live", "--plant", args.plant, "--steps", str(steps), "--speed",
                                          str(args.speed), "--mqtt", f"127.0.0.1:{mqtt_port}"],
                                   env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            rss: list[tuple[float, float]] = []
            samples: list[tuple[float, int]] = []      # (seconds since the feed started, readings stored)
            while sim.poll() is None:
                time.sleep(2)
                rss.append((time.monotonic() - t0, proc.memory_info().rss / 1e6))
                stored = conn.execute("SELECT (SELECT count(*) FROM reading) + (SELECT count(*) FROM quarantine)"
                                      ).fetchone()[0]
                samples.append((time.monotonic() - t0, stored))
            out, err = sim.communicate()
            if sim.returncode != 0:
                raise SystemExit(f"simulator failed: {err.strip()[-500:]}")
            published = int(out.split("published")[1].split("readings")[0].replace(",", "").strip())
            t_feed_end = time.monotonic()
            while True:
                stored, quarantined = conn.execute(
                    "SELECT (SELECT count(*) FROM reading), (SELECT count(*) FROM quarantine)").fetchone()
                if stored + quarantined >= published or time.monotonic() - t_feed_end > 120:
                    break
                time.sleep(0.2)
            drain_s = time.monotonic() - t_feed_end
            # ingest lag: how far the stored readings trail the feed (seconds of wall clock), measured from
            # the first sample with data (the simulator needs a few seconds to build its twin)
            per_step = published / steps
            first = next(((t, n) for t, n in samples if n > 0), None)
            lag = [max(0.0, (t - first[0]) - (n - first[1]) / per_step * 900 / args.speed)
                   for t, n in samples if first and t > first[0]]
            runs = conn.execute(
                "SELECT job, status, extract(epoch FROM started_at - scheduled_at) FROM job_run").fetchall()
            refresh_s = [r[0] for r in conn.execute(
                "SELECT extract(epoch FROM finished_at - started_at) FROM job_run WHERE job = 'rollup_refresh' "
                "AND status = 'ok'").fetchall()]
            rollups = conn.execute("SELECT count(*) FROM rollup_point").fetchone()[0]
        rss_end = proc.memory_info().rss / 1e6
        serve.send_signal(signal.SIGTERM)
        rc = serve.wait(120)
        serve = None
    finally:
        for p in (sim, serve):
            if p is not None and p.poll() is None:
                p.kill()
        broker.stop()

    warm = [m for t, m in rss if t >= min(60.0, args.minutes * 60 / 3)] or [m for _, m in rss]
    rss_start = warm[0] if warm else rss_end
    span_h = max((rss[-1][0] - rss[0][0]) / 3600, 1e-9) if rss else 1e-9
    late = [float(r[2]) for r in runs if r[1] in ("ok", "failed", "retry") and r[2] is not None]
    counts = {s: sum(1 for r in runs if r[1] == s) for s in ("ok", "missed", "skipped", "failed", "retry")}
    lost = published - stored - quarantined
    events = [json.loads(x).get("event") for x in (work / "serve.log").read_text().splitlines()
              if x.startswith("{")]
    print(f"feed: {args.minutes:g} min at x{args.speed:g} ({steps} steps of 15 min, {published // steps} readings each): "
          f"{published:,} readings published, {stored:,} stored, {quarantined:,} quarantined, lost {lost}")
    print(f"service memory: {rss_start:.0f} MB after warm-up -> {rss_end:.0f} MB at the end "
          f"({rss_end - rss_start:+.1f} MB, {(rss_end - rss_start) / span_h:+.1f} MB/h)")
    print(f"jobs: {counts}; lateness p50 {pct(late, .5):.3f} s, p95 {pct(late, .95):.3f} s, max {max(late):.3f} s; "
          f"roll-up refresh p95 {pct([float(x) for x in refresh_s], .95):.2f} s, {rollups:,} roll-up rows")
    print(f"ingest lag (feed time not yet stored): p95 {pct(lag, .95):.2f} s, max {max(lag or [0]):.2f} s; "
          f"drain after the feed stopped {drain_s:.2f} s")
    print(f"shutdown on SIGTERM: exit {rc}; events {', '.join(e for e in events if e and 'stop' in e)}")
    print(f"bench: soak minutes={args.minutes:g} speed={args.speed:g} readings={published} lost={lost} "
          f"stored_ratio={(stored + quarantined) / max(published, 1):.4f} rss_start_mb={rss_start:.0f} "
          f"rss_end_mb={rss_end:.0f} rss_growth_mb={rss_end - rss_start:.1f} job_runs={counts['ok']} "
          f"job_missed={counts['missed']} job_failed={counts['failed']} job_late_p95_s={pct(late, .95):.3f} "
          f"job_late_max_s={max(late):.3f} ingest_lag_p95_s={pct(lag, .95):.2f} drain_s={drain_s:.2f} exit={rc}")
    shutil.rmtree(work, ignore_errors=True)
    return 0 if lost == 0 and rc == 0 else 1


def _embedded_url(pgdata: Path) -> str:
    from ems.db.embedded import start_embedded

    return start_embedded(pgdata)


if __name__ == "__main__":
    sys.exit(main())
