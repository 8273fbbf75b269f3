"""MQTT subscriber (paho-mqtt): topics mapped to points, QoS 1 acknowledged once the data is on disk.

* Persistent session (clean_session false, fixed client id): the broker keeps QoS 1 messages while the
  connector is away and redelivers what was never acknowledged.
* Manual acknowledgement: a message's PUBACK is sent only after its items are committed to the
  store-and-forward buffer, so a crash in between loses nothing (the broker redelivers; writes are
  idempotent, so a redelivered reading is stored once).
* Reconnect with exponential back-off (paho's loop, ``reconnect.min_s`` .. ``reconnect.max_s``).
* Back-pressure: the message callback blocks while the forwarder's memory queue is full; paho then stops
  reading the socket and the broker holds the messages.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time

from ems.connectors.config import MqttConnector
from ems.connectors.payload import decode_message

log = logging.getLogger(__name__)


class MqttSubscriber:
    source = "mqtt"

    def __init__(self, cfg: MqttConnector, site: str, forwarder):
        import paho.mqtt.client as mqtt

        self.cfg, self.site, self.forwarder = cfg, site, forwarder
        self.messages = 0
        self.connected = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        client_id = cfg.client_id or f"ems-{site}-{cfg.name}"
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False,
                                  manual_ack=cfg.qos > 0)
        if cfg.username:
            self.client.username_pw_set(cfg.username, cfg.secret())
        if cfg.tls:
            self.client.tls_set(ca_certs=cfg.ca_file, cert_reqs=ssl.CERT_REQUIRED)
        self.client.reconnect_delay_set(min_delay=max(1, round(cfg.reconnect.min_s)),
                                        max_delay=max(1, round(cfg.reconnect.max_s)))
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    def _on_connect(self, client, userdata, flags, reason_code, properties=None) -> None:
        if reason_code.is_failure:
            log.warning("mqtt %s: broker refused the connection: %s", self.cfg.name, reason_code)
            return
        client.subscribe([(t.filter, self.cfg.qos) for t in self.cfg.topics])

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties=None) -> None:
        refused = [str(rc) for rc in reason_codes if rc.is_failure]
        if refused:
            log.error("mqtt %s: broker refused subscription(s): %s", self.cfg.name, ", ".join(refused))
        log.info("mqtt %s: connected to %s, subscribed to %d filter(s)", self.cfg.name, self.cfg.broker,
                 len(self.cfg.topics))
        if self._loop is not None:  # 'connected' means: subscribed, messages flow from here on
            self._loop.call_soon_threadsafe(self.connected.set)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties=None) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self.connected.clear)
        if reason_code.is_failure:  # not our own disconnect at shutdown
            log.warning("mqtt %s: disconnected (%s); reconnecting with back-off", self.cfg.name, reason_code)

    def _on_message(self, client, userdata, msg) -> None:
        self.messages += 1
        try:
            items = decode_message(msg.topic, msg.payload, site=self.site, origin=self.cfg.name,
                                   maps=self.cfg.topics, spec=self.cfg.payload, now_ns=time.time_ns())
        except Exception as exc:  # a decoder bug must not kill the network loop: quarantine the message
            from ems.connectors.items import Item

            log.exception("mqtt %s: cannot decode a message on %s", self.cfg.name, msg.topic)
            items = [Item.reject(self.site, "mqtt", self.cfg.name, msg.topic, "decode_error", repr(exc),
                                 raw=msg.payload.decode("utf-8", errors="replace"))]
        ack = None
        if self.cfg.qos > 0:
            mid, qos = msg.mid, msg.qos

            def ack() -> None:
                client.ack(mid, qos)
        while not self.forwarder.put(items, on_durable=ack, timeout=1.0):
            if self.forwarder.closed:
                return  # shutting down: not acknowledged, the broker redelivers on the next start

    async def run(self, stop: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        host, _, port = self.cfg.broker.rpartition(":")
        self.client.connect_async(host, int(port), keepalive=self.cfg.keepalive_s)
        self.client.loop_start()
        try:
            await stop.wait()
        finally:
            self.client.disconnect()
            await asyncio.get_running_loop().run_in_executor(None, self.client.loop_stop)
