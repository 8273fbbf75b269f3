"""Data-quality checks of one point over one local day: pure functions over pandas, no I/O.

Conventions (all times UTC ``pd.Timestamp``; ``interval_s`` is the point's expected sampling interval):

* The interval grid is anchored at the Unix epoch (whole multiples of ``interval_s``); a reading
  belongs to the slot ``floor(ts / interval)``. A day's expected slots are those that have fully
  elapsed by the end of the day, or by ``now`` for the day in progress.
* Stale: whole intervals without data between the newest reading and the day's end (or now), not
  counting the one interval a reading may still be on its way.
* Flatline: the longest run of an instantaneous value that does not change (within ``tol``), in hours.
  A frozen register: hours in which a cumulative meter recorded zero consumption while its sibling
  meters (same parent) or its parent recorded some; the longest run of such consecutive hours.
* Spikes: readings the ingest flagged as SPIKE, interval quantities above ``max_rate_per_h`` for their
  interval, and, for instantaneous points, Hampel outliers:
  ``|x - median| > k * 1.4826 * MAD`` over a centred window of ``HAMPEL_WINDOW`` readings (with a MAD of
  zero any departure from a flat neighbourhood counts; a step is not a spike).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ems.readings.quality import Quality

HAMPEL_WINDOW = 5


@dataclass(frozen=True)
class Thresholds:
    """When a figure becomes an issue. Per-point overrides: ``tags: {quality: {flatline_h: 8}}``."""
    completeness_min: float = 0.95     # share of expected slots
    stale_intervals: int = 4           # whole intervals without data
    flatline_h: float = 4.0            # hours unchanged (instantaneous)
    frozen_h: float = 2.0              # hours frozen while siblings move (cumulative)
    spike_k: float = 6.0               # Hampel threshold in robust standard deviations
    grid_tolerance_s: float = 1.0      # allowed distance from the interval grid
    future_tolerance_s: float = 300.0  # allowed clock lead over the computation time
    flat_tol: float = 0.0              # values within this count as unchanged
    balance_tolerance: float = 0.05    # |unaccounted share| of a parent meter

    def with_overrides(self, overrides: dict | None) -> Thresholds:
        if not overrides:
            return self
        known = {k: type(getattr(self, k))(v) for k, v in overrides.items() if hasattr(self, k)}
        return Thresholds(**{**self.__dict__, **known})


@dataclass
class PointDay:
    """Figures of one point and day (the columns of ``quality_day``)."""
    expected: int | None
    received: int
    completeness: float | None
    last_ts: pd.Timestamp | None
    stale_intervals: int | None
    flatline_h: float = 0.0
    frozen_h: float = 0.0
    spikes: int = 0
    out_of_range: int = 0
    negative: int = 0
    off_grid: int = 0
    future: int = 0
    max_offset_s: float | None = None
    issues: list[str] = field(default_factory=list)


def slots(ts: pd.Series | pd.DatetimeIndex, interval_s: int) -> np.ndarray:
    """Grid slot number of each timestamp."""
    ns = pd.DatetimeIndex(ts).as_unit("ns").asi8 if len(ts) else np.array([], dtype=np.int64)
    return np.floor_divide(ns, int(interval_s) * 1_000_000_000)


def expected_slots(start: pd.Timestamp, end: pd.Timestamp, interval_s: int) -> int:
    """Slots that start at or after ``start`` and end at or before ``end``."""
    step = int(interval_s) * 1_000_000_000
    lo = -(-start.value // step)                # ceil(start / step); Timestamp.value is ns since the epoch
    hi = end.value // step            # floor: last slot must end by ``end``
    return max(0, int(hi - lo))


def completeness(ts: pd.Series, start: pd.Timestamp, end: pd.Timestamp, interval_s: int) -> tuple[int, int]:
    """(expected, received) slots in [start, end) for readings stamped ``ts`` (those that carry data)."""
    inside = ts[(ts >= start) & (ts < end)]
    received = len(np.unique(slots(inside, interval_s)))
    return expected_slots(start, end, interval_s), received


def stale_intervals(last_ts: pd.Timestamp | None, until: pd.Timestamp, interval_s: int) -> int | None:
    """Whole intervals with no data before ``until`` after the newest reading (None: never any data)."""
    if last_ts is None or pd.isna(last_ts):
        return None
    gap = (until - last_ts).total_seconds()
    return max(0, int(gap // interval_s) - 1)


def flatline_hours(ts: pd.Series, values: pd.Series, tol: float = 0.0) -> float:
    """Longest span (hours) over which consecutive values stay within ``tol`` of each other."""
    ok = values.notna().to_numpy()
    t = pd.DatetimeIndex(ts[ok])
    v = values[ok].to_numpy(dtype=float)
    if len(v) < 2:
        return 0.0
    same = np.abs(np.diff(v)) <= tol
    best, run_start = 0.0, None
    for i, s in enumerate(same):
        if s:
            run_start = i if run_start is None else run_start
            best = max(best, (t[i + 1] - t[run_start]).total_seconds() / 3600)
        else:
            run_start = None
    return best


def frozen_hours(own: pd.Series, others: pd.Series) -> float:
    """Longest run of consecutive hours with ``own == 0`` while ``others > 0`` (hourly sums, same index)."""
    frame = pd.concat([own.rename("own"), others.rename("others")], axis=1).sort_index()
    frozen = (frame["own"] == 0) & (frame["others"] > 0)
    best = run = 0
    prev = None
    for bucket, flag in frozen.items():
        contiguous = prev is not None and bucket - prev == pd.Timedelta("1h")
        run = (run + 1 if contiguous else 1) if flag else 0
        best = max(best, run)
        prev = bucket
    return float(best)


def hampel(values: pd.Series, k: float = 6.0, window: int = HAMPEL_WINDOW) -> pd.Series:
    """Boolean mask of Hampel outliers: centred window of ``window`` readings, its median and MAD."""
    v = values.astype(float).to_numpy()
    out = np.zeros(len(v), dtype=bool)
    half = window // 2
    for i in range(len(v)):
        w = v[max(0, i - half): i + half + 1]
        w = w[~np.isnan(w)]
        if len(w) < 3 or np.isnan(v[i]):
            continue
        med = np.median(w)
        mad = np.median(np.abs(w - med))
        dev = abs(v[i] - med)
        out[i] = dev > k * 1.4826 * mad and dev > 1e-9 * abs(med) + 1e-12
    return pd.Series(out, index=values.index)


def out_of_range(values: pd.Series, lo: float | None, hi: float | None) -> int:
    v = values.dropna()
    bad = pd.Series(False, index=v.index)
    if lo is not None:
        bad |= v < lo
    if hi is not None:
        bad |= v > hi
    return int(bad.sum())


def clock(ts: pd.Series, interval_s: int, now: pd.Timestamp, th: Thresholds) -> tuple[int, int, float | None]:
    """(off-grid count, future count, largest distance from the grid in seconds)."""
    if len(ts) == 0:
        return 0, 0, None
    ns = pd.DatetimeIndex(ts).as_unit("ns").asi8
    step = int(interval_s) * 1_000_000_000
    off = np.mod(ns, step)
    dist = np.minimum(off, step - off) / 1e9
    future = int((pd.DatetimeIndex(ts) > now + pd.Timedelta(seconds=th.future_tolerance_s)).sum())
    return int((dist > th.grid_tolerance_s).sum()), future, float(dist.max())


def point_day(readings: pd.DataFrame, *, kind: str, interval_s: int | None, min_value: float | None,
              max_value: float | None, start: pd.Timestamp, end: pd.Timestamp, now: pd.Timestamp,
              th: Thresholds | None = None, others_hourly: pd.Series | None = None,
              own_hourly: pd.Series | None = None, max_rate_per_h: float | None = None) -> PointDay:
    """All figures of one metered point for the day [start, end).

    ``readings``: ts (UTC), value, delta, quality, covering at least [start - lookback, end) so runs and
    staleness that begin before the day are seen. ``own_hourly`` / ``others_hourly``: hourly consumption
    of the point and of its siblings (frozen-register check of cumulative points).
    """
    th = th or Thresholds()
    until = min(end, now)
    has_data = readings["value"].notna() | readings["delta"].notna()
    data = readings[has_data]
    day = readings[(readings["ts"] >= start) & (readings["ts"] < end)]
    day_data = day[day["value"].notna() | day["delta"].notna()]
    before = data[data["ts"] <= until]
    last_ts = before["ts"].max() if len(before) else None
    if interval_s:
        expected, received = completeness(data["ts"], start, until, interval_s)
        share = received / expected if expected else None
        stale = stale_intervals(last_ts, until, interval_s)
        off_grid, future, max_off = clock(day["ts"], interval_s, now, th)
    else:
        expected, received, share, stale = None, len(np.unique(day_data["ts"])), None, None
        off_grid, future, max_off = 0, 0, None
    res = PointDay(expected, received, share, last_ts, stale, off_grid=off_grid, future=future, max_offset_s=max_off)
    flags = day["quality"].fillna(0).astype(int)
    flagged = (flags & int(Quality.SPIKE)) != 0
    res.spikes = int(flagged.sum())
    if kind != "instantaneous" and max_rate_per_h is not None and interval_s:
        # interval quantities beyond the plausible rate (cumulative spikes are already flagged by the ingest)
        res.spikes += int(((day["delta"] > max_rate_per_h * interval_s / 3600) & ~flagged).sum())
    res.out_of_range = out_of_range(day["value"], min_value, max_value)
    if kind == "instantaneous":
        window = readings[readings["value"].notna() & (readings["ts"] < end)]
        run = flatline_hours(window["ts"], window["value"], th.flat_tol)
        res.flatline_h = run if len(day_data) else 0.0
        in_day = window["ts"] >= start
        res.spikes += int(hampel(window["value"].reset_index(drop=True), th.spike_k)[in_day.to_numpy()].sum())
    else:
        res.negative = int((day["delta"] < 0).sum() + ((flags & int(Quality.BACKSTEP)) != 0).sum())
        if kind == "cumulative" and own_hourly is not None and others_hourly is not None:
            res.frozen_h = frozen_hours(own_hourly, others_hourly)
    res.issues = issues(res, th)
    return res


def issues(res: PointDay, th: Thresholds) -> list[str]:
    out = []
    if res.completeness is not None and res.completeness < th.completeness_min:
        out.append("incomplete")
    if res.stale_intervals is not None and res.stale_intervals >= th.stale_intervals:
        out.append("stale")
    if res.flatline_h >= th.flatline_h:
        out.append("flatline")
    if res.frozen_h >= th.frozen_h:
        out.append("frozen")
    for name in ("spikes", "out_of_range", "negative", "off_grid", "future"):
        if getattr(res, name):
            out.append({"spikes": "spike", "off_grid": "clock_skew"}.get(name, name))
    return out
