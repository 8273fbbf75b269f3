"""Counters over a stream of chunks: cumulative registers and interval totals -> interval deltas.

Pure computation, no I/O. Each point keeps a *seed* (the last emitted reading that may anchor the
next delta: not a glitch, not a jitter backstep) and *holds back* its last ``HOLD`` readings, because
a reading can only be judged (e.g. as a zero glitch) once its successors are known. Held readings are
judged again with the next chunk and emitted then, or at :meth:`CounterStream.flush`.

A reading at or before a point's seed (data older than what is stored or already streamed) cannot be
handled in the stream: it is returned as *late* and goes through the merge-and-recompute path.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ems.ingest.validate import PointRule
from ems.readings.counters import carry_over, interval_values, registers_to_intervals

HOLD = 2  # readings held back per cumulative point until successors arrive


@dataclass
class Emitted:
    """Readings ready to store, sorted by (point_id, ts)."""

    point_id: np.ndarray   # int32
    ts_ns: np.ndarray      # int64 ns since 1970 UTC
    value: np.ndarray      # float64
    delta: np.ndarray      # float64, NaN = unknown
    quality: np.ndarray    # int16
    events: list[tuple[int, int, str, float, float, float]] = field(default_factory=list)
    # (point_id, ts_ns, kind, prev_value, value, delta)

    @classmethod
    def concat(cls, parts: list[Emitted]) -> Emitted:
        if not parts:
            return cls(np.empty(0, np.int32), np.empty(0, np.int64), np.empty(0), np.empty(0), np.empty(0, np.int16))
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in
                     ("point_id", "ts_ns", "value", "delta", "quality")),
                   events=[e for p in parts for e in p.events])

    def __len__(self) -> int:
        return len(self.ts_ns)


@dataclass
class _State:
    seed_ts: int | None = None       # anchor of the next delta
    seed_value: float | None = None
    last_ts: int | None = None       # newest reading stored or streamed (late below this)
    stored_until: int | None = None  # held readings up to this time are already stored: re-judged, not emitted
    touched: bool = False
    held_ts: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    held_value: np.ndarray = field(default_factory=lambda: np.empty(0))


class CounterStream:
    """Turn chunks of (point_id, ts_ns, value) into emitted readings with deltas and flags."""

    def __init__(self, rules: dict[int, PointRule], stored_tail: pd.DataFrame, last_stored: dict[int, int]):
        """``stored_tail``: last stored readings per point (point_id, ts, value, quality) for cumulative
        points; ``last_stored``: newest stored ts (ns) per point id."""
        self.rules = rules
        self.rejudged: list[Emitted] = []  # stored readings judged again with their new successors
        self.state: dict[int, _State] = {}
        for pid, last in last_stored.items():
            self.state[pid] = _State(last_ts=last, stored_until=last)
        for pid, tail in stored_tail.groupby("point_id"):
            tail = tail.sort_values("ts")
            ts = tail["ts"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
            value = tail["value"].to_numpy(np.float64)
            st = self.state.setdefault(int(pid), _State())
            st.seed_ts, st.seed_value = int(ts[0]), float(value[0])
            st.held_ts, st.held_value = ts[1:], value[1:]

    def feed(self, point_id: np.ndarray, ts_ns: np.ndarray, value: np.ndarray) -> tuple[Emitted, Emitted]:
        """Process one chunk. Returns (emitted, late); both sorted by (point_id, ts)."""
        order = np.lexsort((ts_ns, point_id))
        point_id, ts_ns, value = point_id[order], ts_ns[order], value[order]
        bounds = np.flatnonzero(np.r_[True, point_id[1:] != point_id[:-1], True])
        out, late = [], []
        for a, b in zip(bounds[:-1], bounds[1:]):
            pid = int(point_id[a])
            st = self.state.setdefault(pid, _State())
            t, v = ts_ns[a:b], value[a:b]
            is_late = t <= (st.last_ts if st.last_ts is not None else np.iinfo(np.int64).min)
            if is_late.any():
                late.append(_plain(pid, t[is_late], v[is_late]))
                t, v = t[~is_late], v[~is_late]
            if len(t):
                st.touched = True
                out.append(self._advance(pid, st, t, v, final=False))
        return Emitted.concat(out), Emitted.concat(late)

    def flush(self) -> Emitted:
        """Emit every held reading (end of the file)."""
        out = []
        for pid, st in self.state.items():
            if len(st.held_ts) and st.touched:
                out.append(self._advance(pid, st, np.empty(0, np.int64), np.empty(0), final=True))
        return Emitted.concat(out)

    def _advance(self, pid: int, st: _State, t: np.ndarray, v: np.ndarray, *, final: bool) -> Emitted:
        rule = self.rules[pid]
        if rule.kind == "instantaneous":
            st.last_ts = int(t[-1])
            return _plain(pid, t, v)
        if rule.kind == "interval":
            res = interval_values(t, v, rule.counter_params)
            st.last_ts = int(t[-1])
            return Emitted(np.full(len(t), pid, np.int32), t, v, res.delta, res.quality.astype(np.int16),
                           _events(pid, t, res.events))
        series_t = np.r_[st.held_ts, t]
        series_v = np.r_[st.held_value, v]
        res = registers_to_intervals(series_t, series_v, rule.counter_params, prev_ts_ns=st.seed_ts,
                                     prev_value=st.seed_value)
        keep = len(series_t) if final else max(len(series_t) - HOLD, 0)
        emitted = Emitted(np.full(keep, pid, np.int32), series_t[:keep], series_v[:keep], res.delta[:keep],
                          res.quality[:keep].astype(np.int16),
                          _events(pid, series_t, res.events if res.events.empty
                                  else res.events[res.events["index"] < keep]))
        if keep:
            seed = carry_over(series_t[:keep], series_v[:keep], res.quality[:keep])
            if seed[0] is not None:
                st.seed_ts, st.seed_value = seed
        st.held_ts, st.held_value = series_t[keep:], series_v[keep:]
        st.last_ts = int(series_t[-1])
        if st.stored_until is not None and keep and emitted.ts_ns[0] <= st.stored_until:
            old = emitted.ts_ns <= st.stored_until
            self.rejudged.append(_take(emitted, old))
            emitted = _take(emitted, ~old)
        return emitted


def _take(rows: Emitted, mask: np.ndarray) -> Emitted:
    ts = set(rows.ts_ns[mask].tolist())
    return Emitted(rows.point_id[mask], rows.ts_ns[mask], rows.value[mask], rows.delta[mask], rows.quality[mask],
                   [e for e in rows.events if e[1] in ts])


def _plain(pid: int, t: np.ndarray, v: np.ndarray) -> Emitted:
    return Emitted(np.full(len(t), pid, np.int32), t, v, np.full(len(t), np.nan), np.zeros(len(t), np.int16))


def _events(pid: int, series_t: np.ndarray, events: pd.DataFrame) -> list[tuple]:
    if events is None or events.empty:
        return []
    return [(pid, int(series_t[int(i)]), kind, prev, val, d) for i, kind, prev, val, d in
            events[["index", "kind", "prev_value", "value", "delta"]].itertuples(index=False, name=None)]
