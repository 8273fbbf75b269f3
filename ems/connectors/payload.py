"""Decode MQTT messages into items (pure functions, no I/O).

A payload is JSON: one object (``{"ts": "2025-07-01T00:15:00+08:00", "value": 123.4, "unit": "kWh",
"quality": "good"}``, the simulator's format), a list of such objects, or ``{"readings": [...]}``
(gateways batching several meters; each object then names its ``point``). A bare number is a value
received now. Field names are configurable (:class:`~ems.connectors.config.Payload`).

Times: ISO 8601 text (with an offset; without one it is the site's local time), or a number of seconds
since 1970 (milliseconds when above 1e11, nanoseconds above 1e17). No time: the receive time.
Anything that cannot be decoded becomes a reject with the reason and the raw payload: malformed_json,
unknown_topic, missing_value, unparseable_value, unparseable_time, source_bad_quality.
"""

from __future__ import annotations

import json
import math
import re

import pandas as pd

from ems.connectors.config import Payload, TopicMap
from ems.connectors.items import Item
from ems.ingest.chunks import GOOD_QUALITY, SOURCE_BAD_QUALITY, UNPARSEABLE_TIME


def topic_matches(filter_: str, topic: str) -> bool:
    """MQTT filter matching ('+' one level, '#' the rest), as in the MQTT 3.1.1 spec §4.7."""
    f, t = filter_.split("/"), topic.split("/")
    for i, level in enumerate(f):
        if level == "#":
            return True
        if i >= len(t) or (level != "+" and level != t[i]):
            return False
    return len(f) == len(t)


def point_for(topic: str, maps: list[TopicMap]) -> tuple[str | None, TopicMap | None]:
    """The point code a topic maps to (first matching filter), with the matching entry."""
    for m in maps:
        if topic_matches(m.filter, topic):
            code = _TEMPLATE.sub(lambda g: _level(topic.split("/"), g.group(1)), m.point)
            return (code or None), m
    return None, None


_TEMPLATE = re.compile(r"\{(last|\d+)\}")


def _level(levels: list[str], key: str) -> str:
    if key == "last":
        return levels[-1]
    i = int(key)
    return levels[i] if i < len(levels) else ""


def parse_ts(raw, now_ns: int) -> tuple[int, bool] | None:
    """(int ns, naive?) of a payload time; None when it cannot be read."""
    if raw is None:
        return now_ns, False
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        if not math.isfinite(raw) or raw <= 0:
            return None
        if raw > 1e17:
            return int(raw), False
        return int(round(raw * (1e6 if raw > 1e11 else 1e9))), False
    if isinstance(raw, str):
        try:
            t = pd.Timestamp(raw)
        except (ValueError, TypeError, OverflowError):
            return None
        if t is pd.NaT:
            return None
        if t.tzinfo is None:
            return t.value, True
        return t.tz_convert("UTC").value, False
    return None


def _good(quality) -> bool:
    if quality is None or quality is True:
        return True
    text = str(quality).strip().casefold()
    if text in GOOD_QUALITY:
        return True
    try:
        code = int(text, 16) if text.startswith("0x") else int(float(text))
    except ValueError:
        return False
    return code == 1 or (code & 0xC0) == 0xC0


def decode_message(topic: str, payload: bytes, *, site: str, origin: str, maps: list[TopicMap], spec: Payload,
                   now_ns: int) -> list[Item]:
    """Items of one MQTT message (readings and rejects)."""

    def reject(reason: str, detail: str, tag: str = topic, ts_text: str | None = None) -> Item:
        return Item.reject(site, "mqtt", origin, tag, reason, detail, raw=text, ts_text=ts_text)

    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        text = payload.decode("utf-8", errors="replace")
        return [reject("malformed_payload", "payload is not UTF-8 text")]
    code, entry = point_for(topic, maps)
    try:
        doc = json.loads(text)
    except ValueError as exc:
        return [reject("malformed_json", f"not JSON: {exc}")]
    if isinstance(doc, dict) and isinstance(doc.get("readings"), list):
        elements = doc["readings"]
    elif isinstance(doc, list):
        elements = doc
    else:
        elements = [doc]
    items = []
    for el in elements:
        if not isinstance(el, dict):
            el = {spec.value_key: el}
        point = el.get(spec.point_key, code)
        if not isinstance(point, str) or not point:
            items.append(reject("unknown_topic", "no topic mapping matches and the payload names no point"))
            continue
        ts_raw = el.get(spec.ts_key)
        ts_text = None if ts_raw is None else str(ts_raw)
        if spec.value_key not in el:
            items.append(reject("missing_value", f"no '{spec.value_key}' field", point, ts_text))
            continue
        value = el[spec.value_key]
        if isinstance(value, bool):
            value = float(value)
        if isinstance(value, str):
            try:
                value = float(value.strip())
            except ValueError:
                pass
        if not isinstance(value, int | float) or not math.isfinite(value):
            items.append(reject("unparseable_value", f"value {value!r} is not a finite number", point, ts_text))
            continue
        if not _good(el.get(spec.quality_key)):
            items.append(reject(SOURCE_BAD_QUALITY, f"source quality {el.get(spec.quality_key)!r}", point, ts_text))
            continue
        ts = parse_ts(ts_raw, now_ns)
        if ts is None:
            items.append(reject(UNPARSEABLE_TIME, f"time {ts_raw!r} is neither ISO 8601 nor epoch seconds",
                                point, ts_text))
            continue
        unit = el.get(spec.unit_key) or (entry.unit if entry else None)
        items.append(Item.reading(site, "mqtt", origin, point, ts[0], float(value),
                                  unit=str(unit) if unit else None, naive=ts[1]))
    return items
