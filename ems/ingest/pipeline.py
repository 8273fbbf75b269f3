"""Historian import: parse -> map tags -> normalise units -> validate -> counters -> store / quarantine.

One file is one transaction: either all of its accepted readings and quarantine rows are written,
or (on an error) nothing is, and the batch is recorded as failed. Parsing streams in chunks; the
accepted numbers (20 bytes a reading) are collected per file so that counters see each point's
whole sequence in order, then staged by binary COPY and merged in one statement.
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
from ems.ingest.historian import open_export
from ems.ingest.mapping import TagMap
from ems.ingest.quarantine import write_quarantine
from ems.ingest.rounding import round_to_register_resolution
from ems.ingest.validate import PointRule, resolve_tags, validate_chunk
from ems.readings.counters import CounterParams, interval_values, registers_to_intervals
from ems.readings.quality import Quality
from ems.readings.store import (
    ensure_partitions,
    merge_stage,
    points_with_readings_since,
    stage_readings,
    stored_tail,
    update_deltas,
)


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
    """The site's time zone and its points as validation rules, keyed by point code."""
    row = conn.execute("SELECT timezone FROM node WHERE code = %s", (site_code,)).fetchone()
    if row is None:
        raise UserError(f"no node with code '{site_code}' (load the plant file first: ems config load FILE)",
                        where="--site")
    rules = {p["code"]: PointRule.from_row(p) for p in points_frame(conn, site_code)}
    return row[0], rules


def import_file(conn: psycopg.Connection, path: str | Path, *, site_code: str, mapping: dict[str, TagMap] | None = None,
                label: str = "end", interval: str | None = None, correct: bool = False,
                edited_by: str = "ingest", source: str = "csv") -> IngestReport:
    """Import one historian export into the store. Returns the report; raises UserError on a bad file."""
    path = Path(path)
    report = IngestReport(file=str(path))
    tz, rules = site_points(conn, site_code)
    sha = _sha256(path)
    with conn.transaction():
        report.batch_id = conn.execute(
            "INSERT INTO ingest_batch (source, file, file_sha256, site_code) VALUES (%s, %s, %s, %s) RETURNING batch_id",
            (source, str(path), sha, site_code)).fetchone()[0]
    try:
        with conn.transaction():
            _import(conn, path, report, tz=tz, rules=rules, mapping=mapping, label=label, interval=interval,
                    correct=correct, edited_by=edited_by, source=source)
            conn.execute("UPDATE ingest_batch SET status = 'done', finished_at = now(), report = %s WHERE batch_id = %s",
                         (Jsonb(report.as_json()), report.batch_id))
    except BaseException as exc:
        with conn.transaction():
            conn.execute("UPDATE ingest_batch SET status = 'failed', finished_at = now(), report = %s WHERE batch_id = %s",
                         (Jsonb({"error": str(exc)}), report.batch_id))
        raise
    return report


def _import(conn, path, report, *, tz, rules, mapping, label, interval, correct, edited_by, source) -> None:
    info, chunks = open_export(path, tz=tz, label=label, interval=interval)
    report.layout, report.encoding = info.layout, info.encoding
    resolved: dict = {}
    ids, times, values = [], [], []
    for chunk in chunks:
        report.parsed += len(chunk.readings)
        report.empty_cells += chunk.empty_cells
        report.duplicates += getattr(chunk, "exact_duplicates", 0)
        new_tags = [t for t in pd.unique(chunk.readings["tag"].astype(str)) if t not in resolved]
        resolved.update(resolve_tags(new_tags, rules, mapping, info.tag_units))
        accepted, rejects = validate_chunk(chunk.readings, resolved, tz)
        rejects = pd.concat([chunk.rejects, rejects], ignore_index=True) if len(rejects) else chunk.rejects
        report.quarantined.update(rejects["reason"].value_counts().to_dict())
        write_quarantine(conn, rejects, batch_id=report.batch_id, source=source, file=str(path))
        ids.append(accepted["point_id"].to_numpy(np.int32))
        times.append(accepted["ts"].to_numpy(dtype="datetime64[ns]").astype(np.int64))
        values.append(accepted["value"].to_numpy(np.float64))
    report.notes.extend(info.notes)  # complete once the chunks are consumed
    if not ids or sum(len(a) for a in ids) == 0:
        return
    point_id = np.concatenate(ids)
    ts_ns = np.concatenate(times)
    value = np.concatenate(values)
    order = np.lexsort((ts_ns, point_id))
    point_id, ts_ns, value = point_id[order], ts_ns[order], value[order]
    keep = np.ones(len(ts_ns), bool)   # exact repeats across chunks (the parser resolves conflicts)
    keep[1:] = (point_id[1:] != point_id[:-1]) | (ts_ns[1:] != ts_ns[:-1])
    report.duplicates += int((~keep).sum())
    point_id, ts_ns, value = point_id[keep], ts_ns[keep], value[keep]

    by_id = {r.point_id: r for r in rules.values()}
    bounds = np.flatnonzero(np.r_[True, point_id[1:] != point_id[:-1], True])
    first_ts = {int(point_id[a]): pd.Timestamp(ts_ns[a], tz="UTC") for a in bounds[:-1]}
    additive = {pid: t for pid, t in first_ts.items() if by_id[pid].kind != "instantaneous"}
    tail = stored_tail(conn, {p: t for p, t in additive.items() if by_id[p].kind == "cumulative"})
    late = points_with_readings_since(conn, additive)

    delta = np.full(len(value), np.nan)
    quality = np.zeros(len(value), np.int16)
    tail_updates, events = [], []
    for a, b in zip(bounds[:-1], bounds[1:]):
        rule = by_id[int(point_id[a])]
        if rule.kind == "instantaneous":
            continue
        if rule.kind == "interval":
            res = interval_values(ts_ns[a:b], value[a:b], rule.counter_params)
            delta[a:b], quality[a:b] = res.delta, res.quality
            events.append((rule, ts_ns[a:b], res.events))
            continue
        t = tail[tail["point_id"] == rule.point_id]
        seed_ts = t["ts"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
        seed_val = t["value"].to_numpy(np.float64)
        prev = (int(seed_ts[0]), float(seed_val[0])) if len(t) else (None, None)
        series_ts = np.r_[seed_ts[1:], ts_ns[a:b]]
        series_val = np.r_[seed_val[1:], value[a:b]]
        res = registers_to_intervals(series_ts, series_val, rule.counter_params, prev_ts_ns=prev[0],
                                     prev_value=prev[1])
        k = max(len(t) - 1, 0)
        delta[a:b], quality[a:b] = res.delta[k:], res.quality[k:]
        events.append((rule, series_ts, res.events))
        if k:
            old = t.iloc[1:]
            new_d, new_q = res.delta[:k], res.quality[:k]
            changed = ~((np.isclose(old["delta"].to_numpy(), new_d) | (np.isnan(new_d) & old["delta"].isna().to_numpy()))
                        & (old["quality"].to_numpy() == new_q))
            if changed.any():
                tail_updates.append(pd.DataFrame({"point_id": rule.point_id, "ts": old["ts"].to_numpy()[changed],
                                                  "delta": new_d[changed], "quality": new_q[changed]}))

    delta = round_to_register_resolution(delta, point_id, value)
    frame = pd.DataFrame({"point_id": point_id, "ts": pd.to_datetime(ts_ns, utc=True), "value": value,
                          "delta": delta, "quality": quality, "batch_id": report.batch_id})
    ensure_partitions(conn, frame["ts"].min(), frame["ts"].max())
    stage_readings(conn, frame)
    merged = merge_stage(conn, correct=correct, edited_by=edited_by, reason=f"re-import of {path.name}")
    report.accepted = merged.inserted
    report.duplicates += merged.exact_duplicates
    report.corrected = merged.corrected
    if len(merged.conflicts):
        write_quarantine(conn, _conflict_rejects(merged.conflicts, by_id), batch_id=report.batch_id,
                         source=source, file=str(path))
        report.quarantined["conflicts_with_stored"] += len(merged.conflicts)
    if tail_updates:
        update_deltas(conn, pd.concat(tail_updates, ignore_index=True))
    # deltas computed before the merge assumed the batch's own neighbours; where stored readings sit
    # among the new ones (late data), a value was kept over a conflicting one, or a correction landed,
    # recompute the deltas of that point over the batch's window from what is now stored.
    conflict_points = set(merged.conflicts["point_id"].astype(int))
    recompute = ((late | conflict_points) & merged.inserted_points | merged.corrected_points) & set(additive)
    if recompute:
        from ems.ingest.recompute import recompute_deltas

        recompute_deltas(conn, {p: by_id[p] for p in recompute}, frame, report)
    _write_events(conn, events, report)
    report.points = len(first_ts)
    report.first_ts = frame["ts"].min()
    report.last_ts = frame["ts"].max()


def _conflict_rejects(conflicts: pd.DataFrame, by_id: dict) -> pd.DataFrame:
    ts = pd.to_datetime(conflicts["ts"], utc=True)
    return pd.DataFrame({
        "line": None,
        "tag": [by_id[int(p)].code for p in conflicts["point_id"]],
        "raw": [repr(float(v)) for v in conflicts["value"]],
        "ts_text": ts.map(lambda t: t.isoformat()),
        "reason": "conflicts_with_stored",
        "detail": [f"stored value {s!r} kept; re-import with --correct to replace it" for s in conflicts["stored_value"]],
    })


def _write_events(conn, events, report: IngestReport) -> None:
    rows = []
    for rule, series_ts, ev in events:
        if ev is None or len(ev) == 0:
            continue
        for idx, kind, prev_value, value, delta in ev[["index", "kind", "prev_value", "value", "delta"]].itertuples(
                index=False, name=None):
            report.repairs[kind] += 1
            rows.append((rule.point_id, pd.Timestamp(int(series_ts[int(idx)]), tz="UTC"), kind,
                         _num(prev_value), _num(value), _num(delta), report.batch_id))
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


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    except OSError as exc:
        raise UserError(f"cannot read file: {exc.strerror}", where=str(path)) from exc
    return h.hexdigest()


__all__ = ["IngestReport", "import_file", "site_points", "CounterParams", "Quality"]
