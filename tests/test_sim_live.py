"""Live mode: readings reach an in-process MQTT broker and an OPC UA server on free ports."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest
from mqttbroker import Broker as _BrokerThread
from mqttbroker import free_port as _free_port


def test_mqtt_topic_tree_receives_meters():
    import time

    import paho.mqtt.client as mqtt

    from ems.sim.live import MqttSink, publish_live
    from ems.sim.points import plant_points

    port = _free_port()
    n_points = sum(1 for p in plant_points("QD") if not p.formula)
    got: dict[str, dict] = {}
    subscribed = threading.Event()
    with _BrokerThread(port):
        sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-sub")
        sub.on_connect = lambda c, u, f, rc, p=None: c.subscribe("test/sim/#", qos=1)
        sub.on_subscribe = lambda *a: subscribed.set()
        sub.on_message = lambda c, u, msg: got.__setitem__(msg.topic, json.loads(msg.payload))
        sub.connect("127.0.0.1", port)
        sub.loop_start()
        assert subscribed.wait(10)
        sink = MqttSink(f"127.0.0.1:{port}", "test/sim", client_id="test-pub")
        n = asyncio.run(publish_live("QD", "2025-07-01", steps=2, speed=1e6, mqtt=sink))
        deadline = time.monotonic() + 10
        while len(got) < n_points and time.monotonic() < deadline:
            time.sleep(0.05)
        sink.close()
        sub.loop_stop()
        sub.disconnect()
    assert n == 2 * n_points and len(got) == n_points
    assert "test/sim/QD/QD.MAIN.kWh" in got and "test/sim/QD/QD.WS1.T" in got
    msg = got["test/sim/QD/QD.MAIN.kWh"]
    assert msg["unit"] == "kWh" and msg["value"] > 0 and msg["ts"].endswith("+08:00")


def test_opcua_address_space_serves_meters():
    from asyncua import Client

    from ems.sim.live import NAMESPACE_URI, OpcUaSink, publish_live

    port = _free_port()
    url = f"opc.tcp://127.0.0.1:{port}/sim"

    async def main():
        server = OpcUaSink(url)
        try:
            await publish_live("FS", "2025-07-01", steps=2, speed=1e6, opcua=server)
            async with Client(url) as client:
                idx = await client.get_namespace_index(NAMESPACE_URI)
                node = client.get_node(f"ns={idx};s=FS.MAIN.kWh")
                dv = await node.read_data_value()
                temp = await client.get_node(f"ns={idx};s=FS.WS1.T").read_value()
                return dv, temp
        finally:
            await server.stop()

    dv, temp = asyncio.run(main())
    assert dv.Value.Value > 0
    assert dv.SourceTimestamp.year == 2025
    assert 10.0 < temp < 40.0


def test_live_needs_a_sink():
    import argparse

    from ems.cli.sim_cmd import register
    from ems.errors import UserError

    p = argparse.ArgumentParser()
    register(p.add_subparsers())
    args = p.parse_args(["sim", "live", "--plant", "QD"])
    with pytest.raises(UserError):
        args.func(args)
