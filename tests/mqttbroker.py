"""A real MQTT broker for tests: amqtt in its own thread and event loop (paho's blocking calls never
stall it), on a free local port. ``with Broker(free_port()) as b: ...``"""

from __future__ import annotations

import asyncio
import socket
import threading


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    def __init__(self, port: int):
        self.port = port
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        from amqtt.broker import Broker as AmqttBroker

        asyncio.set_event_loop(self.loop)

        async def start():
            self.broker = AmqttBroker({"listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}"}}})
            await self.broker.start()
            self.ready.set()

        self.loop.run_until_complete(start())
        self.loop.run_forever()

    def __enter__(self):
        self.thread.start()
        assert self.ready.wait(10)
        return self

    def __exit__(self, *exc):
        try:
            asyncio.run_coroutine_threadsafe(self.broker.shutdown(), self.loop).result(timeout=10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
