"""Activity data: the datum record and the catalogue of activity codes (scope, category, method).

An activity code is ``name`` or ``name:GAS`` for gas-specific activities, e.g. ``natural_gas``,
``electricity_grid``, ``refrigerant_topup:R-410A``, ``fire_suppression:CO2``, ``process:CO2``.
Periods are local dates, end exclusive.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from decimal import Decimal

from cms.numbers import div, mul

FUELS = ("natural_gas", "diesel", "gasoline", "lpg", "coal_bituminous", "coal_anthracite", "coal_sub_bituminous",
         "coal_coking", "lignite", "coke", "fuel_oil")
MOBILE = {"diesel_mobile": "diesel", "gasoline_mobile": "gasoline"}
MASS_BALANCE_SIGN = {   # GHG Protocol mass balance: (start - end) + (purchased - sold) + (retired - new)
    "refrigerant_stock_start": 1, "refrigerant_stock_end": -1, "refrigerant_purchased": 1,
    "refrigerant_sold": -1, "refrigerant_capacity_retired": 1, "refrigerant_capacity_new": -1,
}
DIRECT_RELEASE = {   # measured or logged mass of a gas released to the air
    "refrigerant_topup": ("fugitive_refrigerant", "top-up method: refrigerant added = refrigerant leaked"),
    "fugitive_release": ("fugitive_refrigerant", "measured release"),
    "fire_suppression": ("fire_suppression", "discharged mass of suppressant"),
    "process": ("process", "measured or calculated process emission mass"),
}
SCOPE2 = {
    "electricity_grid": ("purchased_electricity", "MWh"),
    "heat_purchased": ("purchased_heat", "GJ"),
    "steam_purchased": ("purchased_steam", "t"),
    "cooling_purchased": ("purchased_cooling", "GJ"),
}


@dataclass(frozen=True)
class ActivityDatum:
    node: str                 # node code
    period_start: dt.date
    period_end: dt.date       # exclusive
    activity: str
    quantity: Decimal
    unit: str
    evidence: str = ""
    source: str = "manual"    # rollup | manual | csv
    entered_by: str = ""
    datum_id: int | None = None
    batch: str | None = None

    @property
    def base(self) -> str:
        return self.activity.split(":", 1)[0]

    @property
    def gas(self) -> str | None:
        return self.activity.split(":", 1)[1] if ":" in self.activity else None

    def clipped(self, start: dt.date, end: dt.date) -> ActivityDatum | None:
        """The part inside [start, end), quantity prorated by days; None when outside."""
        lo, hi = max(self.period_start, start), min(self.period_end, end)
        if lo >= hi:
            return None
        if lo == self.period_start and hi == self.period_end:
            return self
        days = (self.period_end - self.period_start).days
        q = mul(self.quantity, div(Decimal((hi - lo).days), Decimal(days)))
        return replace(self, period_start=lo, period_end=hi, quantity=q)


@dataclass(frozen=True)
class ActivityType:
    scope: int
    category: str
    method: str          # combustion | mass_balance | release | scope2
    fuel: str | None = None


def classify(activity: str) -> ActivityType:
    """The catalogue entry of an activity code; ValueError with the known codes when unknown."""
    base, _, gas = activity.partition(":")
    if base in FUELS and not gas:
        return ActivityType(1, "stationary_combustion", "combustion", base)
    if base in MOBILE and not gas:
        return ActivityType(1, "mobile_combustion", "combustion", base)
    if base in MASS_BALANCE_SIGN:
        if not gas:
            raise ValueError(f"'{base}' needs a gas, e.g. '{base}:R-410A'")
        return ActivityType(1, "fugitive_sf6" if gas.upper() == "SF6" else "fugitive_refrigerant", "mass_balance")
    if base in DIRECT_RELEASE:
        if not gas:
            raise ValueError(f"'{base}' needs a gas, e.g. '{base}:R-410A'")
        category = DIRECT_RELEASE[base][0]
        if category == "fugitive_refrigerant" and gas.upper() == "SF6":
            category = "fugitive_sf6"
        return ActivityType(1, category, "release")
    if base == "sf6_leak" and not gas:
        return ActivityType(1, "fugitive_sf6", "release")
    if base in SCOPE2 and not gas:
        return ActivityType(2, SCOPE2[base][0], "scope2")
    raise ValueError(f"unknown activity '{activity}'; known: {', '.join(known_activities())}")


def known_activities() -> list[str]:
    return [*FUELS, *MOBILE, *SCOPE2, "sf6_leak", *(f"{b}:GAS" for b in DIRECT_RELEASE),
            *(f"{b}:GAS" for b in MASS_BALANCE_SIGN)]
