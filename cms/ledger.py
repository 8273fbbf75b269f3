"""The ledger: one line per (activity datum part, gas, Scope 2 method), with full provenance, and the
summaries built from it. Every total here is a sum of lines (see cms.numbers for the rounding rule).

The auditor export reads exactly these lines: activity datum (id, node, period, quantity, unit,
evidence, source, who entered it), the factor versions used (primary factor plus every parameter and
GWP, each with source and firmness), the boundary share, the per-gas mass and the CO2e.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from decimal import Decimal

from cms.gwp import is_kyoto
from cms.numbers import ZERO, display_t, dsum

SCOPE_KEYS = ("scope1", "scope2_location", "scope2_market")


@dataclass(frozen=True)
class GasAmount:
    """A calculator's output for one gas, before boundary share and GWP (100 %, exact)."""

    gas: str
    mass_kg: Decimal
    method: str
    factor: dict | None                  # primary factor ref (Factor.ref()) or None (e.g. instrument at EF 0)
    refs: tuple[dict, ...] = ()          # every other factor used (NCV, CC, OF, enthalpy ...)
    converted: tuple[str, str] | None = None   # activity expressed in the factor's unit: (quantity, unit)
    flags: tuple[str, ...] = ()
    scope2_method: str | None = None     # location | market | None (scope 1)
    instrument: str | None = None        # instrument code for market-based covered MWh
    quantity: Decimal | None = None      # part of the datum this amount covers (default: all of it)


@dataclass(frozen=True)
class LedgerLine:
    line_no: int
    datum_id: int | None
    node: str
    entity: str                  # consolidation entity (the plant) the datum belongs to
    share: Decimal               # boundary share applied (1, 0.6 ...)
    period_start: dt.date
    period_end: dt.date
    scope: int                   # 1, 2, or 0 for memo items outside the scopes (HCFCs)
    scope2_method: str | None
    category: str
    activity: str
    activity_quantity: Decimal
    activity_unit: str
    evidence: str
    source: str
    entered_by: str
    method: str
    gas: str
    gas_group: str
    gas_mass_kg: Decimal         # consolidated (x share), quantized to 1 g
    gwp: Decimal
    gwp_set: str
    co2e_kg: Decimal             # consolidated, quantized to 1 g
    gross_co2e_kg: Decimal       # 100 % of the datum, quantized to 1 g
    factor_id: str | None
    factor_version: int | None
    factor_refs: tuple[dict, ...] = ()
    instrument: str | None = None
    converted_quantity: str | None = None
    converted_unit: str | None = None
    flags: tuple[str, ...] = field(default=())

    @property
    def scope_key(self) -> str | None:
        if self.scope == 1:
            return "scope1"
        if self.scope == 2:
            return f"scope2_{self.scope2_method}"
        return None

    def record(self) -> dict:
        """JSON-able dict (Decimals as strings, dates ISO)."""
        out = asdict(self)
        for k, v in out.items():
            if isinstance(v, Decimal):
                out[k] = str(v)
            elif isinstance(v, dt.date):
                out[k] = v.isoformat()
            elif isinstance(v, tuple):
                out[k] = list(v)
        return out


def t(kg: Decimal) -> float:
    """kg -> tCO2e for JSON (rounded half-up to 0.001 t)."""
    return float(display_t(kg))


def totals_kg(lines: list[LedgerLine]) -> dict[str, Decimal]:
    """Scope 1, Scope 2 location-based and Scope 2 market-based CO2e (kg): sums of lines. Memo lines excluded."""
    out = {k: ZERO for k in SCOPE_KEYS}
    for line in lines:
        if line.scope_key in out:
            out[line.scope_key] += line.co2e_kg
    return out


def summarise(lines: list[LedgerLine]) -> dict:
    """Totals, per gas, per entity (plant), per category and per month, in tCO2e (and t of gas)."""
    by_gas: dict[str, dict[str, list[LedgerLine]]] = {k: defaultdict(list) for k in SCOPE_KEYS}
    by_entity: dict[str, dict[str, list[Decimal]]] = defaultdict(lambda: defaultdict(list))
    by_category: dict[str, dict[str, list[Decimal]]] = defaultdict(lambda: defaultdict(list))
    by_month: dict[str, dict[str, list[Decimal]]] = defaultdict(lambda: defaultdict(list))
    shares: dict[str, Decimal] = {}
    memo: dict[str, list[LedgerLine]] = defaultdict(list)
    for line in lines:
        key = line.scope_key
        if key is None:
            memo[line.gas].append(line)
            continue
        by_gas[key][line.gas_group].append(line)
        by_entity[line.entity][key].append(line.co2e_kg)
        shares[line.entity] = line.share
        by_category[key][line.category].append(line.co2e_kg)
        by_month[line.period_start.strftime("%Y-%m")][key].append(line.co2e_kg)
    totals = totals_kg(lines)
    return {
        "unit": "tCO2e",
        "scope1_tco2e": t(totals["scope1"]),
        "scope2_location_tco2e": t(totals["scope2_location"]),
        "scope2_market_tco2e": t(totals["scope2_market"]),
        "totals_tco2e": {k: t(v) for k, v in totals.items()},
        "totals_kgco2e": {k: str(v) for k, v in totals.items()},
        "by_gas": {k: {g: {"mass_t": t(dsum(x.gas_mass_kg for x in ls)), "tco2e": t(dsum(x.co2e_kg for x in ls))}
                       for g, ls in sorted(groups.items())} for k, groups in by_gas.items()},
        "by_plant": {e: {"share": float(shares[e]), **{f"{k}_tco2e": t(dsum(v.get(k, []))) for k in SCOPE_KEYS}}
                     for e, v in sorted(by_entity.items())},
        "by_category": {k: {c: t(dsum(v)) for c, v in sorted(cats.items())} for k, cats in sorted(by_category.items())},
        "by_month": {m: {f"{k}_tco2e": t(dsum(v.get(k, []))) for k in SCOPE_KEYS} for m, v in sorted(by_month.items())},
        "memo_outside_scopes": {g: {"mass_t": t(dsum(x.gas_mass_kg for x in ls)), "tco2e": t(dsum(x.co2e_kg for x in ls)),
                                    "note": "Montreal Protocol gas: reported separately, not in Scope 1"}
                                for g, ls in sorted(memo.items()) if not is_kyoto(g)},
    }
