"""Modbus TCP: poll meters with register maps (pymodbus behind a small adapter; its API is in flux).

Every ``poll_interval_s`` (on multiples of it when ``align``, so 15-min registers land on the grid) each
device's mapped registers are read in as few requests as possible and decoded; a reading is stamped
with the poll's grid time (UTC) and the register's unit, so the pipeline converts e.g. W to kW. A
Modbus exception response (illegal address, device busy ...) quarantines the points of that request with
the exception code; a lost connection is logged and retried with back-off, never a crash.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass

from ems.connectors.config import ModbusConnector
from ems.connectors.items import Item
from ems.connectors.registers import Block, block_words, decode_block, load_register_map, plan_reads

log = logging.getLogger(__name__)

EXCEPTION_NAMES = {1: "illegal function", 2: "illegal data address", 3: "illegal data value",
                   4: "server device failure", 5: "acknowledge", 6: "server device busy",
                   10: "gateway path unavailable", 11: "gateway target device failed to respond"}


class ModbusExceptionResponse(Exception):
    def __init__(self, code: int):
        self.code = code
        super().__init__(f"exception code {code} ({EXCEPTION_NAMES.get(code, 'unknown')})")


class ModbusUnavailable(Exception):
    """No connection, a timeout or a broken frame: retry later."""


class ModbusAdapter:
    """The only place that touches pymodbus (pinned, see pyproject): connect, read registers, close."""

    def __init__(self, host: str, port: int, timeout_s: float):
        from pymodbus.client import AsyncModbusTcpClient

        # reconnect_delay=0: no reconnects inside pymodbus; the poller owns the back-off
        self.client = AsyncModbusTcpClient(host, port=port, timeout=timeout_s, retries=0, reconnect_delay=0)

    async def connect(self) -> None:
        try:
            ok = await self.client.connect()
        except Exception as exc:
            raise ModbusUnavailable(str(exc)) from exc
        if not ok:
            raise ModbusUnavailable("connection refused or timed out")

    async def read(self, function: str, address: int, count: int, unit_id: int) -> list[int]:
        from pymodbus.exceptions import ModbusException

        call = self.client.read_holding_registers if function == "holding" else self.client.read_input_registers
        try:
            rr = await call(address, count=count, device_id=unit_id)
        except ModbusException as exc:
            raise ModbusUnavailable(str(exc)) from exc
        except (TimeoutError, OSError) as exc:
            raise ModbusUnavailable(str(exc) or type(exc).__name__) from exc
        if rr.isError():
            code = getattr(rr, "exception_code", None)
            if code is None:
                raise ModbusUnavailable(str(rr))
            raise ModbusExceptionResponse(int(code))
        return list(rr.registers)

    @property
    def connected(self) -> bool:
        return bool(self.client.connected)

    def close(self) -> None:
        self.client.close()


@dataclass(frozen=True)
class _DevicePlan:
    unit_id: int
    blocks: list[Block]
    points: dict[str, str]        # register name -> point code


class ModbusPoller:
    source = "modbus"

    def __init__(self, cfg: ModbusConnector, site: str, emit, *, base_dir=None):
        """``emit``: async callable taking a list of Items (the forwarder, with back-pressure)."""
        self.cfg, self.site, self.emit = cfg, site, emit
        self.devices = []
        for dev in cfg.devices:
            regmap = load_register_map(dev.model, base=base_dir)
            regs = [regmap.registers[name] for name in dev.points]
            self.devices.append(_DevicePlan(dev.unit_id, plan_reads(regs), dict(dev.points)))
        self.polls = 0
        self.errors = 0

    async def run(self, stop: asyncio.Event) -> None:
        delay = self.cfg.reconnect.min_s
        adapter: ModbusAdapter | None = None
        while not stop.is_set():
            if adapter is None or not adapter.connected:
                adapter = ModbusAdapter(self.cfg.host, self.cfg.port, self.cfg.timeout_s)
                try:
                    await adapter.connect()
                    delay = self.cfg.reconnect.min_s
                except ModbusUnavailable as exc:
                    log.warning("modbus %s (%s:%s): %s; retrying in %.1f s", self.cfg.name, self.cfg.host,
                                self.cfg.port, exc, delay)
                    adapter.close()
                    adapter = None
                    await _sleep(stop, delay)
                    delay = min(delay * 2, self.cfg.reconnect.max_s)
                    continue
            due = self._next_due()
            await _sleep(stop, max(0.0, due - time.time()))
            if stop.is_set():
                break
            try:
                await self.poll_once(adapter, due)
            except ModbusUnavailable as exc:
                self.errors += 1
                log.warning("modbus %s: connection lost (%s); reconnecting", self.cfg.name, exc)
                adapter.close()
                adapter = None
        if adapter is not None:
            adapter.close()

    def _next_due(self) -> float:
        step = self.cfg.poll_interval_s
        now = time.time()
        return math.floor(now / step + 1) * step if self.cfg.align else now

    async def poll_once(self, adapter: ModbusAdapter, stamp_s: float) -> list[Item]:
        """Read every device once; readings stamped ``stamp_s`` (UTC seconds). Returns what was emitted."""
        ts_ns = int(round(stamp_s * 1e9))
        items: list[Item] = []
        for dev in self.devices:
            for block in dev.blocks:
                try:
                    words = await adapter.read(block.function, block.address, block.count, dev.unit_id)
                except ModbusExceptionResponse as exc:
                    self.errors += 1
                    for r in block.registers:
                        items.append(Item.reject(
                            self.site, self.source, self.cfg.name, dev.points[r.name], "modbus_exception",
                            f"{exc} reading {block.function} registers {block.address}..{block.address + block.count - 1}"
                            f" of unit {dev.unit_id} ({r.name})", raw=None,
                            ts_text=_iso(ts_ns)))
                    continue
                for name, value in decode_block(block, words).items():
                    reg = next(r for r in block.registers if r.name == name)
                    if math.isfinite(value):
                        items.append(Item.reading(self.site, self.source, self.cfg.name, dev.points[name], ts_ns,
                                                  value, unit=reg.unit))
                    else:
                        items.append(Item.reject(self.site, self.source, self.cfg.name, dev.points[name],
                                                 "unparseable_value", f"register {name} decodes to {value}",
                                                 raw=" ".join(f"{w:04x}" for w in block_words(block, words, name)),
                                                 ts_text=_iso(ts_ns)))
        self.polls += 1
        if items:
            await self.emit(items)
        return items


def _iso(ts_ns: int) -> str:
    import pandas as pd

    return pd.Timestamp(ts_ns, tz="UTC").isoformat()


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass
