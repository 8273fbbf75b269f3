"""Global warming potentials (100-year) from the factor library, blends computed from components.

Blend rule: GWP(blend) = sum(mass fraction x component GWP), rounded half-up to a whole number. It gives
the reference's published blend values exactly (R-410A AR5 1923.5 -> 1924; R-407C AR6 1907.93 -> 1908).
Montreal Protocol gases (HCFCs) are not Kyoto gases: their CO2e is reported as a memo item, outside
the Scope 1 total.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from cms.factors import Library
from cms.numbers import dsum, mul
from ems.errors import UserError


@dataclass(frozen=True)
class Gwp:
    gas: str                 # canonical gas name (HFC-134a, R-410A, SF6, CH4-fossil ...)
    gwp_set: str
    value: Decimal
    refs: tuple[dict, ...]   # the factor versions used
    derivation: str


def canonical_gas(lib: Library, gas: str) -> str:
    text = gas.strip()
    return lib.synonyms.get(text, lib.synonyms.get(text.upper(), text))


def gas_group(gas: str) -> str:
    """Reporting group of a gas: CO2, CH4, N2O, HFCs, PFCs, SF6, NF3, HCFCs (memo) or CO2e (pre-combined)."""
    g = gas.upper()
    if g.startswith("CH4"):
        return "CH4"
    if g in ("CO2", "N2O", "SF6", "NF3", "CO2E"):
        return "CO2e" if g == "CO2E" else g
    if g.startswith("HCFC") or g.startswith("CFC"):
        return "HCFCs"
    if g.startswith("PFC") or g.startswith("CF4") or g.startswith("C2F6"):
        return "PFCs"
    return "HFCs"


def is_kyoto(gas: str) -> bool:
    return gas_group(gas) != "HCFCs"


def gwp(lib: Library, gas: str, gwp_set: str) -> Gwp:
    """GWP of a gas or a blend in a GWP set; UserError when the library has none."""
    name = canonical_gas(lib, gas)
    if name.upper() == "CO2E":
        return Gwp(name, gwp_set, Decimal(1), (), "already CO2e")
    f = lib.select(kind="gwp", activity="gwp", region="GLOBAL", year=9999, gas=name, gwp_set=gwp_set)
    if f is None and name == "CH4-fossil":   # AR4/AR5 have no fossil/non-fossil split
        f = lib.select(kind="gwp", activity="gwp", region="GLOBAL", year=9999, gas="CH4", gwp_set=gwp_set)
    if f is not None:
        return Gwp(name, gwp_set, f.value, (f.ref(),), f"{f.id} v{f.version}")
    blend = lib.blends.get(name)
    if blend is None:
        raise UserError(f"no {gwp_set} GWP for gas '{gas}' in the factor library")
    parts, refs, terms = [], [], []
    for comp, frac in blend["components"].items():
        c = gwp(lib, comp, gwp_set)
        share = Decimal(str(frac))
        parts.append(mul(share, c.value))
        refs.extend(c.refs)
        terms.append(f"{share} x {c.value} ({comp})")
    if dsum(Decimal(str(v)) for v in blend["components"].values()) != 1:
        raise UserError(f"blend {name}: mass fractions do not add up to 1")
    raw = dsum(parts)
    value = raw.quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return Gwp(name, gwp_set, value, tuple(refs), f"{' + '.join(terms)} = {raw} -> {value} (half-up)")
