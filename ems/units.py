"""Units: one pint registry for the product, canonical units per quantity, and conversion.

Values are stored in each point's canonical unit. Incoming values in another unit of the same
dimension are converted with pint (never a hand-written table). Chinese field units such as
"万kWh", "Nm3" and "tce" are defined here once.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pint

ureg = pint.UnitRegistry(autoconvert_offset_to_baseunit=True)
# Field spellings seen in Chinese historian exports and energy statistics.
ureg.define("normal_cubic_meter = meter ** 3 = Nm3 = Nm³")
ureg.define("ten_thousand_kWh = 10000 * kilowatt_hour = 万kWh = 万度")
ureg.define("du = kilowatt_hour = 度")
ureg.define("@alias refrigeration_ton = RT")  # pint: 12,000 Btu/h; without this 'RT' parses as ronnatesla
ureg.define("percent_rh = 1 * percent")
# Tonne of standard coal equivalent: 29.3076 GJ (GB/T 2589-2020, 7000 kcal/kg x 4.1868 kJ/kcal).
ureg.define("tce = 29.3076 * gigajoule")
ureg.define("@alias count = pcs = 台 = 件")

_ALIASES = {
    "kwh": "kWh", "mwh": "MWh", "gwh": "GWh", "kw": "kW", "mw": "MW", "m3": "m**3", "m³": "m**3",
    "nm3": "Nm3", "nm³": "Nm3", "m3/h": "m**3/h", "m³/h": "m**3/h", "m3/min": "m**3/min", "nm3/min": "Nm3/min",
    "°c": "degC", "℃": "degC", "degc": "degC", "c": "degC", "%": "percent", "%rh": "percent_rh", "rh%": "percent_rh",
    "mpa": "MPa", "kpa": "kPa", "bar": "bar", "t": "tonne", "t/h": "tonne/hour", "gj": "GJ", "kvarh": "kvar*h",
    "kvar": "kvar", "hz": "Hz", "a": "A", "v": "V", "-": "dimensionless", "": "dimensionless",
}


def _normalise_spelling(unit: str) -> str:
    text = unit.strip()
    return _ALIASES.get(text.lower(), text)


@lru_cache(maxsize=512)
def parse_unit(unit: str) -> pint.Unit:
    """Parse a unit string (field spellings allowed). Raises ValueError naming the unit."""
    try:
        return ureg.Unit(_normalise_spelling(unit))
    except (pint.errors.UndefinedUnitError, AttributeError, TypeError, ValueError, AssertionError) as exc:
        raise ValueError(f"unknown unit '{unit}'") from exc


def canonical_spelling(unit: str) -> str:
    """The spelling stored in the database for a unit: as written, trimmed, after checking pint knows it."""
    parse_unit(unit)
    return unit.strip()


@lru_cache(maxsize=1024)
def conversion(from_unit: str, to_unit: str) -> tuple[float, float]:
    """(scale, offset) so that ``value_to = value_from * scale + offset``. Raises ValueError if incompatible."""
    src, dst = parse_unit(from_unit), parse_unit(to_unit)
    if src == dst:
        return 1.0, 0.0
    try:
        zero = ureg.Quantity(0.0, src).to(dst).magnitude
        one = ureg.Quantity(1.0, src).to(dst).magnitude
    except pint.errors.DimensionalityError as exc:
        raise ValueError(f"cannot convert '{from_unit}' to '{to_unit}': different dimensions") from exc
    return _tidy(one - zero), _tidy(zero)


def _tidy(x: float) -> float:
    """Drop binary noise from a conversion factor (0.09999999999999999 -> 0.1)."""
    return float(f"{float(x):.15g}")


def convert_array(values: np.ndarray, from_unit: str, to_unit: str) -> np.ndarray:
    """Convert a numpy array between units (vectorised: one scale and offset)."""
    scale, offset = conversion(from_unit, to_unit)
    if scale == 1.0 and offset == 0.0:
        return values
    return values * scale + offset


def same_dimension(a: str, b: str) -> bool:
    return parse_unit(a).dimensionality == parse_unit(b).dimensionality
