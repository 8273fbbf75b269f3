"""Scope 2 calculators, location-based and market-based, always both.

Location-based: MWh x grid average factor of the most local region (province -> grid region -> nation).
Market-based: per plant, the electricity of the period is covered by eligible instruments in the GHG
Protocol order (EF 0 for renewable certificates, PPAs and kept on-site PV); the remainder takes the
residual-mix proxy (MEE "excluding market-traded non-fossil" series, disclosed). Where no residual factor
exists the grid average is used and the line says so. Heat, steam and cooling have no instruments: the
market-based line repeats the default factor and says so.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from cms.activities import ActivityDatum
from cms.factors import Factor, Library
from cms.instruments import TIER, Instrument
from cms.ledger import GasAmount
from cms.numbers import ZERO, mul
from cms.quantities import scale, split_rate
from ems.errors import UserError


def _grid_factor(lib: Library, region, year, series, datum) -> Factor | None:
    return lib.select(kind="emission", activity="electricity_grid", region=region, year=year, series=series,
                      on=datum.period_start)


def _amount(mwh: Decimal, f: Factor, method: str, scope2_method: str, flags=(), instrument=None) -> GasAmount:
    num, den = split_rate(f.unit)
    kg = mul(mwh, scale("MWh", den), f.value, scale(num, "kg"))
    return GasAmount(f.gas or "CO2", kg, method, f.ref(), (), (str(mwh), "MWh"), tuple(flags), scope2_method,
                     instrument, quantity=None)


def location_electricity(datum: ActivityDatum, lib: Library, region, year) -> GasAmount:
    f = _grid_factor(lib, region, year, "location", datum)
    if f is None:
        raise UserError(f"no grid electricity factor for region '{region}' and data year <= {year}")
    mwh = mul(datum.quantity, scale(datum.unit, "MWh"))
    return _amount(mwh, f, f"location-based: {mwh} MWh x {f.value} {f.unit} ({f.region}, data year {f.data_year})",
                   "location")


def market_electricity(data: list[ActivityDatum], instruments: list[Instrument], available_mwh: dict[str, Decimal],
                       lib: Library, region, year) -> tuple[dict[int, list[GasAmount]], dict[str, Decimal]]:
    """Market-based amounts for one plant's electricity data (in period order). Returns amounts per datum
    index and the MWh claimed per instrument code. ``instruments`` are eligible and in application order."""
    left = {i.code: available_mwh.get(i.code, i.mwh) for i in instruments}
    claimed: dict[str, Decimal] = {}
    out: dict[int, list[GasAmount]] = {}
    order = sorted(range(len(data)), key=lambda k: (data[k].period_start, data[k].activity, k))
    for k in order:
        datum = data[k]
        need = mul(datum.quantity, scale(datum.unit, "MWh"))
        parts: list[GasAmount] = []
        for inst in instruments:
            if need <= 0:
                break
            take = min(need, left[inst.code])
            if take <= 0:
                continue
            left[inst.code] -= take
            need -= take
            claimed[inst.code] = claimed.get(inst.code, ZERO) + take
            tier = "energy attribute certificate" if TIER[inst.kind] == 1 else "direct contract / on-site"
            parts.append(GasAmount("CO2", ZERO, f"market-based: {take} MWh covered by {inst.kind} {inst.code} "
                                   f"(vintage {inst.vintage}, {tier}) at 0 tCO2/MWh", None, (), (str(take), "MWh"),
                                   ("instrument",), "market", inst.code, quantity=take))
        if need > 0:
            f = _grid_factor(lib, region, year, "residual_proxy", datum)
            flags = ["residual_mix_proxy"]
            if f is None:
                f = _grid_factor(lib, region, year, "location", datum)
                flags = ["no_residual_mix_grid_average_used"]
            if f is None:
                raise UserError(f"no grid electricity factor for region '{region}' and data year <= {year}")
            label = "residual-mix proxy" if flags[0] == "residual_mix_proxy" else "grid average (no residual mix; disclosed)"
            a = _amount(need, f, f"market-based: {need} MWh x {f.value} {f.unit} {label} ({f.region}, data year "
                        f"{f.data_year})", "market", flags)
            parts.append(replace(a, quantity=need))
        out[k] = parts
    return out, claimed


def heat_or_steam(datum: ActivityDatum, lib: Library, region, year) -> list[GasAmount]:
    """Purchased heat (GJ) or steam (t via enthalpy, or GJ/mmBtu directly): location and market (same factor)."""
    out = []
    activity = datum.base
    cands = [activity, "heat_purchased"] if activity == "steam_purchased" else [activity]
    for name in cands:
        gases = sorted({f.gas for f in lib.current() if f.kind == "emission" and f.activity == name
                        and f.region in lib.region_chain(region) and f.gas})
        for gas in gases:
            f = lib.select(kind="emission", activity=name, region=region, year=year, gas=gas, on=datum.period_start)
            num, den = split_rate(f.unit)
            refs: tuple = ()
            try:
                energy = mul(datum.quantity, scale(datum.unit, den))
                conv = f"{datum.quantity} {datum.unit}"
            except ValueError:
                h = lib.select(kind="enthalpy", activity=activity, region=region, year=year)
                if h is None:
                    continue
                h_num, h_den = split_rate(h.unit)
                try:
                    energy = mul(datum.quantity, scale(datum.unit, h_den), h.value, scale(h_num, den))
                except ValueError:
                    continue
                refs = (h.ref(),)
                conv = f"{datum.quantity} {datum.unit} x {h.value} {h.unit} = {energy} {den}"
            kg = mul(energy, f.value, scale(num, "kg"))
            for m in ("location", "market"):
                flags = () if m == "location" else ("no_contractual_instrument_default_factor",)
                out.append(GasAmount(gas, kg, f"{m}-based: {conv} x {f.value} {f.unit}", f.ref(), refs,
                                     (str(energy), den), flags, m))
        if out:
            return out
    raise UserError(f"no factor for '{datum.activity}' in unit '{datum.unit}' for region '{region}' "
                    f"(node {datum.node}); import one with 'ems factors import'")
