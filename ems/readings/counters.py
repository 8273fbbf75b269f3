"""Cumulative registers -> interval quantities (pure computation, no I/O).

A cumulative register (kWh, m3, ...) only ever counts up, so the quantity of an interval is the
difference of two readings. Real registers misbehave: they wrap past their largest value, meters
are replaced, a single reading comes back as 0 or garbage, the value jitters backwards by a digit,
a wrong scaling produces a jump. This module turns register readings into interval deltas and
repairs those cases *visibly*: every repair sets a :class:`~ems.readings.quality.Quality` bit on
the reading and adds a row to ``CounterResult.events``. Nothing is invented: a delta that cannot
be known is NaN, never 0, and a delta is never negative.

Rules, in the order they are applied to a step from the last good reading ``a`` to reading ``k``
(``s = x[k] - x[a]``, ``tol`` the jitter tolerance, ``cap(a, k)`` the largest plausible increase
over the elapsed time, see :class:`CounterParams`):

1. **Normal** ``-tol <= s <= cap``: delta is the increase of the running maximum of the register
   (so ``s >= 0`` gives ``delta = s``). Vectorised; the loops below only visit anomalies.
2. **Backstep (jitter)** ``-tol <= s < 0``: delta 0 and BACKSTEP. The running maximum is kept, so
   the register has to climb back above its previous high before energy is counted again: the
   sum of deltas stays ``max - first`` and jitter never creates energy. Every reading below the
   high-water mark carries BACKSTEP.
3. **Glitch**: reading ``k`` (or a run of up to ``max_glitch_run`` readings) is out of band while
   its neighbours are consistent with each other (e.g. ``1000, 1010, 0, 1030`` or
   ``1000, 1010, 999999, 1030``). The glitch readings get GLITCH and delta NaN; the next reading's
   delta is taken against the last good reading. Checked forwards (the reading after the run)
   and, for a drop, backwards (the drop that ends a high glitch when no rate cap is known).
   Rationale: a lone bad value is a transmission or decoding fault, the register itself moved on.
4. **Rollover**: a drop from near the top of the register to a small value; delta is
   ``modulus - prev + new`` and ROLLOVER (modulus: see :func:`register_modulus`). With
   ``register_max`` known the wrapped delta must be plausible (``<= cap``) and at most half the
   modulus (a register that wraps more often than every second reading cannot be unwrapped).
   Without it, the previous value must be at least 90 % of the next power of ten, the new value at
   most 10 % of it, and the wrapped delta plausible.
5. **Reset / meter replacement**: any other drop beyond ``tol``. The new meter started at 0, so
   the delta is the new value if that is plausible for the elapsed time (``<= cap``; without a
   known cap only a value within ``tol`` of 0), else NaN; RESET. Counting restarts from the new
   base. Rationale: the consumption between the old meter's last reading and its removal is
   unknowable; the new value is a lower bound we only accept when it is plausible.
6. **Spike**: a persistent increase beyond ``cap`` that is not a glitch: delta NaN and SPIKE (never
   store a huge spike as energy); counting continues from the new level.
7. **Gap**: when the delta spans more than ``gap_factor`` expected intervals (missing readings, or
   a glitch in between) it is kept, because the register is truthful over the gap, but flagged
   GAP_SPANNING with a 'gap' event. ``CounterResult.start_ns`` says which span it covers, so
   roll-ups can spread it. Gaps stay gaps: no zeros are invented for the missing readings.

Batches: pass the last stored good reading as ``prev_ts_ns``/``prev_value`` so that the first
delta of the batch can be computed; :func:`carry_over` picks it (the last reading flagged neither
GLITCH nor BACKSTEP, i.e. the high-water mark). A glitch can only be recognised when the reading after it is
in the same call; re-sending the last few stored readings with the new batch (and ignoring the
results for them) lets the pipeline recognise a glitch at a batch boundary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ems.readings.quality import Quality

NAT_NS: int = int(np.iinfo(np.int64).min)  # "no timestamp" in int64 nanoseconds (numpy's NaT)
NS_PER_H: int = 3_600 * 1_000_000_000
EVENT_COLUMNS: tuple[str, ...] = ("index", "kind", "prev_value", "value", "delta")
MIN_STEPS_FOR_INFERENCE: int = 5  # positive steps needed before a max rate is inferred

# internal classification of the step that ends at a reading
_NORMAL, _GLITCH, _ROLLOVER, _RESET, _SPIKE = 0, 1, 2, 3, 4


@dataclass(frozen=True)
class CounterParams:
    """How to read one point's register. All quantities are in the register's own unit.

    expected_interval_s: sampling interval in seconds; None infers it as the median spacing of the
        timestamps (including ``prev_ts_ns``). Used for gap detection (and, for interval totals,
        as the length of each interval).
    register_max: largest value the register can display; it shows 0 on the next step (see
        :func:`register_modulus`). None: a rollover is inferred only near a power of ten.
    max_rate_per_h: largest plausible increase per hour. None: inferred as ``spike_factor`` times
        the median positive rate of the series when it has at least 5 positive steps; otherwise no
        spike detection (pass an explicit value for short batches; see :func:`infer_max_rate_per_h`).
    jitter_tolerance: a negative step of at most ``jitter_tolerance`` times the typical (median
        positive) step is meter jitter: delta 0, BACKSTEP. Relative, so one default fits all units.
    jitter_abs: absolute floor of the jitter tolerance (e.g. one display digit), for meters that
        are mostly idle and so have a tiny typical step.
    register_resolution: smallest step of the register; None infers it from the decimals of
        ``register_max`` (999999.9 -> 0.1).
    min_spike_delta: an increase below this absolute size is never a spike (for mostly idle meters
        whose median rate is tiny). 0 keeps the pure rate rule.
    max_glitch_run: longest run of consecutive bad readings still treated as a glitch.
    spike_factor: multiple of the median positive rate used when ``max_rate_per_h`` is inferred.
    gap_factor: a delta spanning more than this many expected intervals is GAP_SPANNING.
    """

    expected_interval_s: int | None = None
    register_max: float | None = None
    max_rate_per_h: float | None = None
    jitter_tolerance: float = 1.0
    jitter_abs: float = 0.0
    register_resolution: float | None = None
    min_spike_delta: float = 0.0
    max_glitch_run: int = 1
    spike_factor: float = 50.0
    gap_factor: float = 1.5

    def __post_init__(self) -> None:
        checks = {
            "expected_interval_s": self.expected_interval_s is None or self.expected_interval_s > 0,
            "register_max": self.register_max is None or self.register_max > 0,
            "max_rate_per_h": self.max_rate_per_h is None or self.max_rate_per_h > 0,
            "jitter_tolerance": self.jitter_tolerance >= 0,
            "jitter_abs": self.jitter_abs >= 0,
            "register_resolution": self.register_resolution is None or self.register_resolution > 0,
            "min_spike_delta": self.min_spike_delta >= 0,
            "max_glitch_run": self.max_glitch_run >= 1,
            "spike_factor": self.spike_factor > 1,
            "gap_factor": self.gap_factor >= 1,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"CounterParams: invalid {', '.join(f'{b}={getattr(self, b)!r}' for b in bad)}")


@dataclass
class CounterResult:
    """Interval quantities derived from one point's readings, aligned with the input.

    delta: float64, interval quantity ending at ``ts[i]``; NaN where unknown (first reading without
        a previous one, glitch readings, withheld spikes, implausible reset starts).
    quality: int16 :class:`Quality` bit mask per reading.
    events: one row per repair, columns ``index`` (position in the input), ``kind`` ('rollover',
        'reset', 'glitch', 'spike', 'backstep', 'gap'), ``prev_value`` (the last good reading before
        it), ``value``, ``delta``; sorted by index.
    start_ns: int64, start of the span each delta covers (the timestamp of the reading it was taken
        against); ``NAT_NS`` where delta is NaN. Addition to the agreed interface, for roll-ups.
    """

    delta: np.ndarray
    quality: np.ndarray
    events: pd.DataFrame
    start_ns: np.ndarray


def register_modulus(params: CounterParams) -> float | None:
    """Value at which the register wraps to 0, or None when ``register_max`` is unknown.

    Convention: ``register_max`` is the largest *displayable* value, so the register wraps one
    resolution step later: ``modulus = register_max + resolution`` (999999.9 -> 1000000.0,
    65535 -> 65536). The resolution is ``register_resolution`` or one unit in the last decimal
    place of ``register_max``. Convenience exception: an exact power of ten or of two (1e6, 65536,
    2**32) cannot be the largest value of a wrapping decimal or binary register, so it is taken
    as the modulus itself.
    """
    r = params.register_max
    if r is None:
        return None
    if params.register_resolution is None:
        k10 = round(math.log10(r))
        k2 = round(math.log2(r))
        if (k10 >= 1 and math.isclose(r, 10.0**k10, rel_tol=1e-12)) or (
            k2 >= 8 and math.isclose(r, 2.0**k2, rel_tol=1e-12)
        ):
            return float(r)
    if params.register_resolution is not None:
        return float(r) + params.register_resolution
    for k in range(7):  # decimals of register_max; rounding removes binary noise (9999.99 + 0.01)
        v = r * 10**k
        if abs(v - round(v)) <= 1e-9 * max(1.0, abs(v)):
            return round(float(r) + 10.0**-k, k)
    return float(r) + 1e-6


def infer_max_rate_per_h(ts_ns: np.ndarray, value: np.ndarray, spike_factor: float = 50.0) -> float | None:
    """Plausible maximum increase per hour of a register series (history), or None if too short.

    ``spike_factor`` times the median rate of the positive steps (robust: spikes, resets and
    glitches are few, so they do not move the median). The ingest pipeline can store this per
    point and pass it as ``max_rate_per_h`` for short live batches.
    """
    t, x = np.asarray(ts_ns, dtype=np.int64), np.asarray(value, dtype=np.float64)
    ok = np.isfinite(x)
    t, x = t[ok], x[ok]
    d = np.diff(x)
    dt_h = np.diff(t) / NS_PER_H
    pos = (d > 0) & (dt_h > 0)
    return _infer_rate(d[pos], dt_h[pos], spike_factor)


def _median(a: np.ndarray) -> float:
    """Exact median of a non-empty 1-D array (one partition; np.median does two)."""
    k = a.size // 2
    part = np.partition(a, k)
    if a.size % 2:
        return float(part[k])
    return 0.5 * (float(part[:k].max()) + float(part[k]))


def _infer_rate(d_pos: np.ndarray, dt_h_pos: np.ndarray, factor: float) -> float | None:
    if d_pos.size < MIN_STEPS_FOR_INFERENCE:
        return None
    med = _median(d_pos / dt_h_pos)
    return factor * med if med > 0 else None


def _prepare(
    ts_ns: np.ndarray, value: np.ndarray, prev_ts_ns: int | None, prev_value: float | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Validate; return (ts, t_full, x_full, off) with the previous reading prepended if usable."""
    ts = np.asarray(ts_ns)
    if ts.dtype.kind == "M":
        ts = ts.astype("datetime64[ns]").view(np.int64)
    ts = ts.astype(np.int64, copy=False)
    x = np.asarray(value, dtype=np.float64)
    if ts.ndim != 1 or x.ndim != 1 or ts.size != x.size:
        raise ValueError(f"ts_ns and value must be 1-D of equal length, got shapes {ts.shape} and {x.shape}")
    if ts.size > 1:
        step = ts[1:] - ts[:-1]
        if step.min() <= 0:
            bad = np.flatnonzero(step <= 0)
            i = int(bad[0]) + 1
            raise ValueError(
                f"ts_ns must be strictly increasing: position {i} ({int(ts[i])}) is not after "
                f"position {i - 1} ({int(ts[i - 1])})"
            )
    if prev_value is not None and prev_ts_ns is None:
        raise ValueError("prev_value given without prev_ts_ns")
    if prev_ts_ns is not None and ts.size and int(prev_ts_ns) >= int(ts[0]):
        raise ValueError(f"prev_ts_ns ({int(prev_ts_ns)}) must be before the first timestamp ({int(ts[0])})")
    if prev_ts_ns is not None and prev_value is not None and math.isfinite(prev_value):
        t_full = np.concatenate(([np.int64(prev_ts_ns)], ts))
        x_full = np.concatenate(([np.float64(prev_value)], x))
        return ts, t_full, x_full, 1
    return ts, ts, x, 0


def _expected_ns(params: CounterParams, t: np.ndarray, dt_ns: np.ndarray | None = None) -> float | None:
    """Expected spacing in ns: explicit, else the median spacing of ``t`` (``dt_ns`` if precomputed)."""
    if params.expected_interval_s is not None:
        return params.expected_interval_s * 1e9
    if t.size < 2:
        return None
    return _median(np.diff(t) if dt_ns is None else dt_ns)


_EMPTY_EVENTS = pd.DataFrame(
    {"index": np.empty(0, np.int64), "kind": np.empty(0, object), "prev_value": np.empty(0),
     "value": np.empty(0), "delta": np.empty(0)}).astype({"kind": "str"})


class _Events:
    """Collects event rows per kind as arrays; builds the frame once."""

    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, str, np.ndarray, np.ndarray, np.ndarray]] = []

    def add(self, index: np.ndarray, kind: str, prev: np.ndarray, value: np.ndarray, delta: np.ndarray) -> None:
        if index.size:
            self.parts.append((index, kind, prev, value, delta))

    def frame(self) -> pd.DataFrame:
        if not self.parts:  # the common case: building an empty frame each call costs milliseconds
            return _EMPTY_EVENTS.copy(deep=False)
        idx = np.concatenate([p[0] for p in self.parts]).astype(np.int64)
        kind = np.concatenate([np.full(p[0].size, p[1], dtype=object) for p in self.parts])
        cols = [np.concatenate([np.asarray(p[j], dtype=np.float64) for p in self.parts]) for j in (2, 3, 4)]
        order = np.argsort(idx, kind="stable")
        return pd.DataFrame(
            {"index": idx[order], "kind": kind[order], "prev_value": cols[0][order],
             "value": cols[1][order], "delta": cols[2][order]},
            copy=False,
        )


def registers_to_intervals(
    ts_ns: np.ndarray,
    value: np.ndarray,
    params: CounterParams = CounterParams(),  # noqa: B008 - frozen, immutable default
    prev_ts_ns: int | None = None,
    prev_value: float | None = None,
) -> CounterResult:
    """Interval quantities from cumulative register readings (rules in the module docstring).

    ``ts_ns``: int64 ns since epoch UTC, strictly increasing (ValueError otherwise); ``value``:
    float64 readings. ``prev_ts_ns``/``prev_value``: last stored good reading before the batch,
    or None. NaN readings are treated as missing: delta NaN, flagged GLITCH, and the chain runs
    past them (the next delta is taken against the last good reading).
    """
    ts, t_full, x_full, off = _prepare(ts_ns, value, prev_ts_ns, prev_value)
    n = ts.size
    events = _Events()

    valid = np.isfinite(x_full)
    all_valid = bool(valid.all())
    vidx = np.arange(x_full.size) if all_valid else np.flatnonzero(valid)
    ct, cx = (t_full, x_full) if all_valid else (t_full[vidx], x_full[vidx])
    m = cx.size

    d = cx[1:] - cx[:-1]
    dt_ns = ct[1:] - ct[:-1]
    dt_h = dt_ns / NS_PER_H
    pos = d > 0
    d_pos = d[pos]
    typical = _median(d_pos) if d_pos.size else 0.0
    level = float(np.max(np.abs(cx))) if m else 0.0
    tol = max(params.jitter_abs, params.jitter_tolerance * typical, 1e-9 * level)
    cap = params.max_rate_per_h
    if cap is None:
        cap = _infer_rate(d_pos, dt_h[pos], params.spike_factor)

    kind, mod_add, reset_delta = _classify(ct, cx, d, dt_h, tol, cap, params)

    # deltas over the good readings: running maximum per segment (segments restart at reset/spike)
    glitch = kind == _GLITCH
    any_glitch = bool(glitch.any())
    gi = np.flatnonzero(~glitch) if any_glitch else None
    gx, gt, gk, gmod = (cx, ct, kind, mod_add) if gi is None else (cx[gi], ct[gi], kind[gi], mod_add[gi])
    g = gx.size
    special = np.flatnonzero(gk)  # rollover, reset and spike positions: few
    sk = gk[special]
    y = gx + np.cumsum(gmod) if (sk == _ROLLOVER).any() else gx
    seg_starts = special[(sk == _RESET) | (sk == _SPIKE)]
    gdelta = np.empty(g)
    below_parts = []
    bounds = [0, *seg_starts.tolist(), g]
    for s, e in zip(bounds[:-1], bounds[1:], strict=True):
        seg = y[s:e]
        hw = np.maximum.accumulate(seg)
        gdelta[s + 1 : e] = hw[1:] - hw[:-1]
        below_parts.append(np.flatnonzero(seg[1:] < hw[:-1]) + (s + 1))
    below = np.concatenate(below_parts) if below_parts else np.empty(0, np.int64)
    firsts = np.asarray(bounds[:-1] if g else [], np.int64)  # first reading, spikes, resets
    gdelta[firsts] = np.nan
    resets = special[sk == _RESET]
    gdelta[resets] = (reset_delta if gi is None else reset_delta[gi])[resets]
    unknown = firsts[np.isnan(gdelta[firsts])]

    gflag = np.zeros(g, np.int16)
    for code, flag in ((_ROLLOVER, Quality.ROLLOVER), (_RESET, Quality.RESET), (_SPIKE, Quality.SPIKE)):
        gflag[special[sk == code]] |= flag
    gflag[below] |= Quality.BACKSTEP
    expected = _expected_ns(params, t_full, dt_ns if all_valid else None)
    gap = np.empty(0, np.int64)
    if expected is not None and g > 1:
        gdt = dt_ns if gi is None else gt[1:] - gt[:-1]
        gap = np.flatnonzero(gdt > params.gap_factor * expected) + 1
        gflag[gap] |= Quality.GAP_SPANNING
    gstart = np.full(g, NAT_NS, np.int64)
    gstart[1:] = gt[:-1]
    gstart[unknown] = NAT_NS

    # scatter back to batch positions (the previous reading, if any, is good position 0)
    gb = vidx if gi is None else vidx[gi]
    if all_valid and gi is None:
        delta, quality, start = gdelta[off:], gflag[off:], gstart[off:]
    else:
        delta = np.full(n, np.nan)
        quality = np.zeros(n, np.int16)
        start = np.full(n, NAT_NS, np.int64)
        bpos = gb[off:] - off
        delta[bpos], quality[bpos], start[bpos] = gdelta[off:], gflag[off:], gstart[off:]
    for code, name in ((_ROLLOVER, "rollover"), (_RESET, "reset"), (_SPIKE, "spike")):
        p = special[sk == code]
        events.add(gb[p] - off, name, gx[p - 1], gx[p], gdelta[p])
    events.add(gb[below] - off, "backstep", gx[below - 1], gx[below], gdelta[below])
    events.add(gb[gap] - off, "gap", gx[gap - 1], gx[gap], gdelta[gap])

    if glitch.any():
        ci = np.flatnonzero(glitch)
        prev_good = gi[np.searchsorted(gi, ci) - 1]  # gi is set: there are glitches
        bi = vidx[ci] - off
        quality[bi] |= Quality.GLITCH
        events.add(bi, "glitch", cx[prev_good], cx[ci], np.full(ci.size, np.nan))
    if not all_valid:
        bi = np.flatnonzero(~valid[off:])
        quality[bi] |= Quality.GLITCH
        nan = np.full(bi.size, np.nan)
        events.add(bi, "glitch", nan, nan, nan)
    return CounterResult(delta=delta, quality=quality, events=events.frame(), start_ns=start)


def _classify(
    ct: np.ndarray,
    cx: np.ndarray,
    d: np.ndarray,
    dt_h: np.ndarray,
    tol: float,
    cap: float | None,
    p: CounterParams,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Classify the anomalous steps (rules 3-6). Loops over candidate positions only.

    Returns per (finite) reading: kind code, modulus added at a rollover, delta at a reset.
    """
    m = cx.size
    kind = np.zeros(m, np.int8)
    mod_add = np.zeros(m)
    reset_delta = np.full(m, np.nan)
    if m < 2:
        return kind, mod_add, reset_delta
    if cap is None:
        cand = np.flatnonzero(d < -tol) + 1
    else:
        cand = np.flatnonzero((d < -tol) | (d > np.maximum(cap * dt_h, p.min_spike_delta))) + 1
    if cand.size == 0:
        return kind, mod_add, reset_delta
    modulus = register_modulus(p)

    def cap_between(a: int, b: int) -> float:
        if cap is None:
            return math.inf
        return max(cap * float(ct[b] - ct[a]) / NS_PER_H, p.min_spike_delta)

    def consistent(a: int, b: int) -> bool:
        s = cx[b] - cx[a]
        return bool(-tol <= s <= cap_between(a, b))

    def prev_good(c: int) -> int:
        c -= 1
        while c >= 0 and kind[c] == _GLITCH:
            c -= 1
        return c

    def out_of_band(lo_ref: int, first: int, stop: int, hi_ref: int) -> bool:
        run = cx[first:stop]
        return bool(np.all((run < cx[lo_ref] - tol) | (run > cx[hi_ref] + tol)))

    locked = 0  # readings up to here have been relied upon and are not re-classified
    for k in cand.tolist():
        if k <= locked:
            continue
        a = prev_good(k)
        s = cx[k] - cx[a]
        thr = cap_between(a, k)
        if -tol <= s <= thr:
            continue
        # rule 3, forwards: readings k..j-1 are bad, j agrees with a
        found = False
        for j in range(k + 1, min(k + p.max_glitch_run, m - 1) + 1):
            if consistent(a, j) and out_of_band(a, k, j, j):
                kind[k:j] = _GLITCH
                locked = j
                found = True
                break
        if found:
            continue
        if s > 0:  # rule 6
            kind[k] = _SPIKE
            locked = k
            continue
        # rule 3, backwards: readings first..k-1 are bad (high), k agrees with the reading before
        for first in range(k - 1, max(k - p.max_glitch_run, 1) - 1, -1):
            if first <= locked or kind[first] != _NORMAL:
                break
            b = prev_good(first)
            if consistent(b, k) and out_of_band(b, first, k, k):
                kind[first:k] = _GLITCH
                found = True
                break
        locked = k
        if found:
            continue
        mod = _rollover_modulus(float(cx[a]), float(cx[k]), thr, modulus)
        if mod is not None:  # rule 4
            kind[k] = _ROLLOVER
            mod_add[k] = mod
            continue
        kind[k] = _RESET  # rule 5
        limit = thr if cap is not None else tol
        if 0.0 <= cx[k] <= limit:
            reset_delta[k] = cx[k]
    return kind, mod_add, reset_delta


def carry_over(ts_ns: np.ndarray, value: np.ndarray, quality: np.ndarray) -> tuple[int | None, float | None]:
    """``(prev_ts_ns, prev_value)`` to pass with the next batch, from stored readings and flags.

    The last reading flagged neither GLITCH nor BACKSTEP: it is the register's high-water mark
    (readings below it carry BACKSTEP), so continuing from it never counts a jitter recovery
    twice. ``(None, None)`` when there is no such reading.
    """
    q = np.asarray(quality)
    ok = np.flatnonzero(((q & (Quality.GLITCH | Quality.BACKSTEP)) == 0) & np.isfinite(np.asarray(value, float)))
    if ok.size == 0:
        return None, None
    i = int(ok[-1])
    return int(np.asarray(ts_ns)[i]), float(np.asarray(value)[i])


def _rollover_modulus(prev: float, new: float, thr: float, modulus: float | None) -> float | None:
    """Modulus if the drop ``prev -> new`` is a register wrap (rule 4), else None."""
    if new < 0 or new >= prev:
        return None
    if modulus is not None:
        wrapped = modulus - prev + new
        return modulus if 0 < wrapped <= min(0.5 * modulus, thr) else None
    if prev <= 0:
        return None
    mod = 10.0 ** math.ceil(math.log10(prev))
    if mod <= prev:
        mod *= 10.0
    wrapped = mod - prev + new
    if prev >= 0.9 * mod and new <= 0.1 * mod and wrapped <= thr:
        return mod
    return None


def interval_values(
    ts_ns: np.ndarray,
    value: np.ndarray,
    params: CounterParams = CounterParams(),  # noqa: B008 - frozen, immutable default
    prev_ts_ns: int | None = None,
    prev_value: float | None = None,
) -> CounterResult:
    """Check readings of points that already report per-interval totals; ``delta = value``.

    Rules:
    - NaN value: missing; delta NaN, GLITCH ('glitch' event).
    - Negative value within ``jitter_abs`` (plus float noise) of 0: delta 0, BACKSTEP. Larger
      negative: delta NaN, GLITCH (an interval total of consumption cannot be negative; BACKSTEP
      is documented as "set to 0", so the withheld case uses GLITCH).
    - Value above ``max_rate_per_h * interval`` (interval = expected interval; rate explicit or
      inferred as for registers, from the positive values): delta NaN, SPIKE.
    - Gap: a reading more than ``gap_factor`` intervals after the previous one gets a 'gap' event
      but *no* GAP_SPANNING flag: its total covers its own interval only, the missing intervals
      stay missing. ``prev_ts_ns`` lets a gap before the first reading be seen; ``prev_value`` is
      accepted for symmetry with :func:`registers_to_intervals` and only shown in that event.
    ``start_ns = ts - interval`` (NAT_NS when the interval is unknown or delta is NaN).
    """
    ts, _, x, _ = _prepare(ts_ns, value, None, None)
    if prev_ts_ns is not None and ts.size and int(prev_ts_ns) >= int(ts[0]):
        raise ValueError(f"prev_ts_ns ({int(prev_ts_ns)}) must be before the first timestamp ({int(ts[0])})")
    n = ts.size
    events = _Events()
    t_all = ts if prev_ts_ns is None else np.concatenate(([np.int64(prev_ts_ns)], ts))
    expected = _expected_ns(params, t_all)
    finite = np.isfinite(x)
    pos = finite & (x > 0)
    typical = _median(x[pos]) if pos.any() else 0.0
    tol = params.jitter_abs + 1e-9 * typical
    delta = x.copy()
    quality = np.zeros(n, np.int16)
    prev_vals = np.full(n, np.nan)
    prev_vals[1:] = x[:-1]
    if n:
        prev_vals[0] = np.nan if prev_value is None else prev_value

    missing = ~finite
    quality[missing] |= Quality.GLITCH
    small_neg = finite & (x < 0) & (x >= -tol)
    big_neg = finite & (x < -tol)
    delta[small_neg] = 0.0
    delta[big_neg] = np.nan
    quality[small_neg] |= Quality.BACKSTEP
    quality[big_neg] |= Quality.GLITCH
    spike = np.zeros(n, bool)
    if expected is not None:
        interval_h = expected / NS_PER_H
        cap = params.max_rate_per_h
        if cap is None and x[pos].size >= MIN_STEPS_FOR_INFERENCE:
            cap = params.spike_factor * typical / interval_h
        if cap is not None:
            spike = finite & (x > max(cap * interval_h, params.min_spike_delta))
            delta[spike] = np.nan
            quality[spike] |= Quality.SPIKE
    events.add(np.flatnonzero(missing | big_neg), "glitch", prev_vals[missing | big_neg],
               x[missing | big_neg], delta[missing | big_neg])
    events.add(np.flatnonzero(small_neg), "backstep", prev_vals[small_neg], x[small_neg], delta[small_neg])
    events.add(np.flatnonzero(spike), "spike", prev_vals[spike], x[spike], delta[spike])

    start = np.full(n, NAT_NS, np.int64)
    if expected is not None:
        ok = np.isfinite(delta)
        start[ok] = ts[ok] - np.int64(round(expected))
        # gaps between present (finite) readings, including the stored previous one
        ft = ts[finite]
        fi = np.flatnonzero(finite)
        if prev_ts_ns is not None:
            ft = np.concatenate(([np.int64(prev_ts_ns)], ft))
            fi = np.concatenate(([-1], fi))
        if ft.size > 1:
            gap = np.flatnonzero(np.diff(ft) > params.gap_factor * expected) + 1
            gi = fi[gap]
            events.add(gi, "gap", prev_vals[gi], x[gi], delta[gi])
    return CounterResult(delta=delta, quality=quality, events=events.frame(), start_ns=start)
