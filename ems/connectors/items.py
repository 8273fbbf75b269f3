"""What a connector hands to the forwarder: one decoded reading or one reject, as a plain tuple."""

from __future__ import annotations

import math
from typing import NamedTuple


class Item(NamedTuple):
    """A reading (``reason`` None) or a reject (``reason`` set: quarantined with ``raw`` and ``detail``).

    ``ts_ns``: int ns since 1970; UTC unless ``naive`` (then a wall-clock time in the site's zone).
    ``origin``: the connector's label (its name), stored as ``ingest_batch.file`` and ``quarantine.file``.
    """

    site: str
    source: str               # 'mqtt' | 'opcua' | 'modbus'
    origin: str
    tag: str                  # point code (a reading) or what the source called it (a reject)
    ts_ns: int | None = None
    naive: bool = False
    value: float | None = None
    unit: str | None = None
    reason: str | None = None
    raw: str | None = None
    ts_text: str | None = None
    detail: str | None = None

    @classmethod
    def reading(cls, site: str, source: str, origin: str, code: str, ts_ns: int, value: float,
                unit: str | None = None, naive: bool = False) -> Item:
        return cls(site, source, origin, code, int(ts_ns), bool(naive), float(value), unit)

    @classmethod
    def reject(cls, site: str, source: str, origin: str, tag: str, reason: str, detail: str,
               raw: str | None = None, ts_text: str | None = None) -> Item:
        return cls(site, source, origin, tag, None, False, None, None, reason, _clip(raw), ts_text, detail)

    @property
    def is_reading(self) -> bool:
        return self.reason is None and self.value is not None and not math.isnan(self.value)


def _clip(raw: str | None, limit: int = 4000) -> str | None:
    """Raw payloads are kept for the quarantine, but a runaway payload is cut (with a marker)."""
    if raw is None or len(raw) <= limit:
        return raw
    return raw[:limit] + f"... [{len(raw) - limit} more characters]"
