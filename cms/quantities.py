"""Unit scale factors as exact Decimals, through the product's pint registry (ems.units).

Factor units are written ``<numerator>/<denominator>``: ``t/MWh``, ``kg/TJ``, ``GJ/(10000*Nm3)``,
``kg/(1e6*Btu)``. pint gives the float scale; it is tidied to 15 significant digits and taken as a
Decimal, which is exact for the powers of ten and the defined constants involved (3.6, 0.45359237 ...).
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import lru_cache

import pint

from ems.units import ureg

_SIMPLE = {"m3": "m**3", "m³": "m**3", "nm3": "Nm3", "nm³": "Nm3", "t": "tonne", "kwh": "kWh", "mwh": "MWh",
           "gwh": "GWh", "gj": "GJ", "tj": "TJ", "kg": "kg", "g": "g", "lb": "lb", "gal": "gallon", "mmbtu": "(1e6*Btu)",
           "1": "dimensionless", "": "dimensionless", "tc": "tonne", "万nm3": "(10000*Nm3)", "万kwh": "(10000*kWh)"}
_TOKEN = re.compile(r"[A-Za-z³万_][A-Za-z0-9³万_]*")


def _normalise(expr: str) -> str:
    def repl(m: re.Match) -> str:
        word = m.group(0)
        return _SIMPLE.get(word.lower(), word)
    return _TOKEN.sub(repl, expr.strip())


@lru_cache(maxsize=1024)
def quantity(unit: str) -> pint.Quantity:
    """The pint quantity of ``1 unit`` (ValueError naming the unit when unknown)."""
    text = _normalise(unit)
    try:
        q = ureg.parse_expression(text) if text not in ("dimensionless",) else ureg.Quantity(1, "dimensionless")
    except (pint.errors.UndefinedUnitError, pint.errors.DefinitionSyntaxError, AttributeError, TypeError,
            ValueError, SyntaxError) as exc:
        raise ValueError(f"unknown unit '{unit}'") from exc
    if not isinstance(q, pint.Quantity):
        q = ureg.Quantity(q, "dimensionless")
    return q


@lru_cache(maxsize=1024)
def scale(from_unit: str, to_unit: str) -> Decimal:
    """Exact-ish Decimal s such that ``x [from_unit] = x * s [to_unit]``. ValueError if incompatible."""
    a, b = quantity(from_unit), quantity(to_unit)
    try:
        ratio = (a / b).to("dimensionless").magnitude
    except pint.errors.DimensionalityError as exc:
        raise ValueError(f"cannot convert '{from_unit}' to '{to_unit}': different dimensions") from exc
    return Decimal(f"{float(ratio):.15g}")


def compatible(from_unit: str, to_unit: str) -> bool:
    try:
        scale(from_unit, to_unit)
    except ValueError:
        return False
    return True


def split_rate(unit: str) -> tuple[str, str]:
    """'t/MWh' -> ('t', 'MWh'); 'GJ/(10000*Nm3)' -> ('GJ', '(10000*Nm3)')."""
    num, sep, den = unit.partition("/")
    if not sep or not num.strip() or not den.strip():
        raise ValueError(f"a rate unit looks like 'kg/TJ', got '{unit}'")
    return num.strip(), den.strip()
