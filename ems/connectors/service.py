"""The live ingestion service: a site's connectors, the store-and-forward buffer and its writer.

:class:`LiveService` runs in an asyncio loop (MQTT's network loop is paho's own thread); it stops
cleanly on :meth:`request_stop` (``ems ingest serve`` calls it on SIGINT / SIGTERM): connectors stop
first (MQTT messages not yet on disk stay unacknowledged at the broker), then the buffer is flushed
to the database (up to ``buffer.drain_timeout_s``; what remains stays on disk for the next start).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import psycopg

from ems.connectors.buffer import DiskBuffer
from ems.connectors.config import ConnectorsFile, ModbusConnector, MqttConnector, OpcUaConnector
from ems.connectors.forward import Forwarder
from ems.settings import load_settings

log = logging.getLogger(__name__)


def buffer_path(cfg: ConnectorsFile) -> Path:
    if cfg.buffer.path:
        return Path(cfg.buffer.path).expanduser()
    return load_settings().data_dir / "buffer" / f"{cfg.site}.sqlite"


class LiveService:
    def __init__(self, cfg: ConnectorsFile, database_url: str, *, base_dir: Path | None = None,
                 buffer_file: Path | None = None):
        self.cfg = cfg
        b = cfg.buffer
        self.buffer = DiskBuffer(buffer_file or buffer_path(cfg))
        self.forwarder = Forwarder(
            self.buffer, lambda: psycopg.connect(database_url, autocommit=True, connect_timeout=5),
            max_memory_items=b.max_memory_items, max_disk_items=b.max_disk_items, batch_items=b.batch_items,
            spool_interval_s=b.spool_interval_s)
        self.connectors = [self._make(c, base_dir) for c in cfg.connectors]
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.left_in_buffer = 0

    def _make(self, c, base_dir):
        if isinstance(c, MqttConnector):
            from ems.connectors.mqtt import MqttSubscriber

            return MqttSubscriber(c, self.cfg.site, self.forwarder)
        if isinstance(c, OpcUaConnector):
            from ems.connectors.opcua import OpcUaSubscriber

            return OpcUaSubscriber(c, self.cfg.site, self.emit)
        if isinstance(c, ModbusConnector):
            from ems.connectors.modbus import ModbusPoller

            return ModbusPoller(c, self.cfg.site, self.emit, base_dir=base_dir)
        raise TypeError(type(c))

    async def emit(self, items) -> None:
        """Hand items to the forwarder from the event loop; waits (in a worker thread) while it is full."""
        if not items:
            return
        loop = asyncio.get_running_loop()
        while not await loop.run_in_executor(None, lambda: self.forwarder.put(items, timeout=1.0)):
            if self.forwarder.closed:
                log.warning("shutting down: %d item(s) from a poll were not taken", len(items))
                return

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self.forwarder.start()
        tasks = [asyncio.create_task(self._supervise(c), name=f"connector-{c.cfg.name}") for c in self.connectors]
        try:
            await self._stop.wait()
        finally:
            self._stop.set()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            for c, res in zip(self.connectors, results):
                if isinstance(res, BaseException) and not isinstance(res, asyncio.CancelledError):
                    log.error("connector %s ended with %s: %s", c.cfg.name, type(res).__name__, res)
            self.left_in_buffer = await self._loop.run_in_executor(
                None, lambda: self.forwarder.stop(self.cfg.buffer.drain_timeout_s))
            self.buffer.close()

    async def _supervise(self, connector) -> None:
        """Run a connector; should it fail (a bug, not a lost connection: those it handles), log and restart it."""
        assert self._stop is not None
        while not self._stop.is_set():
            try:
                await connector.run(self._stop)
            except Exception:
                log.exception("connector %s failed; restarting in 5 s", connector.cfg.name)
                try:
                    await asyncio.wait_for(self._stop.wait(), timeout=5.0)
                except TimeoutError:
                    pass

    def request_stop(self) -> None:
        """Thread-safe: ask :meth:`run` to shut down cleanly."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
