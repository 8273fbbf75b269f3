"""Live mode: step the twin on an (accelerated) clock and publish every reading.

* MQTT (paho-mqtt): topic ``<prefix>/<plant>/<point code>``, JSON payload
  ``{"ts": "2025-07-01T00:15:00+08:00", "value": 123.4, "unit": "kWh", "quality": "good"}``,
  QoS 1. Timestamps are the simulated interval ends in the plant's time zone.
* OPC UA (asyncua): namespace ``urn:carbon-cockpit:sim``; folder ``Objects/<plant>``, one Double
  variable per point whose browse name is the point code (node id ``ns=<idx>;s=<point code>``);
  the source timestamp is the simulated time.

The clock runs ``speed`` simulated seconds per wall-clock second (900: one 15-min step per second).
The baseline policy drives the plant unless a policy is given.
"""

from __future__ import annotations

import asyncio
import json
import math
from datetime import UTC

import pandas as pd

from ems.errors import UserError
from ems.sim.twin import PlantTwin, Policy, baseline_policy

NAMESPACE_URI = "urn:carbon-cockpit:sim"


def _host_port(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise UserError(f"MQTT broker '{text}' is not host:port")
    return host, int(port)


class MqttSink:
    """Publishes readings with paho-mqtt (network loop in paho's own thread)."""

    def __init__(self, broker: str, prefix: str, client_id: str = "carbon-cockpit-sim"):
        import paho.mqtt.client as mqtt

        host, port = _host_port(broker)
        self.prefix = prefix.rstrip("/")
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        try:
            self.client.connect(host, port, keepalive=30)
        except OSError as exc:
            raise UserError(f"cannot connect to MQTT broker {broker}: {exc}") from exc
        self.client.loop_start()

    def publish(self, plant: str, code: str, ts: str, value: float, unit: str) -> None:
        payload = json.dumps({"ts": ts, "value": value, "unit": unit, "quality": "good"})
        self.client.publish(f"{self.prefix}/{plant}/{code}", payload, qos=1)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class OpcUaSink:
    """An asyncua server exposing one variable per point."""

    def __init__(self, endpoint: str):
        self.endpoint = endpoint
        self.server = None
        self.vars: dict[str, object] = {}

    async def start(self, plant: str, points) -> None:
        from asyncua import Server, ua

        self._ua = ua
        self.server = Server()
        await self.server.init()
        self.server.set_endpoint(self.endpoint)
        self.server.set_server_name("Carbon Cockpit plant twin")
        idx = await self.server.register_namespace(NAMESPACE_URI)
        folder = await self.server.nodes.objects.add_folder(ua.NodeId(plant, idx), plant)
        for p in points:
            var = await folder.add_variable(ua.NodeId(p.code, idx), p.code, 0.0, varianttype=ua.VariantType.Double)
            self.vars[p.code] = var
        await self.server.start()

    async def write(self, code: str, value: float, ts) -> None:
        ua = self._ua
        dv = ua.DataValue(ua.Variant(float(value), ua.VariantType.Double), SourceTimestamp=ts,
                          ServerTimestamp=ts)
        await self.vars[code].write_value(dv)

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()


async def publish_live(plant: str, start: str, steps: int, speed: float, mqtt: MqttSink | None = None,
                       opcua: OpcUaSink | None = None, policy: Policy = baseline_policy) -> int:
    """Step the twin ``steps`` times, publishing every reading. Returns the number of readings published."""
    if steps <= 0 or speed <= 0:
        raise UserError("--steps and --speed must be positive")
    twin = PlantTwin(plant, start=start, days=math.ceil(steps / 96))
    tz = twin.plant.site.timezone
    units = {p.code: p.unit for p in twin.points}
    if opcua is not None and opcua.server is None:
        await opcua.start(twin.plant.code, twin.points)
    n = 0
    loop = asyncio.get_running_loop()
    t_next = loop.time()
    for _ in range(steps):
        m = twin.step(policy(twin.observe()))
        ts_local = pd.Timestamp(m["time"]).tz_localize(tz)
        iso = ts_local.isoformat()
        ts_utc = ts_local.tz_convert(UTC).to_pydatetime()
        for code, unit in units.items():
            v = float(m[code])
            if mqtt is not None:
                mqtt.publish(twin.plant.code, code, iso, v, unit)
                n += 1
            if opcua is not None:
                await opcua.write(code, v, ts_utc)
                n += 1
        t_next += 900.0 / speed
        await asyncio.sleep(max(0.0, t_next - loop.time()))
    return n


def run_live(plant: str, start: str, steps: int, speed: float, mqtt: str | None = None,
             topic_prefix: str = "carbon-cockpit/sim", opcua: str | None = None) -> int:
    """Blocking entry point for ``ems sim live``."""

    async def main() -> int:
        sink = MqttSink(mqtt, topic_prefix) if mqtt else None
        server = OpcUaSink(opcua) if opcua else None
        try:
            return await publish_live(plant, start, steps, speed, sink, server)
        finally:
            if sink is not None:
                sink.close()
            if server is not None:
                await server.stop()

    return asyncio.run(main())
