"""Historian import: parse -> map tags -> normalise units -> validate -> counters -> store / quarantine.

One file is one transaction: all of its accepted readings and quarantine rows are written, or (on an
error) none are, and the batch is recorded as failed.

Fast path: readings newer than everything stored for their point cannot collide with stored data,
so they stream by binary COPY straight into ``reading`` from a writer thread while the next chunk
is parsed. Readings at or before a point's newest stored time (late data, re-imports) go through a
staging table and one merge (``ON CONFLICT DO NOTHING``), are compared with what is stored
(differences are conflicts, quarantined unless ``correct``), and the affected deltas are recomputed.
Should the fast path still hit a duplicate key (e.g. two tags mapped to one point, or a concurrent
import), the file is re-run with every reading through the merge.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
from psycopg.types.json import Jsonb

from ems.assets.store import points_frame
from ems.errors import UserError
from ems.ingest.copywriter import CopyWriter
from ems.ingest.counterstream import HOLD, CounterStream, Emitted
from ems.ingest.historian import open_export
from ems.ingest.mapping import TagMap
from ems.ingest.quarantine import write_quarantine
from ems.ingest.rounding import round_to_register_resolution
from ems.ingest.validate import PointRule, resolve_tags, validate_chunk
from ems.readings.store import (
    ensure_partitions,
    last_stored_ts,
    latest_tail,
    mark_dirty,
    merge_stage,
    stage_readings,
    update_deltas,
)

_HOUR_NS = 3_600_000_000_000
_CHUNK_ROWS = 2_500


@dataclass
class IngestReport:
    file: str
    batch_id: int | None = None
    layout: str = ""
    encoding: str = ""
    parsed: int = 0
    accepted: int = 0
    duplicates: int = 0
    corrected: int = 0
    empty_cells: int = 0
    quarantined: Counter = field(default_factory=Counter)
    repairs: Counter = field(default_factory=Counter)
    points: int = 0
    first_ts: pd.Timestamp | None = None
    last_ts: pd.Timestamp | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def quarantined_total(self) -> int:
        return sum(self.quarantined.values())

    def as_json(self) -> dict:
        return {"file": self.file, "batch_id": self.batch_id, "layout": self.layout, "encoding": self.encoding,
                "parsed": self.parsed, "accepted": self.accepted, "duplicates": self.duplicates,
                "corrected": self.corrected, "empty_cells": self.empty_cells,
                "quarantined": dict(self.quarantined), "repairs": dict(self.repairs), "points": self.points,
                "first_ts": self.first_ts.isoformat() if self.first_ts is not None else None,
                "last_ts": self.last_ts.isoformat() if self.last_ts is not None else None, "notes": self.notes}


def site_points(conn: psycopg.Connection, site_code: str) -> tuple[str, dict[str, PointRule]]:
    """The site's time zone and its measured points as validation rules, keyed by point code."""
    row = conn.execute("SELECT timezone FROM node WHERE code = %s", (site_code,)).fetchone()
    if row is None:
        raise UserError(f"no node with code '{site_code}' (load the plant file first: ems config load FILE)",
                        where="--site")
    rules = {p["code"]: PointRule.from_row(p) for p in points_frame(conn, site_code) if not p["formula"]}
    return row[0], rules


def import_file(conn: psycopg.Connection, path: str | Path, *, site_code: str, mapping: dict[str, TagMap] | None = None,
                label: str = "end", interval: str | None = None, correct: bool = False,
                edited_by: str = "ingest", source: str = "csv") -> IngestReport:
    """Import one historian export into the store. Returns the report; raises UserError on a bad file."""
    path = Path(path)
    tz, rules = site_points(conn, site_code)
    sha = file_sha256(path)
    with conn.transaction():
        batch_id = conn.execute(
            "INSERT INTO ingest_batch (source, file, file_sha256, site_code) VALUES (%s, %s, %s, %s) RETURNING batch_id",
            (source, str(path), sha, site_code)).fetchone()[0]
    opts = dict(tz=tz, rules=rules, mapping=mapping, label=label, interval=interval, correct=correct,
                edited_by=edited_by, source=source)
    try:
        try:
            with conn.transaction():
                report = _import(conn, path, batch_id, direct=True, **opts)
        except psycopg.errors.UniqueViolation:
            with conn.transaction():
                report = _import(conn, path, batch_id, direct=False, **opts)
                report.notes.append("re-run through the merge path after a duplicate key on the fast path")
        with conn.transaction():
            conn.execute("UPDATE ingest_batch SET status = 'done', finished_at = now(), report = %s WHERE batch_id = %s",
                         (Jsonb(report.as_json()), batch_id))
    except BaseException as exc:
        with conn.transaction():
            conn.execute("UPDATE ingest_batch SET status = 'failed', finished_at = now(), report = %s WHERE batch_id = %s",
                         (Jsonb({"error": str(exc)}), batch_id))
        raise
    return report


def _import(conn, path: Path, batch_id: int, *, direct: bool, tz, rules, mapping, label, interval, correct,
            edited_by, source) -> IngestReport:
    report = IngestReport(file=str(path), batch_id=batch_id)
    # small chunks keep the writer thread and the server busy while the next chunk is parsed
    info, chunks = open_export(path, tz=tz, label=label, interval=interval, chunk_rows=_CHUNK_ROWS)
    report.layout, report.encoding = info.layout, info.encoding
    return ingest_chunks(conn, chunks, report, direct=direct, tz=tz, rules=rules, mapping=mapping,
                         tag_units=info.tag_units, notes=info.notes, correct=correct, edited_by=edited_by,
                         source=source, reason=f"re-import of {path.name}")


def ingest_chunks(conn, chunks, report: IngestReport, *, direct: bool, tz: str, rules: dict[str, PointRule],
                  mapping, tag_units: dict[str, str], notes: list[str], correct: bool, edited_by: str, source: str,
                  reason: str) -> IngestReport:
    """Validate, count and store parsed chunks (historian files and live batches share this path).

    Call inside a transaction. ``report.batch_id`` and ``report.file`` label the stored rows and the
    quarantine; ``notes`` is read once the chunks are consumed (the historian parser fills it late)."""
    batch_id = report.batch_id
    by_id = {r.point_id: r for r in rules.values()}
    cumulative = [p for p, r in by_id.items() if r.kind == "cumulative"]
    stored_last = last_stored_ts(conn, list(by_id))
    tail = latest_tail(conn, cumulative, HOLD + 1)
    stream = CounterStream(by_id, tail, stored_last)
    resolved: dict = {}
    rejects, late, events = [], [], []
    dirty: set[tuple[int, int]] = set()
    months: set[int] = set()
    seen_points: set[int] = set()
    span = [np.iinfo(np.int64).max, np.iinfo(np.int64).min]
    sent = 0
    writer: CopyWriter | None = None

    def send(rows: Emitted) -> None:
        nonlocal writer, sent
        if not len(rows):
            return
        month = rows.ts_ns.astype("datetime64[ns]").astype("datetime64[M]").astype(np.int64)
        new = set(np.unique(month).tolist()) - months
        if new or writer is None:
            if writer is not None:
                writer.close()
            if new:
                lo, hi = min(new), max(new)
                ensure_partitions(conn, pd.Timestamp(np.datetime64(lo, "M")).tz_localize("UTC"),
                                  pd.Timestamp(np.datetime64(hi, "M")).tz_localize("UTC"))
                months.update(new)
            if not direct:
                _create_stage(conn)
            writer = CopyWriter(conn, "reading" if direct else "stage_reading").start()
        rows.delta = round_to_register_resolution(rows.delta, rows.point_id, rows.value)
        writer.send(rows, batch_id)
        sent += len(rows)
        events.extend(rows.events)
        _track(rows, dirty, seen_points, span)

    try:
        for chunk in chunks:
            report.parsed += len(chunk.readings)
            report.empty_cells += chunk.empty_cells
            report.duplicates += chunk.exact_duplicates
            new_tags = [t for t in pd.unique(chunk.readings["tag"].astype(str)) if t not in resolved]
            resolved.update(resolve_tags(new_tags, rules, mapping, tag_units))
            accepted, bad = validate_chunk(chunk.readings, resolved, tz)
            for part in (chunk.rejects, bad):
                if len(part):
                    rejects.append(part)
            if not len(accepted):  # nothing left to count (e.g. a live batch of rejects only)
                continue
            ts_ns = accepted["ts"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
            pid = accepted["point_id"].to_numpy(np.int32)
            emitted, late_rows = stream.feed(pid, ts_ns, accepted["value"].to_numpy(np.float64))
            send(emitted)
            if len(late_rows):
                late.append(late_rows)
        send(stream.flush())
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    if writer is not None:
        writer.close()
    report.notes.extend(notes)  # complete once the chunks are consumed

    late_rows = Emitted.concat(late)
    merged = None
    if len(late_rows) or not direct:
        if len(late_rows):
            _track(late_rows, dirty, seen_points, span)
            months_late = late_rows.ts_ns.astype("datetime64[ns]").astype("datetime64[M]")
            ensure_partitions(conn, pd.Timestamp(months_late.min()).tz_localize("UTC"),
                              pd.Timestamp(months_late.max()).tz_localize("UTC"))
            stage_readings(conn, _frame(late_rows, batch_id))
        merged = merge_stage(conn, correct=correct, edited_by=edited_by, reason=reason, mark=False)
        report.accepted += merged.inserted
        report.duplicates += merged.exact_duplicates
        report.corrected = merged.corrected
        if len(merged.conflicts):
            rejects.append(_conflict_rejects(merged.conflicts, by_id, tz))
    if direct:
        report.accepted += sent
    if stream.rejudged:
        update_deltas(conn, _frame(Emitted.concat(stream.rejudged), batch_id))
    if merged is not None and len(late_rows):
        _recompute_late(conn, late_rows, merged, by_id, report)

    for part in rejects:
        report.quarantined.update(part["reason"].value_counts().to_dict())
        write_quarantine(conn, part, batch_id=batch_id, source=source, file=report.file)
    _write_events(conn, events, batch_id, report)
    if dirty:
        pairs = np.array(sorted(dirty), dtype=np.int64)
        mark_dirty(conn, pairs[:, 0], pairs[:, 1] * _HOUR_NS)
    report.points = len(seen_points)
    if span[0] <= span[1]:
        report.first_ts = pd.Timestamp(span[0], tz="UTC")
        report.last_ts = pd.Timestamp(span[1], tz="UTC")
    return report


def _create_stage(conn) -> None:
    stage_readings(conn, pd.DataFrame(columns=["point_id", "ts", "value", "delta", "quality", "batch_id"]))


def _track(rows: Emitted, dirty: set, seen: set, span: list) -> None:
    """Remember touched (point, hour) pairs for the roll-up job, points and the time span."""
    pid = rows.point_id.astype(np.int64) << 32
    # a delta stamped on the hour belongs to the hour before; an instantaneous value to the hour it is in
    keys = np.unique(np.r_[pid | ((rows.ts_ns - 1) // _HOUR_NS), pid | (rows.ts_ns // _HOUR_NS)])
    dirty.update(zip((keys >> 32).tolist(), (keys & 0xFFFFFFFF).tolist()))
    seen.update(np.unique(rows.point_id).tolist())
    span[0] = min(span[0], int(rows.ts_ns.min()))
    span[1] = max(span[1], int(rows.ts_ns.max()))


def _frame(rows: Emitted, batch_id: int) -> pd.DataFrame:
    return pd.DataFrame({"point_id": rows.point_id, "ts": pd.to_datetime(rows.ts_ns, utc=True), "value": rows.value,
                         "delta": rows.delta, "quality": rows.quality, "batch_id": batch_id})


def _recompute_late(conn, late_rows: Emitted, merged, by_id: dict[int, PointRule], report: IngestReport) -> None:
    """Late readings were stored among existing ones: recompute those points' deltas from the store."""
    from ems.ingest.recompute import recompute_deltas

    additive = {p for p, r in by_id.items() if r.kind != "instantaneous"}
    targets = (merged.inserted_points | merged.corrected_points) & additive
    if targets:
        recompute_deltas(conn, {p: by_id[p] for p in targets}, _frame(late_rows, report.batch_id), report)


def _conflict_rejects(conflicts: pd.DataFrame, by_id: dict, tz: str) -> pd.DataFrame:
    ts = pd.to_datetime(conflicts["ts"], utc=True).dt.tz_convert(tz)
    return pd.DataFrame({
        "line": None,
        "tag": [by_id[int(p)].code for p in conflicts["point_id"]],
        "raw": [repr(float(v)) for v in conflicts["value"]],
        "ts_text": ts.map(lambda t: t.isoformat()),
        "reason": "conflicts_with_stored",
        "detail": [f"stored value {s!r} kept; re-import with --correct to replace it" for s in conflicts["stored_value"]],
    })


def _write_events(conn, events: list[tuple], batch_id: int, report: IngestReport) -> None:
    rows = []
    for pid, ts_ns, kind, prev_value, value, delta in events:
        report.repairs[kind] += 1
        rows.append((pid, pd.Timestamp(ts_ns, tz="UTC"), kind, _num(prev_value), _num(value), _num(delta), batch_id))
    if rows:
        with conn.cursor() as cur:
            cur.executemany(
                """INSERT INTO counter_event (point_id, ts, kind, prev_value, value, delta, batch_id)
                   VALUES (%s, %s, %s, %s, %s, %s, %s)
                   ON CONFLICT (point_id, ts, kind) DO UPDATE
                   SET prev_value = EXCLUDED.prev_value, value = EXCLUDED.value, delta = EXCLUDED.delta,
                       batch_id = EXCLUDED.batch_id""", rows)


def _num(x) -> float | None:
    return None if x is None or pd.isna(x) else float(x)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    except OSError as exc:
        raise UserError(f"cannot read file: {exc.strerror}", where=str(path)) from exc
    return h.hexdigest()
