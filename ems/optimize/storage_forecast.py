"""Day-ahead forecasts for the storage schedule, from metered history only (what is known at midnight).

* Same-day-type naive: the load and PV of the same weekday last week, else of the latest earlier
  day of the same type. The day type comes from the production plan: the day's level (stopped,
  partial, full production) and the level of the day before, so the first working day after a stop
  (the Monday pull-down after a weekend) is forecast from an earlier first day after a stop.
* Peak envelope for the charging headroom: the element-wise highest load over the matching days of
  the last weeks (a pull-down may be larger this week than last) and the lowest PV at the same time
  of day over the last week (a cloudy day), so charging is kept out of the hours where the net
  import could reach the month's demand peak.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

STEP = pd.Timedelta("15min")


def day_of(index: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """The local date of each interval (index = interval ends)."""
    return (index - STEP).normalize()


def day_types(day_kind: pd.Series) -> pd.Series:
    """Day type from the planned production per day: (level of the day, level of the day before),
    levels 0 stopped (< 5 % of the busiest day), 1 partial (< 60 %), 2 full."""
    top = max(float(day_kind.max()), 1e-9)
    level = pd.Series(np.select([day_kind < 0.05 * top, day_kind < 0.6 * top], [0, 1], 2), index=day_kind.index)
    before = level.shift(1, freq="1D").reindex(level.index).fillna(level)
    return level * 3 + before.astype(int)


def same_type_days(day: pd.Timestamp, day_kind: pd.Series, first: pd.Timestamp, last: pd.Timestamp,
                   n: int = 2) -> list[pd.Timestamp]:
    """Up to ``n`` earlier days of the same type (:func:`day_types` of the planned production per day
    ``day_kind``), the same weekday of the previous weeks first, then the latest earlier days; only
    metered days (``first``..``last``)."""
    kinds = day_types(day_kind)

    def same(c):
        return c in kinds.index and kinds[c] == kinds[day]

    out = [day - pd.Timedelta(days=7 * w) for w in range(1, 3)]
    out = [c for c in out if first <= c <= last and same(c)]
    for back in range(1, 15):
        c = day - pd.Timedelta(days=back)
        if c < first or len(out) >= n:
            break
        if c <= last and same(c) and c not in out:
            out.append(c)
    if not out:                       # nothing alike: the latest metered day
        out = [last]
    return out[:n]


def day_forecast(hist: pd.DataFrame, day: pd.Timestamp, day_kind: pd.Series) -> dict[str, np.ndarray]:
    """Forecast for the 96 intervals of ``day`` from ``hist`` (load_kw, pv_kw; whole metered days):
    ``load``/``pv`` (the best matching day), ``load_high`` (highest over the matching days) and
    ``pv_low`` (lowest at the same time of day over the last 7 days)."""
    idx = pd.date_range(day + STEP, periods=96, freq=STEP)
    first, last = day_of(hist.index[[0, -1]])
    refs = same_type_days(day, day_kind, first, last)
    prof = [hist.reindex(idx - (day - r)) for r in refs]
    load = prof[0]["load_kw"].to_numpy(float)
    pv = prof[0]["pv_kw"].to_numpy(float)
    load_high = np.nanmax(np.stack([p["load_kw"].to_numpy(float) for p in prof]), axis=0)
    past = [hist.reindex(idx - pd.Timedelta(days=b))["pv_kw"].to_numpy(float) for b in range(1, 8)
            if first <= day - pd.Timedelta(days=b) <= last]
    pv_low = np.nanmin(np.stack(past), axis=0) if past else pv
    fill = np.nan_to_num
    return {"load": fill(load), "pv": fill(pv), "load_high": fill(np.where(np.isnan(load_high), load, load_high)),
            "pv_low": fill(np.minimum(pv_low, pv))}
