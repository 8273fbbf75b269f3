"""OPC UA client (asyncua): subscriptions to node ids mapped to points; reconnect and resubscribe.

Node ids are given as text: ``ns=2;s=QD.MAIN.kWh``, ``i=1001`` or, robust against a server that
renumbers its namespaces, ``nsu=<namespace uri>;s=...`` (resolved through the server's namespace array
at every connect). A value's time is its source timestamp (else the server timestamp, else now); a
value whose status code is not Good is quarantined as ``source_bad_quality`` with the status name, as
is a value that is not a number. The connection is checked every second; when it is lost the client
reconnects with back-off and subscribes again (the server then sends the current values, which are
exact duplicates of stored readings when nothing changed: no change).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from datetime import UTC, datetime, timedelta

from ems.connectors.config import OpcUaConnector
from ems.connectors.items import Item
from ems.ingest.chunks import SOURCE_BAD_QUALITY

log = logging.getLogger(__name__)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class _Handler:
    def __init__(self, owner: OpcUaSubscriber, points: dict):
        self.owner, self.points = owner, points

    async def datachange_notification(self, node, val, data) -> None:
        await self.owner.emit([self.owner.item(self.points.get(node.nodeid), data.monitored_item.Value,
                                               node.nodeid.to_string())])

    def status_change_notification(self, status) -> None:
        log.warning("opcua %s: subscription status %s", self.owner.cfg.name, status)


class OpcUaSubscriber:
    source = "opcua"

    def __init__(self, cfg: OpcUaConnector, site: str, emit):
        self.cfg, self.site, self.emit = cfg, site, emit
        self.connected = asyncio.Event()
        self.notifications = 0

    def item(self, point: str | None, dv, node_text: str) -> Item:
        """An item from one DataValue."""
        self.notifications += 1
        name = self.cfg.name
        ts = dv.SourceTimestamp or dv.ServerTimestamp
        ts_ns = _ns(ts) if ts is not None else time.time_ns()
        ts_text = ts.isoformat() if ts is not None else None
        value = dv.Value.Value if dv.Value is not None else None
        if point is None:
            return Item.reject(self.site, "opcua", name, node_text, "unknown_node", "notification for a node that is "
                               "not in the configuration", raw=repr(value), ts_text=ts_text)
        status = dv.StatusCode
        if status is not None and not status.is_good():
            return Item.reject(self.site, "opcua", name, point, SOURCE_BAD_QUALITY,
                               f"status {status.name} on {node_text}", raw=repr(value), ts_text=ts_text)
        if isinstance(value, bool):
            value = float(value)
        if not isinstance(value, int | float) or not math.isfinite(value):
            return Item.reject(self.site, "opcua", name, point, "unparseable_value",
                               f"value of {node_text} is not a finite number", raw=repr(value), ts_text=ts_text)
        return Item.reading(self.site, "opcua", name, point, ts_ns, float(value))

    def _client(self):
        from asyncua import Client

        cfg = self.cfg
        client = Client(cfg.endpoint, timeout=cfg.timeout_s)
        if cfg.username:
            client.set_user(cfg.username)
            secret = cfg.secret()
            if secret is not None:
                client.set_password(secret)
        return client

    async def _secure(self, client) -> None:
        from asyncua import ua
        from asyncua.crypto import security_policies as sp

        cfg = self.cfg
        if cfg.security_policy == "None":
            return
        policy = getattr(sp, f"SecurityPolicy{cfg.security_policy}")
        mode = getattr(ua.MessageSecurityMode, cfg.security_mode)
        await client.set_security(policy, cfg.certificate, cfg.private_key, server_certificate=cfg.server_certificate,
                                  mode=mode)

    async def _resolve(self, client) -> dict:
        """NodeId -> point code for the configured nodes (nsu= resolved through the namespace array)."""
        out = {}
        for text, point in self.cfg.node_ids().items():
            if text.startswith("nsu="):
                uri, _, rest = text[4:].partition(";")
                idx = await client.get_namespace_index(uri)
                text = f"ns={idx};{rest}"
            out[client.get_node(text).nodeid] = point
        return out

    async def run(self, stop: asyncio.Event) -> None:
        from asyncua import ua

        delay = self.cfg.reconnect.min_s
        while not stop.is_set():
            client = self._client()
            try:
                await self._secure(client)
                await client.connect()
                points = await self._resolve(client)
                sub = await client.create_subscription(self.cfg.publishing_interval_ms, _Handler(self, points),
                                                       queue_maxsize=100_000)
                nodes = [client.get_node(n) for n in points]
                # report a new source timestamp even when the value is unchanged (an idle meter's register
                # still yields one reading per interval); the server queues up to 1000 changes per node
                trigger = ua.DataChangeFilter(Trigger=ua.DataChangeTrigger.StatusValueTimestamp)
                results = await sub._subscribe(nodes, mfilter=trigger, queuesize=1000, sampling_interval=0)
                await self._report_refused(points, results)
                self.connected.set()
                delay = self.cfg.reconnect.min_s
                log.info("opcua %s: connected to %s, %d node(s)", self.cfg.name, self.cfg.endpoint, len(points))
                while not stop.is_set():
                    try:
                        await asyncio.wait_for(stop.wait(), timeout=1.0)
                    except TimeoutError:
                        await client.check_connection()
            except (TimeoutError, OSError, ConnectionError, ua.UaError, RuntimeError) as exc:
                self.connected.clear()
                log.warning("opcua %s: %s: %s; reconnecting in %.1f s", self.cfg.name, type(exc).__name__, exc, delay)
                await _disconnect(client)
                try:
                    await asyncio.wait_for(stop.wait(), timeout=delay)
                except TimeoutError:
                    pass
                delay = min(delay * 2, self.cfg.reconnect.max_s)
                continue
            await _disconnect(client)
        self.connected.clear()

    async def _report_refused(self, points: dict, results) -> None:
        """Nodes the server refused to monitor (e.g. BadNodeIdUnknown): logged and quarantined once."""
        from asyncua import ua

        bad = []
        for (nodeid, point), res in zip(points.items(), results if isinstance(results, list) else [results]):
            if isinstance(res, ua.StatusCode):
                log.error("opcua %s: cannot monitor %s (%s): %s", self.cfg.name, nodeid.to_string(), point, res.name)
                bad.append(Item.reject(self.site, "opcua", self.cfg.name, point, "opcua_bad_node",
                                       f"server refused to monitor {nodeid.to_string()}: {res.name}"))
        if bad:
            await self.emit(bad)


async def _disconnect(client) -> None:
    """Close the session politely when the server still answers, else just drop the socket."""
    try:
        await asyncio.wait_for(client.disconnect(), timeout=0.5)
    except Exception:  # the connection is already gone
        try:
            client.disconnect_socket()
        except Exception:
            pass


def _ns(ts: datetime) -> int:
    if ts.tzinfo is None:  # asyncua's DateTime is UTC
        ts = ts.replace(tzinfo=UTC)
    return (ts - _EPOCH) // timedelta(microseconds=1) * 1000
