"""Working calendar and production schedule (Chinese holidays and adjusted working days).

Day types come from the ``chinese_calendar`` package (State Council holiday notices, including
调休 adjusted working days that fall on weekends). For years the package does not cover, the
schedule falls back to Monday-Friday working days and no public holidays (and says so in
``day_type`` as 'workday?'/'weekend?').

The production intensity (0..1 of nominal line rate) is built per interval from a shift pattern:
shift hours, meal breaks, shift changeovers and a daily product changeover, plus reduced output
in the days around the Spring Festival break (staff leave early and return late).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class ShiftPattern:
    """A plant's shift pattern. Hours are local clock hours [0, 24)."""

    shifts: tuple[tuple[float, float], ...]          # (start_h, end_h) per shift; end may be 24
    breaks: tuple[tuple[float, float], ...] = ()     # meal breaks, intensity x break_factor
    changeover_h: float = 0.5                         # ramp after each shift start
    product_changeover: tuple[float, float] | None = (10.0, 11.0)  # daily product change
    saturday_shifts: tuple[tuple[float, float], ...] = ()  # overtime on non-working Saturdays
    saturday_factor: float = 0.6
    break_factor: float = 0.4
    changeover_factor: float = 0.5
    product_changeover_factor: float = 0.3
    hvac_lead_h: float = 1.0                          # HVAC starts this long before a shift


TWO_SHIFT = ShiftPattern(shifts=((8.0, 16.0), (16.0, 24.0)), breaks=((12.0, 12.5), (20.0, 20.5)))
THREE_SHIFT = ShiftPattern(
    shifts=((0.0, 8.0), (8.0, 16.0), (16.0, 24.0)), breaks=((4.0, 4.5), (12.0, 12.5), (20.0, 20.5)),
    product_changeover=(14.0, 15.0), saturday_shifts=((8.0, 16.0),),
)


def day_types(dates: pd.DatetimeIndex) -> pd.DataFrame:
    """Per calendar date: is it a working day, the day type and the holiday name (if any)."""
    import chinese_calendar as cc

    rows = []
    for d in dates:
        day = d.date()
        try:
            work = bool(cc.is_workday(day))
            hol, name = cc.get_holiday_detail(day)
            if work and day.weekday() >= 5:
                kind = "adjusted_workday"
            elif work:
                kind = "workday"
            elif name is not None:
                kind = "holiday"
            else:
                kind = "weekend"
        except NotImplementedError:
            work, name = day.weekday() < 5, None
            kind = "workday?" if work else "weekend?"
        rows.append((work, kind, name or ""))
    out = pd.DataFrame(rows, columns=["workday", "day_type", "holiday"], index=dates)
    # Spring Festival: half output on the working days within 4 days of the break.
    sf = out["holiday"].str.contains("Spring", na=False).to_numpy()
    near = np.zeros(len(out), dtype=bool)
    for i in np.flatnonzero(sf):
        near[max(0, i - 4): i + 5] = True
    out["spring_festival_ramp"] = near & out["workday"].to_numpy()
    return out


def _in_windows(hour: np.ndarray, windows) -> np.ndarray:
    m = np.zeros(hour.shape, dtype=bool)
    for a, b in windows:
        m |= (hour >= a) & (hour < b)
    return m


def order_book_factor(dates: pd.DatetimeIndex) -> np.ndarray:
    """Day-to-day production level in [0.80, 1.05]: the order book varies, so no two workdays repeat.

    Deterministic per calendar date (a hash of the date seeds it), so the open-loop generator and the
    closed-loop twin see the same days. A slow 4-week swing (+-5 %) plus a daily draw (+-7 %).
    """
    codes, uniq = pd.factorize(pd.DatetimeIndex(dates).normalize(), sort=True)
    ordinal = np.array([d.toordinal() for d in uniq])
    draws = np.array([np.random.default_rng(int(o)).uniform(-0.07, 0.07) for o in ordinal])
    swing = 0.05 * np.sin(2 * np.pi * ordinal / 28.0)
    factor = np.clip(0.95 + swing + draws, 0.80, 1.05)
    return factor[codes]


def production_schedule(interval_end: pd.DatetimeIndex, pattern: ShiftPattern, step: str = "15min") -> pd.DataFrame:
    """Per interval: production intensity (0..1), shift_on, hvac_on, workday and day type.

    ``interval_end``: naive local timestamps, interval-end labelled; the schedule is evaluated
    at the interval midpoint.
    """
    mid = interval_end - pd.Timedelta(step) / 2
    dates = mid.normalize()
    uniq = pd.DatetimeIndex(dates.unique())
    dtab = day_types(uniq).reindex(dates)
    hour = (mid.hour + mid.minute / 60.0).to_numpy()
    workday = dtab["workday"].to_numpy(dtype=bool)
    saturday_off = (~workday) & (mid.day_of_week.to_numpy() == 5) & dtab["day_type"].isin(["weekend", "weekend?"]).to_numpy()

    on_work = _in_windows(hour, pattern.shifts) & workday
    on_sat = _in_windows(hour, pattern.saturday_shifts) & saturday_off
    shift_on = on_work | on_sat
    intensity = np.where(on_work, 1.0, 0.0) + np.where(on_sat, pattern.saturday_factor, 0.0)
    starts = [a for a, _ in pattern.shifts + pattern.saturday_shifts]
    ends = {b % 24 for _, b in pattern.shifts + pattern.saturday_shifts}
    ramp_starts = [a for a in starts if a not in ends]  # a start right after an end is a handover
    changeover = _in_windows(hour, [(a, a + pattern.changeover_h) for a in starts])
    intensity = np.where(changeover & shift_on,
                         intensity * np.where(_in_windows(hour, [(a, a + pattern.changeover_h) for a in ramp_starts]),
                                              pattern.changeover_factor, 0.8), intensity)
    intensity = np.where(_in_windows(hour, pattern.breaks), intensity * pattern.break_factor, intensity)
    if pattern.product_changeover:
        intensity = np.where(_in_windows(hour, [pattern.product_changeover]),
                             intensity * pattern.product_changeover_factor, intensity)
    intensity = np.where(dtab["spring_festival_ramp"].to_numpy(dtype=bool), intensity * 0.5, intensity)
    intensity = intensity * order_book_factor(dates)

    # HVAC runs during shifts and for hvac_lead_h before the first shift of a production day.
    lead = _in_windows(hour, [(a - pattern.hvac_lead_h, a) for a in ramp_starts if a >= pattern.hvac_lead_h])
    hvac_on = shift_on | (lead & (workday | saturday_off & bool(pattern.saturday_shifts)))
    return pd.DataFrame({
        "intensity": intensity, "shift_on": shift_on, "hvac_on": hvac_on, "workday": workday,
        "day_type": dtab["day_type"].to_numpy(),
    }, index=interval_end)


def is_workday(day: dt.date) -> bool:
    """Working day per chinese_calendar (fallback: Monday-Friday)."""
    return bool(day_types(pd.DatetimeIndex([pd.Timestamp(day)]))["workday"].iloc[0])
