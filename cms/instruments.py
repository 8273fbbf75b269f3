"""Contractual instruments for market-based Scope 2: the register record, eligibility (Scope 2 Quality
Criteria as recorded per instrument, China-specific rules) and the GHG Protocol application order.

Order (Scope 2 Guidance Table 6.3): 1. energy attribute certificates (GEC, I-REC, green power trading,
which delivers GECs with the power); 2. direct contracts (PPA) and on-site generation whose attributes
are kept; then 4. the residual mix (here the MEE proxy). Supplier-specific rates (3.) are not modelled.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

KINDS = ("gec", "green_power_trading", "irec", "ppa", "onsite_pv")
TIER = {"gec": 1, "irec": 1, "green_power_trading": 1, "ppa": 2, "onsite_pv": 2}
IREC_LAST_GENERATION = dt.date(2024, 12, 31)   # reference §4: I-REC issuance in China only for generation to 2024-12-31
GEC_VALIDITY_YEARS = 2                          # reference §4: GECs are valid 2 years, then cancelled


@dataclass(frozen=True)
class Instrument:
    code: str
    kind: str
    node: str                 # the plant it is assigned to
    mwh: Decimal
    vintage: int              # generation year
    period_start: dt.date     # consumption period it may be applied to
    period_end: dt.date       # exclusive
    registry: str = ""
    serials: str = ""
    retired_on: dt.date | None = None
    qc_met: bool = True       # all eight Scope 2 Quality Criteria answered "met"
    attributes_sold: bool = False
    evidence: str = ""
    instrument_id: int | None = None


def ineligibility(inst: Instrument, start: dt.date, end: dt.date) -> str | None:
    """Why an instrument cannot be applied to consumption in [start, end), or None when it can."""
    if inst.kind not in KINDS:
        return f"unknown kind '{inst.kind}'"
    if inst.attributes_sold:
        return "attributes sold: null power, takes the residual factor"
    if not inst.qc_met:
        return "Scope 2 Quality Criteria not all met"
    if inst.period_end <= start or inst.period_start >= end:
        return "period does not overlap the inventory period"
    year = start.year
    if inst.kind in ("gec", "green_power_trading") and not (year - GEC_VALIDITY_YEARS < inst.vintage <= end.year):
        return f"vintage {inst.vintage} outside the {GEC_VALIDITY_YEARS}-year GEC validity for {year}"
    if inst.kind == "irec" and inst.vintage > IREC_LAST_GENERATION.year:
        return "I-REC for Chinese generation after 2024-12-31 is not issued (GEC is the sole instrument from 2025)"
    return None


def application_order(instruments: list[Instrument]) -> list[Instrument]:
    """GHG Protocol order: tier, then oldest vintage first (use certificates before they expire), then code."""
    return sorted(instruments, key=lambda i: (TIER.get(i.kind, 9), i.vintage, i.code))
