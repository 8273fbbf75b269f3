"""Live ingestion: a batch of (point code, time, value) from a field connector into the store.

Live readings take the same path as a historian file (:func:`ems.ingest.pipeline.ingest_chunks`):
tag resolution and unit conversion, range checks, counters to intervals (a fresh
:class:`~ems.ingest.counterstream.CounterStream` seeded from the stored tail, so a batch boundary
behaves like a file boundary), quarantine of rejects, and dirty (point, hour) marks for the roll-ups.
Late and out-of-order readings (at or before a point's newest stored time) go through the merge
and delta recomputation and mark their hours dirty. Re-sent readings (an MQTT QoS 1 redelivery, a
replay from the store-and-forward buffer after an ambiguous commit) are exact duplicates: no change.

One call is one transaction (a savepoint inside the caller's transaction) with one ``ingest_batch``
row (source 'mqtt' | 'opcua' | 'modbus', file = the connector's origin label).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import psycopg
from psycopg.types.json import Jsonb

from ems.ingest.chunks import (
    AMBIGUOUS_LOCAL_TIME,
    DUPLICATE_CONFLICT,
    REJECT_COLUMNS,
    readings_frame,
)
from ems.ingest.historian import ParsedChunk
from ems.ingest.pipeline import IngestReport, ingest_chunks, site_points
from ems.ingest.validate import PointRule

SOURCES = ("mqtt", "opcua", "modbus")
_NAT = np.iinfo(np.int64).min


@dataclass
class SiteCache:
    """A site's time zone and point rules, re-read after ``ttl_s`` or when an unknown code shows up
    (a plant file loaded while the service runs)."""

    site_code: str
    ttl_s: float = 60.0
    tz: str = "UTC"
    rules: dict[str, PointRule] = field(default_factory=dict)
    loaded_at: float = -1e18

    def get(self, conn: psycopg.Connection, codes: Iterable[str] = ()) -> tuple[str, dict[str, PointRule]]:
        now = time.monotonic()
        stale = now - self.loaded_at > self.ttl_s
        unknown = any(c not in self.rules for c in codes) and now - self.loaded_at > 1.0
        if stale or unknown:
            self.tz, self.rules = site_points(conn, self.site_code)
            self.loaded_at = now
        return self.tz, self.rules


@dataclass
class LiveBatch:
    """Column arrays of one batch. ``ts_ns``: int64 ns; where ``naive`` is True it is a wall-clock time
    in the site's zone (as read), else UTC. ``unit``: the unit the source reported, or None."""

    code: np.ndarray      # object (str)
    ts_ns: np.ndarray     # int64
    naive: np.ndarray     # bool
    value: np.ndarray     # float64
    unit: np.ndarray      # object (str | None)

    @classmethod
    def from_tuples(cls, readings: Sequence[tuple]) -> LiveBatch:
        """From (code, ts, value[, unit]); ts: int ns UTC, ISO text, datetime or Timestamp (naive = local)."""
        n = len(readings)
        code = np.empty(n, object)
        unit = np.empty(n, object)
        ts_ns = np.empty(n, np.int64)
        naive = np.zeros(n, bool)
        value = np.empty(n, np.float64)
        for i, r in enumerate(readings):
            code[i], value[i] = r[0], float(r[2])
            unit[i] = r[3] if len(r) > 3 else None
            ts_ns[i], naive[i] = to_ns(r[1])
        return cls(code, ts_ns, naive, value, unit)


def to_ns(ts) -> tuple[int, bool]:
    """(int64 ns, naive?) of a time: int ns since 1970 UTC, ISO text, datetime or Timestamp."""
    if isinstance(ts, int | np.integer):
        return int(ts), False
    t = pd.Timestamp(ts)
    if t.tzinfo is None:
        return t.value, True
    return t.tz_convert("UTC").value, False


def ingest_live(conn: psycopg.Connection, site_code: str, readings: Sequence[tuple] | LiveBatch, *, source: str,
                rejects: Sequence[tuple] = (), origin: str | None = None, cache: SiteCache | None = None,
                correct: bool = False) -> IngestReport:
    """Ingest one live batch for a site; returns the report (``batch_id`` set).

    ``readings``: (point code, ts, value[, unit]) tuples or a :class:`LiveBatch`. ``rejects``: what the
    connector could not decode, as (tag, raw, ts_text, reason, detail); quarantined with the batch.
    Nothing is silently dropped: unknown codes, out-of-range values, unit mismatches, local times
    that do not exist and conflicting duplicates within the batch are quarantined with the reason.
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, not {source!r}")
    batch = readings if isinstance(readings, LiveBatch) else LiveBatch.from_tuples(readings)
    cache = cache or SiteCache(site_code)
    tz, all_rules = cache.get(conn, set(batch.code.tolist()))
    origin = origin or source
    chunk = _chunk(batch, tz, rejects)
    # only the points in this batch: the counter stream reads their stored tails, nothing else
    present = set(pd.unique(chunk.readings["tag"].astype(str)).tolist()) if len(chunk.readings) else set()
    rules = {c: all_rules[c] for c in present if c in all_rules}
    tag_units = _tag_units(batch)
    with conn.transaction():
        batch_id = conn.execute(
            "INSERT INTO ingest_batch (source, file, site_code) VALUES (%s, %s, %s) RETURNING batch_id",
            (source, origin, site_code)).fetchone()[0]
        opts = dict(tz=tz, rules=rules, mapping=None, tag_units=tag_units, notes=[], correct=correct,
                    edited_by=f"ingest:{source}", source=source, reason=f"live {source} ({origin})")
        try:
            with conn.transaction():
                report = ingest_chunks(conn, [chunk], IngestReport(file=origin, batch_id=batch_id), direct=True,
                                       **opts)
        except psycopg.errors.UniqueViolation:  # e.g. a concurrent writer: everything through the merge
            with conn.transaction():
                report = ingest_chunks(conn, [chunk], IngestReport(file=origin, batch_id=batch_id),
                                       direct=False, **opts)
        report.layout, report.encoding = "live", source
        conn.execute("UPDATE ingest_batch SET status = 'done', finished_at = now(), report = %s WHERE batch_id = %s",
                     (Jsonb(report.as_json()), batch_id))
    return report


def _tag_units(batch: LiveBatch) -> dict[str, str]:
    """The unit each code reported (first non-empty one in the batch)."""
    out: dict[str, str] = {}
    has = np.array([bool(u) for u in batch.unit], bool) if len(batch.unit) else np.zeros(0, bool)
    for c, u in zip(batch.code[has].tolist(), batch.unit[has].tolist()):
        out.setdefault(c, u)
    return out


def _chunk(batch: LiveBatch, tz: str, rejects: Sequence[tuple]) -> ParsedChunk:
    """A parsed chunk like the historian's: readings (UTC) and rejects; exact repeats collapsed."""
    ts = batch.ts_ns.copy()
    bad_time = np.zeros(len(ts), bool)
    if batch.naive.any():
        local = pd.DatetimeIndex(ts[batch.naive].view("M8[ns]"))
        utc = local.tz_localize(tz, ambiguous="NaT", nonexistent="NaT").tz_convert("UTC")
        conv = utc.asi8
        ts[batch.naive] = conv
        bad_time[batch.naive] = conv == _NAT
    finite = np.isfinite(batch.value)
    ok = ~bad_time & finite
    rej = [tuple(r) for r in rejects]
    for i in np.flatnonzero(~ok):
        when = pd.Timestamp(int(batch.ts_ns[i])).isoformat()
        if bad_time[i]:
            rej.append((batch.code[i], repr(float(batch.value[i])), when, AMBIGUOUS_LOCAL_TIME,
                        f"{when} is not a unique local time in {tz} (DST change); send UTC or an offset"))
        else:
            rej.append((batch.code[i], repr(float(batch.value[i])), when, "unparseable_value",
                        "value is not a finite number"))
    frame = pd.DataFrame({"tag": batch.code[ok], "ts": ts[ok], "value": batch.value[ok]})
    frame, conflicts, exact = _settle_duplicates(frame, tz)
    rej.extend(conflicts)
    readings = readings_frame(np.zeros(len(frame), np.int64), frame["tag"].to_numpy(object),
                              frame["ts"].to_numpy(np.int64), frame["value"].to_numpy(np.float64))
    readings["line"] = pd.array([pd.NA] * len(readings), dtype="Int64")
    rejects_df = pd.DataFrame([(None, *r) for r in rej], columns=REJECT_COLUMNS) if rej else \
        pd.DataFrame({c: pd.Series([], dtype=object) for c in REJECT_COLUMNS})
    return ParsedChunk(readings=readings, rejects=rejects_df, exact_duplicates=exact)


def _settle_duplicates(frame: pd.DataFrame, tz: str) -> tuple[pd.DataFrame, list[tuple], int]:
    """Repeats of (code, ts) in one batch: same value -> one reading; different values -> all quarantined
    (which one is right cannot be known), as the historian import does."""
    dup = frame.duplicated(["tag", "ts"], keep=False).to_numpy()
    if not dup.any():
        return frame, [], 0
    d = frame[dup]
    nun = d.groupby(["tag", "ts"], sort=False)["value"].transform("nunique").to_numpy()
    same = d[nun == 1]
    kept_same = same.drop_duplicates(["tag", "ts"], keep="first")
    conflicts = []
    for (tag, ts), grp in d[nun > 1].groupby(["tag", "ts"], sort=False):
        when = pd.Timestamp(int(ts), tz="UTC").tz_convert(tz).isoformat()
        values = ", ".join(f"{v!r}" for v in grp["value"].tolist())
        conflicts.extend((tag, repr(float(v)), when, DUPLICATE_CONFLICT,
                          f"same point and time received with different values in one batch: {values}")
                         for v in grp["value"].tolist())
    kept = pd.concat([frame[~dup], kept_same], ignore_index=True)
    return kept, conflicts, len(same) - len(kept_same)
