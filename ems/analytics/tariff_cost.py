"""Electricity cost under versioned TOU tariffs: per interval, per day or month and TOU period, per node;
the monthly demand charge and the capacity charge. Pure computation over pandas."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from ems.analytics.tariff import _EPS, PERIODS, Tariff, _classify_codes, _wall_clock
from ems.analytics.tariff_files import TariffAssignment, assigned_tariff
from ems.errors import UserError

# ---------------------------------------------------------------------------------------------- cost

def energy_cost(kwh: pd.Series, tariff: Tariff, tz: str, daily_max_temp_c: pd.Series | None = None
                ) -> pd.DataFrame:
    """Energy cost per interval under one tariff version.

    ``kwh``: energy per interval (kWh), indexed by tz-aware interval-end timestamps; ``tz``: the site's
    IANA time zone. Returns, per interval: ``local_date`` (the local day the interval belongs to),
    ``tou_period``, ``kwh``, ``price_cny_per_kwh``, ``cost_cny``, ``temperature_assumed``, ``tariff_id``,
    ``tariff_version``; ``attrs['assumptions']`` lists assumptions (missing temperatures, days outside the
    tariff's validity). Missing kWh give missing cost.
    """
    wall = _wall_clock(kwh.index, tz)  # type: ignore[arg-type]
    codes, assumed, notes = _classify_codes(wall, tariff, daily_max_temp_c)
    prices = tariff.prices_cny_per_kwh()
    price_of_code = np.array([prices.get(p, np.nan) for p in PERIODS])
    price = price_of_code[codes]
    local_date = (wall - _EPS).normalize()
    outside = sorted({d.date() for d in local_date.unique() if not tariff.in_force(d.date())})
    if outside:
        notes = notes + [f"{tariff.label} is not in force on {len(outside)} day(s) "
                         f"({outside[0].isoformat()} .. {outside[-1].isoformat()}); priced with it anyway"]
    values = kwh.to_numpy(dtype=float)
    out = pd.DataFrame({
        "local_date": local_date, "tou_period": np.array(PERIODS, dtype=object)[codes], "kwh": values,
        "price_cny_per_kwh": price, "cost_cny": values * price, "temperature_assumed": assumed,
        "tariff_id": tariff.id, "tariff_version": tariff.version,
    }, index=kwh.index)
    out.attrs["assumptions"] = notes
    return out


def site_energy_cost(kwh: pd.Series, site_code: str, assignments: Sequence[TariffAssignment],
                     tariffs: Sequence[Tariff], tz: str, daily_max_temp_c: pd.Series | None = None
                     ) -> pd.DataFrame:
    """Energy cost per interval with, for each local day, the tariff version in force for the site.

    A period spanning an assignment change or a new tariff version is split at the day boundary; the
    ``tariff_id``/``tariff_version`` columns say which one priced each interval.
    """
    wall = _wall_clock(kwh.index, tz)  # type: ignore[arg-type]
    days = (wall - _EPS).normalize()
    chosen = {d: assigned_tariff(assignments, tariffs, site_code, d.date()) for d in days.unique()}
    keys = np.array([chosen[d].label for d in days], dtype=object)
    parts, notes = [], []
    for label in dict.fromkeys(keys):
        tariff = next(t for t in chosen.values() if t.label == label)
        part = energy_cost(kwh[keys == label], tariff, tz, daily_max_temp_c)
        parts.append(part)
        notes += part.attrs.get("assumptions", [])
    if not parts:
        return energy_cost(kwh, tariffs[0], tz) if tariffs else pd.DataFrame()
    out = pd.concat(parts).sort_index()
    out.attrs["assumptions"] = notes
    return out


def _bucket(costs: pd.DataFrame, by: Literal["day", "month"]) -> pd.Series:
    if by == "day":
        return costs["local_date"].rename("day")
    if by == "month":
        return costs["local_date"].dt.to_period("M").dt.to_timestamp().rename("month")
    raise ValueError(f"by must be 'day' or 'month', not {by!r}")


def cost_summary(costs: pd.DataFrame, by: Literal["day", "month"] = "day") -> pd.DataFrame:
    """kWh, cost (CNY) and average price (CNY/kWh) per day or month, tariff version and TOU period.

    ``costs`` is the output of :func:`energy_cost` / :func:`site_energy_cost`. Costs are not rounded.
    ``missing_intervals`` counts intervals without a kWh value (counted as zero in the sums).
    """
    bucket = _bucket(costs, by)
    frame = costs.assign(**{by: bucket.to_numpy()}, missing=costs["kwh"].isna())
    g = frame.groupby([by, "tariff_id", "tariff_version", "tou_period"], sort=False)
    out = g.agg(kwh=("kwh", "sum"), cost_cny=("cost_cny", "sum"), intervals=("kwh", "size"),
                missing_intervals=("missing", "sum")).reset_index()
    out["avg_price_cny_per_kwh"] = np.where(out["kwh"] > 0, out["cost_cny"] / out["kwh"].where(out["kwh"] > 0),
                                            np.nan)
    out["_order"] = out["tou_period"].map(PERIODS.index)
    out = out.sort_values([by, "tariff_id", "tariff_version", "_order"]).drop(columns="_order")
    out = out.reset_index(drop=True)
    out.attrs["assumptions"] = list(costs.attrs.get("assumptions", []))
    return out


def cost_totals(costs: pd.DataFrame, by: Literal["day", "month"] = "day") -> pd.DataFrame:
    """kWh, cost (CNY) and average price per day or month over all periods and tariff versions."""
    bucket = _bucket(costs, by)
    g = costs.groupby(bucket.to_numpy())
    out = pd.DataFrame({"kwh": g["kwh"].sum(), "cost_cny": g["cost_cny"].sum()})
    out.index.name = by
    out["avg_price_cny_per_kwh"] = out["cost_cny"] / out["kwh"].where(out["kwh"] > 0)
    out = out.reset_index()
    out.attrs["assumptions"] = list(costs.attrs.get("assumptions", []))
    return out


def node_costs(kwh_by_node: pd.DataFrame, tariff: Tariff, tz: str, by: Literal["day", "month"] = "day",
               daily_max_temp_c: pd.Series | None = None) -> pd.DataFrame:
    """:func:`cost_summary` for each column (a node or cost-centre code) of ``kwh_by_node``."""
    parts, notes = [], []
    for node in kwh_by_node.columns:
        s = cost_summary(energy_cost(kwh_by_node[node], tariff, tz, daily_max_temp_c), by)
        parts.append(s.assign(node=node))
        notes = s.attrs["assumptions"]
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    out.attrs["assumptions"] = notes
    return out


# ----------------------------------------------------------------------------------- demand charge

def demand_charge(power_kw_15min: pd.Series, tariff: Tariff, tz: str) -> pd.DataFrame:
    """Monthly demand charge: the month's highest window-average power (kW) x CNY/kW/month.

    ``power_kw_15min``: average active power per interval (kW), indexed by tz-aware interval ends. Data
    finer than the tariff's window (15 min) is averaged into windows ending on the quarter hour; coarser
    data is refused. Returns per local month: ``max_demand_kw``, ``max_demand_at`` (interval end, local),
    ``price_cny_per_kw_month``, ``charge_cny``, ``intervals``, ``assumed`` (price assumed, not published).
    """
    dc = tariff.demand_charge
    if dc is None:
        raise UserError(f"tariff {tariff.label} has no demand charge")
    s = power_kw_15min.dropna().sort_index()
    _wall_clock(s.index, tz)  # type: ignore[arg-type]
    s.index = s.index.tz_convert(tz)  # type: ignore[attr-defined]
    window = pd.Timedelta(minutes=dc.window_min)
    if len(s) > 1:
        step = pd.Series(s.index).diff().median()
        if step > window:
            raise UserError(f"demand charge needs power at {dc.window_min}-min resolution or finer, "
                            f"got {step}")
        if step < window:
            s = s.resample(window, closed="right", label="right").mean().dropna()
    month = (s.index - _EPS).tz_localize(None).to_period("M").to_timestamp()
    rows = []
    for m, grp in s.groupby(month):
        at = grp.idxmax()
        rows.append({"month": m, "max_demand_kw": float(grp.max()), "max_demand_at": at,
                     "price_cny_per_kw_month": dc.price_cny_per_kw_month,
                     "charge_cny": float(grp.max()) * dc.price_cny_per_kw_month,
                     "intervals": len(grp), "assumed": dc.assumed})
    return pd.DataFrame(rows, columns=["month", "max_demand_kw", "max_demand_at", "price_cny_per_kw_month",
                                       "charge_cny", "intervals", "assumed"])


def capacity_charge_cny(capacity_kva: float, tariff: Tariff, months: int = 1) -> float:
    """Capacity charge for ``months`` whole months: kVA x CNY/kVA/month."""
    cc = tariff.capacity_charge
    if cc is None:
        raise UserError(f"tariff {tariff.label} has no capacity charge")
    return capacity_kva * cc.price_cny_per_kva_month * months
