"""Calendar features: time of day, day of week, working days and public holidays.

With ``calendar='CN'`` working days and holidays come from the maintained ``chinese-calendar``
package (State Council notices, including adjusted working days, 调休). Outside the years that
package covers, and with ``calendar=None``, Monday to Friday are working days and there are no
holidays.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import numpy as np
import pandas as pd

from ems.errors import UserError

CALENDARS = ("CN", None)


@lru_cache(maxsize=4096)
def _cn_day(day: dt.date) -> tuple[bool, bool]:
    """(is_workday, is_holiday) for one date under the Chinese calendar."""
    import chinese_calendar

    try:
        return bool(chinese_calendar.is_workday(day)), bool(chinese_calendar.is_holiday(day))
    except NotImplementedError:  # year not covered by the installed package
        weekday = day.weekday() < 5
        return weekday, not weekday


def day_flags(dates: pd.DatetimeIndex, calendar: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Per timestamp: is_workday, is_public_holiday (a holiday falling on a weekday or an official
    holiday period day), both as 0/1 floats."""
    if calendar not in CALENDARS:
        raise UserError(f"unknown calendar '{calendar}'; known: CN or none")
    days = dates.normalize()
    uniq = pd.unique(days)
    weekday = np.array([pd.Timestamp(d).weekday() < 5 for d in uniq])
    if calendar == "CN":
        pairs = [_cn_day(pd.Timestamp(d).date()) for d in uniq]
        work = np.array([p[0] for p in pairs])
        holiday = np.array([p[1] for p in pairs]) & weekday  # weekend days are not special holidays
    else:
        work, holiday = weekday, np.zeros(len(uniq), bool)
    pos = pd.Index(uniq).get_indexer(days)
    return work[pos].astype(float), holiday[pos].astype(float)


def calendar_features(index: pd.DatetimeIndex, tz: str, calendar: str | None) -> pd.DataFrame:
    """Calendar columns for each timestamp, in the site's local time zone ``tz``.

    hour (local, fractional), sin/cos of the day, day of week (0 = Monday), is_workday, is_holiday.
    """
    local = index.tz_convert(tz) if index.tz is not None else index.tz_localize(tz)
    hour = local.hour + local.minute / 60.0
    work, holiday = day_flags(local, calendar)
    angle = 2 * np.pi * hour / 24.0
    return pd.DataFrame({
        "hour": np.asarray(hour, float),
        "day_sin": np.sin(angle), "day_cos": np.cos(angle),
        "dow": np.asarray(local.day_of_week, float),
        "is_workday": work, "is_holiday": holiday,
    }, index=index)
