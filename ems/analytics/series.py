"""Shared preparation of time series for the indicator functions."""

from __future__ import annotations

import pandas as pd


def local_sorted(series: pd.Series, tz: str | None, what: str) -> pd.Series:
    """A float copy of ``series`` in the zone ``tz`` (when both are tz-aware), sorted by time.

    ``what`` names the series in the error raised when it has no DatetimeIndex.
    """
    s = series.astype(float)
    if not isinstance(s.index, pd.DatetimeIndex):
        raise ValueError(f"{what} series needs a DatetimeIndex")
    if tz is not None and s.index.tz is not None:
        s.index = s.index.tz_convert(tz)
    return s.sort_index()
