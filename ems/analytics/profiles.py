"""Load profiles: typical day per day type, and peak demand per month.

Day types follow the Chinese working calendar from the ``chinese_calendar`` package (State Council
holiday notices): a public holiday is 'holiday', an adjusted working day (调休, e.g. Saturday
2025-10-11) is 'workday', other Saturdays and Sundays are 'weekend'. For years the package does not
cover, Monday-Friday are workdays with no holidays, and the result says so (``calendar_fallback``).
Any other calendar is a function ``date -> 'workday'|'weekend'|'holiday'`` passed as ``calendar``.

Timestamps: a tz-aware index is converted to the site's IANA time zone ``tz`` before the local
date and time of day are taken; a naive index is taken as local wall time in ``tz`` already.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Literal

import chinese_calendar
import numpy as np
import pandas as pd

from ems.analytics.series import local_sorted

DayType = Literal["workday", "weekend", "holiday"]
DAY_TYPES: tuple[str, ...] = ("workday", "weekend", "holiday")
Calendar = Callable[[dt.date], str]


def china_day_type(day: dt.date) -> str:
    """'workday' (incl. 调休 adjusted working days), 'holiday' (public holiday) or 'weekend'.

    Years outside the package's coverage fall back to Mon-Fri workdays: the result then ends in
    '?' ('workday?', 'weekend?'), so callers can see the calendar was guessed.
    """
    try:
        if chinese_calendar.is_workday(day):
            return "workday"
        _, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:
        return "workday?" if day.weekday() < 5 else "weekend?"
    return "holiday" if name is not None else "weekend"


def day_types(dates: Iterable[dt.date], calendar: Calendar | None = None) -> pd.Series:
    """Day type per date (index: the dates)."""
    cal = calendar or china_day_type
    uniq = list(dict.fromkeys(dates))
    return pd.Series([cal(d) for d in uniq], index=pd.Index(uniq, name="date"), name="day_type")


def _local_index(index: pd.DatetimeIndex, tz: str) -> pd.DatetimeIndex:
    if not isinstance(index, pd.DatetimeIndex):
        raise ValueError("series needs a DatetimeIndex")
    return index.tz_convert(tz) if index.tz is not None else index


def typical_day(series: pd.Series, tz: str, day_type: DayType = "workday", *,
                calendar: Calendar | None = None, quantiles: tuple[float, ...] = (0.1, 0.9)) -> pd.DataFrame:
    """Typical day of ``series`` (e.g. power_kw at 15 min) over the days of ``day_type``.

    Returns one row per local time-of-day slot (index ``time_of_day``, a ``datetime.time``) with
    columns ``mean``, ``median``, ``p10``/``p90`` (per ``quantiles``), ``n_days`` (days with a value
    in that slot). NaN values are skipped, so a gap lowers ``n_days`` instead of biasing the mean.
    ``attrs['n_days']`` is the number of days of that type seen; ``attrs['calendar_fallback']``
    is True when some dates were outside the holiday calendar's coverage (then 'workday?'
    dates count as workdays and 'weekend?' as weekends).
    """
    if day_type not in DAY_TYPES:
        raise ValueError(f"day_type must be one of {DAY_TYPES}, got '{day_type}'")
    idx = _local_index(series.index, tz)  # type: ignore[arg-type]
    values = pd.Series(series.to_numpy(dtype=float), index=idx)
    dates = pd.Index(idx.date)
    types = day_types(dates.unique(), calendar)
    fallback = bool(types.str.endswith("?").any())
    per_row = pd.Series(dates.map(types.str.rstrip("?")), index=idx)
    sel = values[(per_row == day_type).to_numpy()]
    tod = pd.Index(sel.index.time, name="time_of_day")
    grouped = sel.groupby(tod)
    out = pd.DataFrame({"mean": grouped.mean(), "median": grouped.median()})
    for q in quantiles:
        out[f"p{round(q * 100):d}"] = grouped.quantile(q)
    out["n_days"] = grouped.count().astype(int)
    out = out.sort_index()
    out.attrs["n_days"] = int(pd.Index(sel.index.date).nunique())
    out.attrs["day_type"] = day_type
    out.attrs["calendar_fallback"] = fallback
    return out


def typical_days(series: pd.Series, tz: str, calendar: Calendar | None = None) -> dict[str, pd.DataFrame]:
    """:func:`typical_day` for each of 'workday', 'weekend' and 'holiday'."""
    return {t: typical_day(series, tz, t, calendar=calendar) for t in DAY_TYPES}  # type: ignore[arg-type]


def monthly_peak_demand(power_kw_15min: pd.Series, tz: str | None = None,
                        interval: str = "15min") -> pd.DataFrame:
    """Maximum demand per calendar month: the highest ``interval``-average power and when it occurred.

    Input: power in kW (instantaneous or interval-average samples). Samples finer than 15 min are
    averaged into 15-min intervals first (the demand-charge convention of a 15-min demand
    meter); a series already at 15 min is used as is. Months are local months in ``tz`` (if given).
    Coarser input (e.g. hourly) raises ValueError, because the 15-min peak cannot be recovered.

    Columns: ``month`` (local month start), ``peak_kw``, ``peak_time`` (start of the peak
    interval, local), ``n_intervals`` (with data), ``coverage`` (``n_intervals`` / intervals in
    the month).
    """
    s = local_sorted(power_kw_15min, tz, "power")
    step = pd.Timedelta(interval)
    diffs = s.index.to_series().diff().dropna()
    if len(diffs) and diffs.min() > step:
        raise ValueError(f"power series is coarser than {interval} (step {diffs.min()}); "
                         f"the {interval} peak cannot be recovered")
    avg = s.resample(interval, label="left", closed="left").mean()
    rows = []
    for month_start, chunk in avg.groupby(avg.index.to_period("M") if avg.index.tz is None
                                          else avg.index.tz_localize(None).to_period("M")):
        valid = chunk.dropna()
        start = month_start.start_time
        end = (month_start + 1).start_time
        if avg.index.tz is not None:
            start, end = start.tz_localize(avg.index.tz), end.tz_localize(avg.index.tz)
        n_expected = int(round((end - start) / step))
        if len(valid):
            t = valid.idxmax()
            peak = float(valid.loc[t])
        else:
            t, peak = pd.NaT, float("nan")
        rows.append({"month": start, "peak_kw": peak, "peak_time": t, "n_intervals": len(valid),
                     "coverage": len(valid) / n_expected if n_expected else np.nan})
    return pd.DataFrame(rows, columns=["month", "peak_kw", "peak_time", "n_intervals", "coverage"])
