"""Prices per 15-min interval and realised electricity cost, from the analytics tariff engine."""

from __future__ import annotations

import numpy as np
import pandas as pd

TZ = "Asia/Shanghai"


def tariff(tariff_id: str):
    from ems.analytics.tariff_files import builtin_tariffs
    from ems.errors import UserError

    for t in builtin_tariffs():
        if t.id == tariff_id:
            return t
    raise UserError(f"unknown tariff '{tariff_id}'")


def _aware(index: pd.DatetimeIndex) -> pd.DatetimeIndex:
    return index.tz_localize(TZ) if index.tz is None else index


def prices(index: pd.DatetimeIndex, tariff_id: str) -> np.ndarray:
    """Energy price [CNY/kWh] of each interval (index = naive local interval ends)."""
    from ems.analytics.tariff_cost import energy_cost

    out = energy_cost(pd.Series(1.0, index=_aware(index)), tariff(tariff_id), TZ)
    return out["price_cny_per_kwh"].to_numpy(float)


def demand_price(tariff_id: str) -> float:
    dc = tariff(tariff_id).demand_charge
    return float(dc.price_cny_per_kw_month) if dc is not None else 0.0


def cost_cny(grid_kw: pd.Series, tariff_id: str, demand: bool = True) -> dict[str, float]:
    """Energy cost + monthly demand charge of a grid-import power series (15-min averages)."""
    from ems.analytics.tariff_cost import demand_charge, energy_cost

    s = pd.Series(np.asarray(grid_kw, float), index=_aware(pd.DatetimeIndex(grid_kw.index)))
    energy = float(energy_cost(s * 0.25, tariff(tariff_id), TZ)["cost_cny"].sum())
    dem = float(demand_charge(s, tariff(tariff_id), TZ)["charge_cny"].sum()) if demand else 0.0
    return {"energy_cny": energy, "demand_cny": dem, "total_cny": energy + dem}
