"""Modbus TCP against an in-process pymodbus server: register maps, word order, 32/64-bit, exceptions."""

from __future__ import annotations

import asyncio
import socket

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ems.connectors.config import ModbusConnector
from ems.connectors.registers import decode, encode, load_register_map, plan_reads


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------------------- pure decoding

def test_decode_known_answers():
    assert decode([0x449A, 0x5000], "float32") == 1234.5                  # high word first
    assert decode([0x5000, 0x449A], "float32", word_order="little") == 1234.5
    assert decode([0x0000, 0x0001, 0x0000, 0x0000], "int64") == 1 << 32
    assert decode([0xFFFF, 0xFFFF, 0xFFFF, 0xFFFE], "int64") == -2
    assert decode([0x0001, 0x0000], "uint32", word_order="little") == 1
    assert decode([0x9A44, 0x0050], "float32", byte_order="little") == 1234.5
    with pytest.raises(ValueError):
        decode([1], "float32")


@given(st.sampled_from(["int16", "uint16", "int32", "uint32", "int64", "uint64"]), st.integers(),
       st.sampled_from(["big", "little"]), st.sampled_from(["big", "little"]))
def test_integer_round_trip(type_, n, word_order, byte_order):
    bits = {"int16": 16, "uint16": 16, "int32": 32, "uint32": 32, "int64": 64, "uint64": 64}[type_]
    lo, hi = (0, 2 ** bits - 1) if type_.startswith("u") else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    n = lo + n % (hi - lo + 1)
    assert decode(encode(n, type_, word_order, byte_order), type_, word_order, byte_order) == n


def test_shipped_maps_addresses():
    sdm = load_register_map("eastron-sdm630")
    assert sdm.registers["active_power_total"].address == 0x0034           # 30053 in the manual
    assert sdm.registers["import_active_energy"].address == 0x0048        # 30073
    assert sdm.registers["total_active_energy"].address == 0x0156         # 30343
    assert {r.function for r in sdm.registers.values()} == {"input"}
    pm = load_register_map("schneider-pm5xxx")
    e64 = pm.registers["active_energy_delivered_wh"]
    assert (e64.address, e64.words, e64.type, e64.unit) == (3203, 4, "int64", "Wh")   # register 3204
    assert pm.registers["active_energy_delivered"].address == 2699                     # register 2700
    blocks = plan_reads([pm.registers[n] for n in ("current_a", "current_b", "current_c", "frequency")])
    assert [(b.address, b.count) for b in blocks] == [(2999, 6), (3109, 2)]


# --------------------------------------------------------------------------------------- real server

class _Server:
    """pymodbus TCP server in the test's loop; unit 1 a PM5xxx (holding), unit 2 an SDM630 (input)."""

    def __init__(self, port: int, pm_wh: int, sdm_kwh: float, sdm_hz: float):
        from pymodbus.datastore import ModbusDeviceContext, ModbusServerContext, ModbusSparseDataBlock
        from pymodbus.server import ModbusTcpServer

        pm = dict(zip(range(3203, 3207), encode(pm_wh, "int64")))
        pm.update(zip(range(2699, 2701), encode(pm_wh / 1000, "float32")))
        sdm = dict(zip(range(0x48, 0x4A), encode(sdm_kwh, "float32")))
        sdm.update(zip(range(0x46, 0x48), encode(sdm_hz, "float32")))
        self.pm, self.sdm = ModbusSparseDataBlock(pm), ModbusSparseDataBlock(sdm)
        ctx = ModbusServerContext(devices={1: ModbusDeviceContext(hr=self.pm), 2: ModbusDeviceContext(ir=self.sdm)},
                                  single=False)
        self.port = port
        self.server = ModbusTcpServer(ctx, address=("127.0.0.1", port))

    async def __aenter__(self):
        self.task = asyncio.create_task(self.server.serve_forever())
        await asyncio.sleep(0.2)
        return self

    async def write_holding(self, unit: int, address: int, words: list[int]) -> None:
        """Change a meter's registers the way a Modbus master would (function 16)."""
        from pymodbus.client import AsyncModbusTcpClient

        client = AsyncModbusTcpClient("127.0.0.1", port=self.port)
        await client.connect()
        rr = await client.write_registers(address, words, device_id=unit)
        client.close()
        assert not rr.isError()

    async def __aexit__(self, *exc):
        await self.server.shutdown()
        self.task.cancel()


def _cfg(port: int, **kw) -> ModbusConnector:
    return ModbusConnector.model_validate({
        "type": "modbus", "name": "meters", "host": "127.0.0.1", "port": port, "poll_interval_s": 0.1,
        "reconnect": {"min_s": 0.1, "max_s": 0.5},
        "devices": [{"unit_id": 1, "model": "schneider-pm5xxx",
                     "points": {"active_energy_delivered_wh": "QD.AC1.kWh", "active_energy_delivered": "QD.AC3.kWh"}},
                    {"unit_id": 2, "model": "eastron-sdm630",
                     "points": {"import_active_energy": "QD.AC2.kWh", "frequency": "QD.CHWP.Hz",
                                "total_active_energy": "QD.AC4.kWh"}}], **kw})


def test_poll_decodes_and_quarantines_exception_response():
    from ems.connectors.modbus import ModbusAdapter, ModbusPoller

    port = _free_port()
    got: list = []

    async def emit(items):
        got.extend(items)

    async def main():
        async with _Server(port, pm_wh=123_456_789_012, sdm_kwh=4321.5, sdm_hz=49.98):
            poller = ModbusPoller(_cfg(port), "QD", emit)
            adapter = ModbusAdapter("127.0.0.1", port, 2.0)
            await adapter.connect()
            try:
                return await poller.poll_once(adapter, 1751300100.0)
            finally:
                adapter.close()

    items = asyncio.run(main())
    assert items == got
    readings = {i.tag: (i.value, i.unit) for i in items if i.is_reading}
    assert readings["QD.AC1.kWh"] == (123_456_789_012, "Wh")             # 64-bit, unit from the map
    assert readings["QD.AC3.kWh"][0] == pytest.approx(123_456_789.012, rel=1e-7)
    assert readings["QD.AC2.kWh"] == (4321.5, "kWh") and readings["QD.CHWP.Hz"][0] == pytest.approx(49.98, rel=1e-6)
    assert {i.ts_ns for i in items if i.is_reading} == {pd.Timestamp("2025-06-30 16:15", tz="UTC").value}
    # 30343 (total_active_energy) is not served: the server answers "illegal data address"
    (rej,) = [i for i in items if not i.is_reading]
    assert rej.tag == "QD.AC4.kWh" and rej.reason == "modbus_exception" and "illegal data address" in rej.detail


@pytest.mark.db
def test_modbus_service_stores_converted_readings(conn, tmp_path, db_url):
    from ems.assets.loader import load_asset_file
    from ems.assets.store import load_asset_model
    from ems.connectors.config import ConnectorsFile
    from ems.connectors.service import LiveService

    load_asset_model(conn, load_asset_file("examples/plant.yaml"))
    port = _free_port()
    cfg = ConnectorsFile.model_validate({"site": "QD", "connectors": [_cfg(port).model_dump()]})

    async def main():
        service = LiveService(cfg, db_url, buffer_file=tmp_path / "buf.sqlite")
        run = asyncio.create_task(service.run())
        async with _Server(port, pm_wh=2_000_500, sdm_kwh=10.0, sdm_hz=50.0) as srv:
            await asyncio.sleep(0.5)                                        # a few polls
            await srv.write_holding(1, 3203, encode(2_000_502, "int64"))     # +2 Wh on the 64-bit register
            await asyncio.sleep(0.4)
        await asyncio.sleep(0.3)                                           # server gone: the poller retries
        service.request_stop()
        await run
        return service

    service = asyncio.run(main())
    assert service.left_in_buffer == 0 and service.forwarder.stats.dead == 0
    rows = conn.execute("""SELECT r.value, r.delta FROM reading r JOIN point p USING (point_id)
                           WHERE p.code = 'QD.AC1.kWh' ORDER BY r.ts""").fetchall()
    assert len(rows) >= 4
    values = [v for v, _ in rows]
    assert values[0] == 2000.5 and values[-1] == 2000.502                   # Wh register -> kWh point
    # counters ran on the live readings: 2 Wh in 0.1 s is below QD.AC1.kWh's 128 kWh/h cap
    assert sum(d for _, d in rows if d is not None) == pytest.approx(0.002)
    hz = conn.execute("""SELECT DISTINCT r.value FROM reading r JOIN point p USING (point_id)
                         WHERE p.code = 'QD.CHWP.Hz'""").fetchall()
    assert hz == [(50.0,)]
    q = conn.execute("SELECT DISTINCT field, reason, source FROM quarantine").fetchall()
    assert q == [("QD.AC4.kWh", "modbus_exception", "modbus")]
