"""Electricity tariffs as versioned data; time-of-use (TOU) classification, energy cost and demand charge.

A tariff is a YAML file (see ``ems/data/tariffs/``) validated into :class:`Tariff`:

* seasons (month sets), each with daily time bands ``[start, end)`` in local time labelled ``sharp``,
  ``peak``, ``flat``, ``valley`` or ``deep_valley``; optionally other bands on rest days (weekends and
  Chinese public holidays with adjusted working days, 调休, via ``chinese_calendar``);
* the energy price, either in the published "base price x multiple" form of the Chinese TOU notices
  (e.g. Guangdong 2021: peak:flat:valley = 1.7:1:0.38, sharp = peak x 1.25) or as absolute prices;
  :meth:`Tariff.price_table` shows both forms side by side so every computed price is traceable;
* an optional sharp-peak (尖峰) rule: hours plus triggers (whole months, or a daily maximum
  temperature threshold in given months); when a needed temperature is missing the assumption made is
  stated in the result (``attrs['assumptions']`` and the ``temperature_assumed`` column);
* optional demand (CNY per kW per month on the monthly maximum 15-min average power) and capacity
  (CNY per kVA per month) charges of the two-part large-industry tariff (基本电费).

Timestamps are interval ENDS. An interval ending exactly at a band boundary (e.g. 08:00) belongs to the
band before the boundary, and an interval ending at 00:00 belongs to the previous day (its month, day
type and temperature). An interval that straddles a boundary (e.g. hourly data with half-hour bands)
takes the band in which it ends. Versions: a tariff id may have several versions, each in force from
``valid_from`` to ``valid_to`` (inclusive); :func:`site_energy_cost` prices each day with the version
in force for the site on that day, so a period spanning a change is split.

Pure computation over pandas; no database access.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ems.errors import UserError

Period = Literal["sharp", "peak", "flat", "valley", "deep_valley"]
PERIODS: tuple[str, ...] = ("sharp", "peak", "flat", "valley", "deep_valley")
_CODE_OF = {p: i for i, p in enumerate(PERIODS)}
_MIN_PER_DAY = 1440
_EPS = pd.Timedelta(microseconds=1)   # interval end -> a moment inside the interval
_HHMM = re.compile(r"^(\d{1,2}):(\d{2})$")


def _fmt(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Names(_Model):
    zh: str | None = None
    en: str | None = None


class Source(_Model):
    """Where the published figures come from."""

    document: str
    publisher: str | None = None
    publication: str | None = None
    url: str | None = None
    notes: str | None = None


class TimeSpan(_Model):
    """A daily span ``[start, end)`` in local time, 'HH:MM' strings; ``end`` may be '24:00'."""

    start: str
    end: str

    @field_validator("start", "end", mode="before")
    @classmethod
    def _hhmm(cls, v: Any) -> str:
        if not isinstance(v, str):
            raise ValueError(f"time must be a quoted 'HH:MM' string, got {v!r} "
                             "(unquoted 10:00 is read by YAML as a number)")
        m = _HHMM.match(v.strip())
        if not m or int(m.group(2)) > 59 or int(m.group(1)) * 60 + int(m.group(2)) > _MIN_PER_DAY:
            raise ValueError(f"'{v}' is not a time between 00:00 and 24:00")
        return f"{int(m.group(1)):02d}:{m.group(2)}"

    @property
    def start_min(self) -> int:
        h, m = self.start.split(":")
        return int(h) * 60 + int(m)

    @property
    def end_min(self) -> int:
        h, m = self.end.split(":")
        return int(h) * 60 + int(m)

    @model_validator(mode="after")
    def _order(self) -> TimeSpan:
        if self.start_min >= self.end_min:
            raise ValueError(f"@end: end {self.end} is not after start {self.start}")
        return self


class Band(TimeSpan):
    period: Period


def _months(v: list[int]) -> list[int]:
    bad = [m for m in v if not 1 <= m <= 12]
    if bad:
        raise ValueError(f"months must be 1..12, got {bad}")
    if len(set(v)) != len(v):
        raise ValueError("a month is listed twice")
    return v


def _check_cover(bands: list[Band], key: str) -> None:
    """Bands must cover 00:00-24:00 exactly once (no overlap, no gap)."""
    if not bands:
        raise ValueError(f"@{key}: no bands; they must cover 00:00-24:00")
    order = sorted(range(len(bands)), key=lambda j: bands[j].start_min)
    cursor = 0
    for j in order:
        b = bands[j]
        if b.start_min < cursor:
            raise ValueError(f"@{key}.{j}: band {b.start}-{b.end} overlaps another band ending {_fmt(cursor)}")
        if b.start_min > cursor:
            raise ValueError(f"@{key}.{j}: gap {_fmt(cursor)}-{b.start} is in no band; "
                             "the bands must cover 00:00-24:00")
        cursor = b.end_min
    if cursor != _MIN_PER_DAY:
        raise ValueError(f"@{key}.{order[-1]}: bands stop at {_fmt(cursor)}; they must cover 00:00-24:00")


class Season(_Model):
    """Months sharing one daily band schedule; ``non_workday_bands`` (optional) apply on rest days."""

    name: str
    months: list[int]
    bands: list[Band]
    non_workday_bands: list[Band] | None = None

    @field_validator("months")
    @classmethod
    def _months_ok(cls, v: list[int]) -> list[int]:
        return _months(v)

    @model_validator(mode="after")
    def _cover(self) -> Season:
        _check_cover(self.bands, "bands")
        if self.non_workday_bands is not None:
            _check_cover(self.non_workday_bands, "non_workday_bands")
        return self


class RelativeMultiple(_Model):
    """A multiple published relative to another period, e.g. sharp = peak x 1.25."""

    of: Period
    factor: float = Field(gt=0)


class MultiplesPricing(_Model):
    """Published form of the Chinese TOU notices: price(period) = base price x multiple(period)."""

    form: Literal["multiples"]
    base_period: Period = "flat"
    base_price_cny_per_kwh: float = Field(gt=0)
    base_price_assumed: bool = False
    base_price_note: str | None = None
    multiples: dict[Period, float | RelativeMultiple]

    @model_validator(mode="after")
    def _refs(self) -> MultiplesPricing:
        base = self.multiples.get(self.base_period)
        if base != 1.0:
            raise ValueError(f"@multiples: the base period '{self.base_period}' must have multiple 1.0")
        for p, m in self.multiples.items():
            if isinstance(m, RelativeMultiple) and not isinstance(self.multiples.get(m.of), float | int):
                raise ValueError(f"@multiples.{p}: '{p}' is relative to '{m.of}', which needs a plain multiple")
            if isinstance(m, float | int) and m <= 0:
                raise ValueError(f"@multiples.{p}: multiple must be positive")
        return self

    def multiple_of(self, period: str) -> float:
        m = self.multiples[period]  # type: ignore[index]
        return float(m) if not isinstance(m, RelativeMultiple) else float(self.multiples[m.of]) * m.factor

    def published(self, period: str) -> str:
        m = self.multiples[period]  # type: ignore[index]
        if isinstance(m, RelativeMultiple):
            return f"{m.factor:g} x {m.of}"
        return f"{float(m):g} x {self.base_period}"


class PricesPricing(_Model):
    """Absolute energy prices per period (CNY/kWh)."""

    form: Literal["prices"]
    prices_cny_per_kwh: dict[Period, Annotated[float, Field(ge=0)]]
    assumed: bool = False
    note: str | None = None


EnergyPrice = Annotated[MultiplesPricing | PricesPricing, Field(discriminator="form")]


class SharpTrigger(_Model):
    """Days on which the sharp-peak hours apply: in ``months``, and (if set) when the day's maximum
    temperature is at least ``daily_max_temp_c_at_least``."""

    name: str | None = None
    months: list[int]
    daily_max_temp_c_at_least: float | None = None
    temperature_basis: str | None = None

    @field_validator("months")
    @classmethod
    def _months_ok(cls, v: list[int]) -> list[int]:
        return _months(v)


class SharpPeak(_Model):
    bands: list[TimeSpan] = Field(min_length=1)
    triggers: list[SharpTrigger] = Field(min_length=1)
    when_temperature_unknown: Literal["not_hot", "hot"] = "not_hot"

    @model_validator(mode="after")
    def _overlap(self) -> SharpPeak:
        spans = sorted(range(len(self.bands)), key=lambda j: self.bands[j].start_min)
        for a, b in zip(spans, spans[1:]):
            if self.bands[b].start_min < self.bands[a].end_min:
                raise ValueError(f"@bands.{b}: sharp-peak band overlaps another one")
        return self


class DemandCharge(_Model):
    """Demand charge (基本电费 on maximum demand): CNY per kW per month on the month's highest
    ``window_min`` average active power."""

    price_cny_per_kw_month: float = Field(ge=0)
    window_min: int = Field(default=15, gt=0)
    assumed: bool = False
    note: str | None = None


class CapacityCharge(_Model):
    """Capacity charge (基本电费 on transformer capacity): CNY per kVA per month."""

    price_cny_per_kva_month: float = Field(ge=0)
    assumed: bool = False
    note: str | None = None


class Tariff(_Model):
    """One version of a tariff, as loaded from its YAML file. ``valid_to`` is the last day in force."""

    id: str
    version: str
    name: Names
    region: str
    currency: Literal["CNY"] = "CNY"
    timezone: str | None = None
    valid_from: dt.date
    valid_to: dt.date | None = None
    firmness: Literal["S", "R"]
    source: Source
    calendar: Literal["cn_statutory", "weekends"] = "cn_statutory"
    seasons: list[Season] = Field(min_length=1)
    energy_price: EnergyPrice
    sharp_peak: SharpPeak | None = None
    demand_charge: DemandCharge | None = None
    capacity_charge: CapacityCharge | None = None

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int | float) else v

    @field_validator("firmness", mode="before")
    @classmethod
    def _firmness(cls, v: Any) -> Any:
        return v.strip("[] ") if isinstance(v, str) else v

    @model_validator(mode="after")
    def _consistent(self) -> Tariff:
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError("@valid_to: valid_to is before valid_from")
        owner: dict[int, str] = {}
        for i, s in enumerate(self.seasons):
            for m in s.months:
                if m in owner:
                    raise ValueError(f"@seasons.{i}.months: month {m} is already in season '{owner[m]}'")
                owner[m] = s.name
        missing = sorted(set(range(1, 13)) - owner.keys())
        if missing:
            raise ValueError(f"@seasons: months {missing} are in no season")
        used = {b.period for s in self.seasons for b in s.bands + (s.non_workday_bands or [])}
        if self.sharp_peak is not None:
            used.add("sharp")
        ep = self.energy_price
        priced = set(ep.multiples if isinstance(ep, MultiplesPricing) else ep.prices_cny_per_kwh)
        lacking = sorted(used - priced, key=PERIODS.index)
        if lacking:
            key = "multiples" if isinstance(ep, MultiplesPricing) else "prices_cny_per_kwh"
            raise ValueError(f"@energy_price.{key}: no price for period(s) {lacking}, which the schedule uses")
        return self

    @property
    def label(self) -> str:
        return f"{self.id} v{self.version}"

    def in_force(self, day: dt.date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)

    def prices_cny_per_kwh(self) -> dict[str, float]:
        """Energy price of each priced period, CNY/kWh (computed from the published form)."""
        ep = self.energy_price
        if isinstance(ep, PricesPricing):
            return {p: float(v) for p, v in ep.prices_cny_per_kwh.items()}
        return {p: ep.base_price_cny_per_kwh * ep.multiple_of(p) for p in ep.multiples}

    def price_table(self) -> pd.DataFrame:
        """Published form and computed price per period, for tracing a price back to the notice."""
        ep, prices = self.energy_price, self.prices_cny_per_kwh()
        rows = []
        for p in sorted(prices, key=PERIODS.index):
            if isinstance(ep, MultiplesPricing):
                rows.append({"tou_period": p, "published": ep.published(p),
                             "multiple_of_base": ep.multiple_of(p),
                             "base": f"{ep.base_price_cny_per_kwh:g} CNY/kWh ({ep.base_period})",
                             "price_cny_per_kwh": prices[p], "assumed": ep.base_price_assumed})
            else:
                rows.append({"tou_period": p, "published": f"{prices[p]:g} CNY/kWh",
                             "multiple_of_base": np.nan, "base": "", "price_cny_per_kwh": prices[p],
                             "assumed": ep.assumed})
        return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------ classification

def _wall_clock(ts: pd.DatetimeIndex, tz: str | None = None) -> pd.DatetimeIndex:
    if not isinstance(ts, pd.DatetimeIndex):
        raise UserError("timestamps must be a DatetimeIndex of interval ends")
    if ts.tz is None:
        if tz is not None:
            raise UserError("timestamps must be time-zone aware (interval ends, e.g. UTC)")
        return ts
    return (ts.tz_convert(tz) if tz else ts).tz_localize(None)


def _band_codes(bands: Sequence[TimeSpan], code: int | None = None) -> np.ndarray:
    """Per minute of the day: the band's period code (or ``code``), -1 where no band."""
    out = np.full(_MIN_PER_DAY, -1, dtype=np.int8)
    for b in bands:
        out[b.start_min:b.end_min] = _CODE_OF[b.period] if code is None else code  # type: ignore[attr-defined]
    return out


def _temps_by_day(daily_max_temp_c: pd.Series | None) -> dict[dt.date, float]:
    if daily_max_temp_c is None:
        return {}
    s = daily_max_temp_c.dropna()
    idx = pd.DatetimeIndex(pd.to_datetime(s.index))
    if idx.tz is not None:
        idx = idx.tz_localize(None)
    return {d.date(): float(v) for d, v in zip(idx, s.to_numpy())}


def _is_workday(days: Sequence[dt.date], calendar: str) -> dict[dt.date, bool]:
    if calendar == "weekends":
        return {d: d.weekday() < 5 for d in days}
    import chinese_calendar

    out = {}
    for d in days:
        try:
            out[d] = bool(chinese_calendar.is_workday(d))
        except NotImplementedError as exc:
            raise UserError(f"the Chinese holiday calendar does not cover {d.year}; "
                            "update chinese_calendar or use calendar: weekends") from exc
    return out


def _classify_codes(wall: pd.DatetimeIndex, tariff: Tariff, daily_max_temp_c: pd.Series | None
                    ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Period codes, 'temperature assumed' flags and assumption notes for interval ends ``wall``."""
    inside = wall - _EPS
    minute = (inside.hour * 60 + inside.minute).to_numpy()
    day_ts = inside.normalize()
    days_unique = pd.DatetimeIndex(day_ts.unique())
    day_pos = days_unique.get_indexer(day_ts)
    days = [d.date() for d in days_unique]
    months = np.array([d.month for d in days])
    codes = np.full(len(wall), -1, dtype=np.int8)
    need_cal = any(s.non_workday_bands is not None for s in tariff.seasons)
    work = _is_workday(days, tariff.calendar) if need_cal else {}
    for s in tariff.seasons:
        in_season_day = np.isin(months, s.months)
        if s.non_workday_bands is not None:
            rest_day = in_season_day & ~np.array([work[d] for d in days], dtype=bool)
            work_day = in_season_day & ~rest_day
            codes = np.where(rest_day[day_pos], _band_codes(s.non_workday_bands)[minute], codes)
        else:
            work_day = in_season_day
        codes = np.where(work_day[day_pos], _band_codes(s.bands)[minute], codes)
    assumed = np.zeros(len(wall), dtype=bool)
    notes: list[str] = []
    sp = tariff.sharp_peak
    if sp is None or len(wall) == 0:
        return codes, assumed, notes
    temps = _temps_by_day(daily_max_temp_c)
    sharp_day = np.zeros(len(days), dtype=bool)
    unknown_day = np.zeros(len(days), dtype=bool)
    unknown_by_trigger: dict[str, list[dt.date]] = {}
    for k, d in enumerate(days):
        hit, unknown = False, []
        for trig in sp.triggers:
            if d.month not in trig.months:
                continue
            if trig.daily_max_temp_c_at_least is None:
                hit = True
            elif d in temps:
                hit = hit or temps[d] >= trig.daily_max_temp_c_at_least
            else:
                unknown.append(trig)
        if not hit and unknown:
            unknown_day[k] = True
            hit = sp.when_temperature_unknown == "hot"
            for trig in unknown:
                unknown_by_trigger.setdefault(
                    f"'{trig.name or 'temperature'}' (>= {trig.daily_max_temp_c_at_least:g} C)", []).append(d)
        sharp_day[k] = hit
    in_band = _band_codes(sp.bands, code=1)[minute] == 1
    codes = np.where(sharp_day[day_pos] & in_band, np.int8(_CODE_OF["sharp"]), codes)
    assumed = unknown_day[day_pos] & in_band
    outcome = ("assumed NOT hot: the sharp peak was not applied" if sp.when_temperature_unknown == "not_hot"
               else "assumed hot: the sharp peak was applied")
    for trig_text, ds in unknown_by_trigger.items():
        shown = ", ".join(x.isoformat() for x in ds[:5]) + (f" ... ({len(ds)} days)" if len(ds) > 5 else "")
        notes.append(f"{tariff.label}: sharp-peak trigger {trig_text} needs the daily maximum temperature, "
                     f"not given for {shown}; {outcome} on those days")
    return codes, assumed, notes


def classify(ts_local: pd.DatetimeIndex, tariff: Tariff, daily_max_temp_c: pd.Series | None = None
             ) -> pd.Series:
    """TOU period ('sharp', 'peak', 'flat', 'valley', 'deep_valley') of each interval.

    ``ts_local`` are interval ends in local time (naive wall clock, or tz-aware: its wall clock is used).
    ``daily_max_temp_c`` is indexed by local date; it drives temperature-triggered sharp peaks. Notes on
    any assumption made for missing temperatures are in ``result.attrs['assumptions']``.
    """
    codes, _, notes = _classify_codes(_wall_clock(ts_local), tariff, daily_max_temp_c)
    out = pd.Series(np.array(PERIODS, dtype=object)[codes], index=ts_local, name="tou_period")
    out.attrs["assumptions"] = notes
    return out
