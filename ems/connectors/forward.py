"""Store-and-forward: connectors -> bounded memory queue -> durable disk buffer -> database.

Two threads:

* the **spooler** moves what connectors handed over from memory to the :class:`DiskBuffer` (one SQLite
  transaction per round, every ``spool_interval_s`` or when ``spool_items`` are waiting), then runs the
  connectors' ``on_durable`` callbacks (the MQTT connector acknowledges QoS 1 messages there, so the
  broker redelivers anything that never reached the disk);
* the **writer** takes the oldest ``batch_items`` from the buffer, writes them in one database
  transaction through :func:`ems.ingest.live.ingest_live` (one ingest batch per site, source and
  connector) and deletes them from the buffer after the commit. When the database is unreachable it
  keeps the items and retries with exponential back-off; when it returns, the backlog is written in
  the order it was received. A replay after an ambiguous commit is harmless: writes are idempotent.

Back-pressure: :meth:`Forwarder.put` blocks while ``max_memory_items`` are waiting for the spooler, and
the spooler waits while the disk buffer holds ``max_disk_items``; so memory stays bounded and a full
buffer slows the connectors (MQTT stops reading its socket, the broker queues) instead of growing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg

from ems.connectors.buffer import DiskBuffer
from ems.connectors.items import Item
from ems.ingest.live import LiveBatch, SiteCache, ingest_live

log = logging.getLogger(__name__)

#: Errors that mean "the database is not there right now": keep the items and retry.
UNREACHABLE = (psycopg.OperationalError, psycopg.InterfaceError, OSError)


@dataclass
class ForwardStats:
    received: int = 0          # items handed over by connectors
    spooled: int = 0           # items committed to the disk buffer
    written: int = 0           # readings accepted into the database
    quarantined: int = 0       # items quarantined (decode rejects and validation rejects)
    duplicates: int = 0        # re-sent readings that were already stored
    transactions: int = 0
    db_failures: int = 0       # attempts that found the database unreachable
    dead: int = 0              # items moved to the buffer's dead table
    db_up: bool = False
    last_error: str = ""
    latencies_s: list[float] = field(default_factory=list)  # spool -> committed, per transaction


class Forwarder:
    def __init__(self, buffer: DiskBuffer, connect: Callable[[], psycopg.Connection], *,
                 max_memory_items: int = 50_000, max_disk_items: int = 10_000_000, batch_items: int = 20_000,
                 spool_items: int = 5_000, spool_interval_s: float = 0.2, ack_linger_s: float = 0.005,
                 retry_min_s: float = 0.2,
                 retry_max_s: float = 30.0, max_attempts: int = 3):
        self.buffer, self.connect = buffer, connect
        self.max_memory_items, self.max_disk_items = max_memory_items, max_disk_items
        self.batch_items, self.spool_items, self.spool_interval_s = batch_items, spool_items, spool_interval_s
        self.ack_linger_s = ack_linger_s
        self.retry_min_s, self.retry_max_s, self.max_attempts = retry_min_s, retry_max_s, max_attempts
        self.stats = ForwardStats()
        self._pending: list[Item] = []
        self._callbacks: list[Callable[[], None]] = []
        self._cond = threading.Condition()
        self._wake_writer = threading.Event()
        self._stopping = threading.Event()
        self._spool_done = threading.Event()
        self._writer_stop = threading.Event()
        self._sites: dict[str, SiteCache] = {}
        self._conn: psycopg.Connection | None = None
        self._spooler = threading.Thread(target=self._spool_loop, name="forward-spool", daemon=True)
        self._writer = threading.Thread(target=self._write_loop, name="forward-write", daemon=True)

    # ------------------------------------------------------------------ producers (connector threads)

    def put(self, items: list[Item], on_durable: Callable[[], None] | None = None,
            timeout: float | None = None) -> bool:
        """Hand items over; blocks while the memory queue is full. False: timed out or shutting down."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._pending and len(self._pending) + len(items) > self.max_memory_items:
                if self._stopping.is_set():
                    return False
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(0.1 if left is None else min(left, 0.1))
            if self._stopping.is_set():
                return False
            first = not self._pending
            self._pending.extend(items)
            if on_durable is not None:
                self._callbacks.append(on_durable)
            self.stats.received += len(items)
            # wake the spooler for the first item (it lingers ack_linger_s when a connector waits for the
            # durable acknowledgement, else spool_interval_s) and when spool_items are waiting
            if first or len(self._pending) >= self.spool_items:
                self._cond.notify_all()
        return True

    @property
    def closed(self) -> bool:
        """True once :meth:`stop` was called (``put`` refuses new items)."""
        return self._stopping.is_set()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Forwarder:
        self._spooler.start()
        self._writer.start()
        return self

    def stop(self, drain_timeout_s: float = 30.0) -> int:
        """Stop accepting, spool everything to disk, write the backlog while the database answers (at most
        ``drain_timeout_s``). Returns the number of items left in the disk buffer (sent on the next start)."""
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
        self._spooler.join()
        deadline = time.monotonic() + drain_timeout_s
        while self.buffer.count() and time.monotonic() < deadline and self._writer.is_alive():
            self._wake_writer.set()
            time.sleep(0.05)
        self._writer_stop.set()
        self._wake_writer.set()
        self._writer.join()
        left = self.buffer.count()
        if left:
            log.warning("%d item(s) stay in the buffer %s; they are written on the next start", left,
                        self.buffer.path)
        if self._conn is not None:
            self._conn.close()
        return left

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """True once nothing is pending in memory or on disk (for tests and benchmarks)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._cond:
                pending = len(self._pending)
            if not pending and not self.buffer.count():
                return True
            self._wake_writer.set()
            time.sleep(0.02)
        return False

    # ------------------------------------------------------------------ spooler

    def _spool_loop(self) -> None:
        while True:
            with self._cond:
                if not self._pending and not self._stopping.is_set():
                    self._cond.wait(self.spool_interval_s)
                if len(self._pending) < self.spool_items and not self._stopping.is_set():
                    # acknowledgements wait: linger only briefly, so one commit covers a burst of messages
                    self._cond.wait(self.ack_linger_s if self._callbacks else self.spool_interval_s)
                items, self._pending = self._pending, []
                callbacks, self._callbacks = self._callbacks, []
                self._cond.notify_all()  # room again for blocked producers
            if items:
                while self.buffer.count() >= self.max_disk_items and not self._writer_stop.is_set():
                    time.sleep(0.1)  # disk buffer full: hold the items (producers block on memory)
                self.buffer.append(items)
                self.stats.spooled += len(items)
                self._wake_writer.set()
            for cb in callbacks:
                try:
                    cb()
                except Exception:  # an ack to a broker that went away: it redelivers, writes are idempotent
                    log.exception("on_durable callback failed")
            if self._stopping.is_set():
                with self._cond:
                    if not self._pending:
                        self._spool_done.set()
                        return

    # ------------------------------------------------------------------ writer

    def _write_loop(self) -> None:
        delay = self.retry_min_s
        attempts = 0
        while not self._writer_stop.is_set():
            rows = self.buffer.peek(self.batch_items)
            if not rows:
                if self._spool_done.is_set():
                    break
                self._wake_writer.wait(0.5)
                self._wake_writer.clear()
                continue
            try:
                self._write(rows)
                delay, attempts = self.retry_min_s, 0
            except UNREACHABLE as exc:
                self._db_down(exc)
                self._writer_stop.wait(delay)
                delay = min(delay * 2, self.retry_max_s)
            except Exception as exc:  # not the connection: retry a little, then set the batch aside
                attempts += 1
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("writing %d buffered item(s) failed (attempt %d)", len(rows), attempts)
                self._drop_conn()
                if attempts >= self.max_attempts:
                    self.stats.dead += self.buffer.move_to_dead(rows[0][0], rows[-1][0], self.stats.last_error)
                    attempts = 0
                else:
                    self._writer_stop.wait(delay)

    def _db_down(self, exc: BaseException) -> None:
        if self.stats.db_up or not self.stats.db_failures:
            log.warning("database unreachable, buffering on disk (%s): %s", self.buffer.path, exc)
        self.stats.db_up = False
        self.stats.db_failures += 1
        self.stats.last_error = f"{type(exc).__name__}: {str(exc).strip()}"
        self._drop_conn()

    def _drop_conn(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:
                pass
            self._conn = None

    def _write(self, rows: list[tuple[int, Item]]) -> None:
        t0 = time.monotonic()
        if self._conn is None or self._conn.closed:
            self._conn = self.connect()
            if not self.stats.db_up and self.stats.db_failures:
                log.warning("database reachable again; writing %d buffered item(s)", self.buffer.count())
        conn = self._conn
        groups: dict[tuple[str, str, str], list[Item]] = {}
        for _, item in rows:
            groups.setdefault((item.site, item.source, item.origin), []).append(item)
        written = quarantined = dupes = 0
        with conn.transaction():
            for (site, source, origin), items in groups.items():
                readings = [i for i in items if i.is_reading]
                rejects = [(i.tag, i.raw, i.ts_text, i.reason or "unparseable_value", i.detail)
                           for i in items if not i.is_reading]
                cache = self._sites.setdefault(site, SiteCache(site))
                report = ingest_live(conn, site, _batch(readings), source=source, rejects=rejects, origin=origin,
                                     cache=cache)
                written += report.accepted
                quarantined += report.quarantined_total
                dupes += report.duplicates
        self.buffer.delete_through(rows[-1][0])
        self.stats.db_up = True
        self.stats.written += written
        self.stats.quarantined += quarantined
        self.stats.duplicates += dupes
        self.stats.transactions += 1
        self.stats.latencies_s.append(time.monotonic() - t0)
        del self.stats.latencies_s[:-1000]


def _batch(items: list[Item]) -> LiveBatch:
    import numpy as np

    n = len(items)
    return LiveBatch(code=np.array([i.tag for i in items], dtype=object).reshape(n),
                     ts_ns=np.fromiter((i.ts_ns for i in items), np.int64, n),
                     naive=np.fromiter((i.naive for i in items), bool, n),
                     value=np.fromiter((i.value for i in items), np.float64, n),
                     unit=np.array([i.unit for i in items], dtype=object).reshape(n))
