"""Exact numbers for carbon accounting, and THE rounding rule.

Rounding rule (stated once, used everywhere): all arithmetic is in ``decimal.Decimal`` with 34
significant digits; factor values are kept exactly as published (strings in the factor files). Each
ledger line's gas mass and CO2e are quantized to 1 g (0.001 kg) with ROUND_HALF_UP. Every total is the
exact sum of its (quantized) lines, so totals always equal the sum of lines. Tonnes are kg / 1000
(exact, 6 decimals) and are rounded half-up to 3 decimals (1 kg) only at presentation.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation, localcontext

CTX = Context(prec=34, rounding=ROUND_HALF_UP)
LINE_QUANTUM_KG = Decimal("0.001")
DISPLAY_QUANTUM_T = Decimal("0.001")
ZERO = Decimal(0)

RULE_TEXT = ("Decimal arithmetic (34 digits); line gas mass and CO2e quantized to 0.001 kg half-up; totals are "
             "exact sums of lines; tCO2e shown rounded half-up to 0.001 t")


def dec(value: object, where: str = "value") -> Decimal:
    """A Decimal from a string, int or Decimal (floats go through their shortest repr). ValueError if not a number."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise ValueError(f"{where}: not a number: {value!r}")
    text = repr(value) if isinstance(value, float) else str(value).strip().replace(",", "")
    try:
        out = Decimal(text)
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(f"{where}: not a number: {value!r}") from exc
    if not out.is_finite():
        raise ValueError(f"{where}: not a finite number: {value!r}")
    return out


def mul(*values: Decimal) -> Decimal:
    """Product in the accounting context (34 digits)."""
    with localcontext(CTX):
        out = Decimal(1)
        for v in values:
            out = out * v
        return +out


def div(a: Decimal, b: Decimal) -> Decimal:
    with localcontext(CTX):
        return a / b


def c_to_co2() -> Decimal:
    """44/12 to 34 digits."""
    with localcontext(CTX):
        return Decimal(44) / Decimal(12)


def line_kg(value: Decimal) -> Decimal:
    """Quantize a line's mass (kg) to 1 g, half-up."""
    return value.quantize(LINE_QUANTUM_KG, rounding=ROUND_HALF_UP)


def kg_to_t(kg: Decimal) -> Decimal:
    """Exact kg -> t (no rounding)."""
    with localcontext(CTX):
        return kg / Decimal(1000)


def display_t(kg: Decimal) -> Decimal:
    """kg -> t rounded half-up to 0.001 t for presentation."""
    return kg_to_t(kg).quantize(DISPLAY_QUANTUM_T, rounding=ROUND_HALF_UP)


def dsum(values) -> Decimal:
    with localcontext(CTX):
        return sum((Decimal(v) for v in values), ZERO)
