"""Scope 1 calculators: stationary and mobile combustion, fugitive releases (refrigerant top-up,
mass balance, SF6, fire suppression) and process emissions. Pure functions: datum + library -> gas masses.

Combustion families (one per inventory; tables are never mixed within one inventory):

- ``cn_guideline``: E_CO2 = FC x NCV x CC x OF x 44/12 (China MEE/NDRC guideline defaults; CO2 only).
- ``ipcc2006``: energy (TJ) = FC x NCV, E_gas = TJ x EF_gas (kg/TJ; CO2, CH4, N2O). A volume-metered
  fuel without an IPCC volume NCV uses the China guideline NCV for the conversion (flagged).
- ``epa_hub``: E_gas = FC x EF_gas for the factor whose unit matches the activity unit (gal, mmBtu).
"""

from __future__ import annotations

from decimal import Decimal

from cms.activities import MASS_BALANCE_SIGN, ActivityDatum, classify
from cms.factors import Factor, Library
from cms.ledger import GasAmount
from cms.numbers import c_to_co2, mul
from cms.quantities import compatible, scale, split_rate
from ems.errors import UserError

FAMILIES = ("cn_guideline", "ipcc2006", "epa_hub")


def _need(f: Factor | None, what: str, datum: ActivityDatum) -> Factor:
    if f is None:
        raise UserError(f"no factor for {what} (activity '{datum.activity}', node {datum.node}, "
                        f"{datum.period_start}..{datum.period_end}); import one with 'ems factors import'")
    return f


def _fuel_candidates(activity: str, fuel: str) -> list[str]:
    from cms.activities import MOBILE
    return [activity, MOBILE[activity]] if activity in MOBILE else [fuel]


def _select_any(lib: Library, names: list[str], **kw) -> Factor | None:
    for name in names:
        f = lib.select(activity=name, **kw)
        if f is not None:
            return f
    return None


def _to_gas_kg(value: Decimal, unit: str) -> tuple[Decimal, str]:
    """Scale of a factor's numerator mass unit to kg, and its denominator unit."""
    num, den = split_rate(unit)
    return scale(num, "kg"), den


def combustion(datum: ActivityDatum, lib: Library, family: str, region: str | None, year: int) -> list[GasAmount]:
    kind = classify(datum.activity)
    names = _fuel_candidates(datum.activity, kind.fuel or datum.activity)
    sel = dict(family=family, region=region, year=year, on=datum.period_start)
    if family == "cn_guideline":
        ncv = _need(_select_any(lib, names, kind="ncv", **sel), "net calorific value", datum)
        cc = _need(_select_any(lib, names, kind="carbon_content", gas="CO2", **sel), "carbon content", datum)
        of = _need(_select_any(lib, names, kind="oxidation", gas="CO2", **sel), "oxidation factor", datum)
        e_num, e_den = split_rate(ncv.unit)
        gj = mul(datum.quantity, scale(datum.unit, e_den), ncv.value, scale(e_num, "GJ"))
        c_num, _ = split_rate(cc.unit)   # tC/GJ
        kg = mul(gj, cc.value, scale(c_num, "kg"), of.value, c_to_co2())
        method = (f"{kind.category}: FC x NCV x CC x OF x 44/12 = {datum.quantity} {datum.unit} x {ncv.value} {ncv.unit}"
                  f" x {cc.value} {cc.unit} x {of.value} x 44/12")
        return [GasAmount("CO2", kg, method, cc.ref(), (ncv.ref(), of.ref()), (str(gj), "GJ"))]
    if family == "ipcc2006":
        tj, ncv, flags = _ipcc_energy_tj(datum, lib, names, sel, region, year)
        out = []
        for gas in lib.gases(kind="emission", activity=names[0], family=family, region=region, year=year) or \
                lib.gases(kind="emission", activity=names[-1], family=family, region=region, year=year):
            ef = _need(_select_any(lib, names, kind="emission", gas=gas, **sel), f"{gas} emission factor", datum)
            to_kg, den = _to_gas_kg(ef.value, ef.unit)
            kg = mul(tj, scale("TJ", den), ef.value, to_kg)
            method = f"{kind.category}: FC x NCV x EF = {tj} TJ x {ef.value} {ef.unit}"
            out.append(GasAmount("CH4-fossil" if gas == "CH4" else gas, kg, method, ef.ref(),
                                 (ncv.ref(),) if ncv else (), (str(tj), "TJ"), flags))
        if not out:
            _need(None, "IPCC emission factors", datum)
        return out
    if family == "epa_hub":
        out = []
        for gas in ("CO2", "CH4", "N2O"):
            cands = [f for f in lib.current() if f.kind == "emission" and f.family == family and f.activity in names
                     and f.gas == gas and f.region in lib.region_chain(region)
                     and compatible(datum.unit, split_rate(f.unit)[1])]
            if not cands:
                continue
            ef = cands[0]
            to_kg, den = _to_gas_kg(ef.value, ef.unit)
            kg = mul(datum.quantity, scale(datum.unit, den), ef.value, to_kg)
            out.append(GasAmount("CH4-fossil" if gas == "CH4" else gas, kg,
                                 f"{kind.category}: FC x EF = {datum.quantity} {datum.unit} x {ef.value} {ef.unit}", ef.ref()))
        if not out:
            _need(None, f"EPA Hub factor in a unit compatible with '{datum.unit}'", datum)
        return out
    raise UserError(f"unknown fuel factor family '{family}' (one of {', '.join(FAMILIES)})", where="--fuel-factors")


def _ipcc_energy_tj(datum, lib, names, sel, region, year):
    """Energy in TJ: directly when the activity is an energy, else via an NCV (IPCC, else China guideline)."""
    if compatible(datum.unit, "TJ"):
        return mul(datum.quantity, scale(datum.unit, "TJ")), None, ()
    for fam, flags in (("ipcc2006", ()), ("cn_guideline", ("ncv_from_cn_guideline",))):
        ncv = _select_any(lib, names, kind="ncv", **{**sel, "family": fam})
        if ncv is not None:
            num, den = split_rate(ncv.unit)
            if compatible(datum.unit, den):
                return mul(datum.quantity, scale(datum.unit, den), ncv.value, scale(num, "TJ")), ncv, flags
    _need(None, f"net calorific value for '{datum.unit}'", datum)
    raise AssertionError("unreachable")


def release(datum: ActivityDatum, lib: Library) -> list[GasAmount]:
    """A mass of gas released (top-up log, measured leak, fire-suppression discharge, process emission)."""
    from cms.activities import DIRECT_RELEASE
    from cms.gwp import canonical_gas

    gas = canonical_gas(lib, datum.gas or "SF6")
    kg = mul(datum.quantity, _mass_scale(datum))
    label = DIRECT_RELEASE.get(datum.base, ("fugitive_sf6", "measured SF6 release"))[1]
    return [GasAmount(gas, kg, f"{label}: {datum.quantity} {datum.unit} of {gas}", None)]


def mass_balance_part(datum: ActivityDatum, lib: Library) -> list[GasAmount]:
    """One term of the GHG Protocol mass balance, signed: (start - end) + (purchased - sold) + (retired - new).
    The terms of one node, gas and period add up to the emission."""
    from cms.gwp import canonical_gas

    sign = MASS_BALANCE_SIGN[datum.base]
    gas = canonical_gas(lib, datum.gas or "")
    kg = mul(datum.quantity, _mass_scale(datum), Decimal(sign))
    method = (f"mass balance term '{datum.base}' ({'+' if sign > 0 else '-'}): emission = (stock start - stock end)"
              " + (purchased - sold) + (capacity retired - capacity new)")
    return [GasAmount(gas, kg, method, None, flags=("mass_balance_term",))]


def _mass_scale(datum: ActivityDatum) -> Decimal:
    try:
        return scale(datum.unit, "kg")
    except ValueError as exc:
        raise UserError(f"activity '{datum.activity}' needs a mass unit (kg, t), got '{datum.unit}'") from exc
