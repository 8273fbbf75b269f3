"""The inventory engine: activity data + factor library + boundary + instruments -> ledger lines.

Pure: no database. ``compute`` returns every line with full provenance, the instrument claims the
market-based method made, and notes (exclusions, disclosures). Summaries come from cms.ledger.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from cms.activities import ActivityDatum, classify
from cms.boundary import Tree, share
from cms.factors import Library
from cms.gwp import gas_group, gwp, is_kyoto
from cms.instruments import Instrument, application_order, ineligibility
from cms.ledger import GasAmount, LedgerLine, summarise
from cms.numbers import RULE_TEXT, line_kg, mul
from cms.scope1 import combustion, mass_balance_part, release
from cms.scope2 import heat_or_steam, location_electricity, market_electricity
from ems.errors import UserError


@dataclass(frozen=True)
class Settings:
    root: str                           # reporting node code
    period_start: dt.date
    period_end: dt.date                 # exclusive
    approach: str = "operational_control"
    gwp_set: str = "AR5"
    fuel_family: str = "cn_guideline"
    factor_year: int | None = None      # data-vintage cap; default: the inventory's start year

    @property
    def year(self) -> int:
        return self.factor_year or self.period_start.year


@dataclass
class Result:
    settings: Settings
    lines: list[LedgerLine]
    claims: dict[str, Decimal]          # instrument code -> MWh claimed
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        s = self.settings
        return {"node": s.root, "period_start": s.period_start.isoformat(), "period_end": s.period_end.isoformat(),
                "boundary": s.approach, "gwp_set": s.gwp_set, "fuel_factors": s.fuel_family,
                "factor_year_cap": s.year, "rounding": RULE_TEXT, **summarise(self.lines),
                "instrument_claims_mwh": {k: str(v) for k, v in sorted(self.claims.items())},
                "notes": self.notes, "line_count": len(self.lines)}


def compute(data: list[ActivityDatum], tree: Tree, lib: Library, settings: Settings,
            instruments: list[Instrument] = (), available_mwh: dict[str, Decimal] | None = None) -> Result:
    s = settings
    if s.period_end <= s.period_start:
        raise UserError("the period end must be after its start")
    scope_nodes = tree.subtree(s.root)
    notes: list[str] = []
    kept: list[tuple[ActivityDatum, str, Decimal]] = []   # (clipped datum, entity, share)
    excluded: dict[str, int] = defaultdict(int)
    prorated: set[int] = set()
    for d in data:
        if d.node not in scope_nodes:
            continue
        part = d.clipped(s.period_start, s.period_end)
        if part is None:
            continue
        sh = share(tree, d.node, s.root, s.approach)
        if sh == 0:
            excluded[tree.entity(d.node)] += 1
            continue
        if part is not d:
            prorated.add(id(part))
        kept.append((part, tree.entity(d.node), sh))
    for entity, n in sorted(excluded.items()):
        notes.append(f"excluded by the {s.approach} boundary: {entity} ({n} activity data)")

    amounts: list[tuple[ActivityDatum, str, Decimal, list[GasAmount]]] = []
    elec: dict[str, list[tuple[ActivityDatum, Decimal]]] = defaultdict(list)
    for d, entity, sh in kept:
        try:
            kind = classify(d.activity)
        except ValueError as exc:
            raise UserError(str(exc), where=f"activity datum {d.datum_id or ''} ({d.node})") from exc
        region = tree.region(d.node)
        if kind.method == "combustion":
            amounts.append((d, entity, sh, combustion(d, lib, s.fuel_family, region, s.year)))
        elif kind.method == "release":
            amounts.append((d, entity, sh, release(d, lib)))
        elif kind.method == "mass_balance":
            amounts.append((d, entity, sh, mass_balance_part(d, lib)))
        elif d.base == "electricity_grid":
            amounts.append((d, entity, sh, [location_electricity(d, lib, region, s.year)]))
            elec[entity].append((d, sh))
        else:
            amounts.append((d, entity, sh, heat_or_steam(d, lib, region, s.year)))

    claims: dict[str, Decimal] = {}
    by_entity_inst: dict[str, list[Instrument]] = defaultdict(list)
    for inst in instruments:
        why = ineligibility(inst, s.period_start, s.period_end)
        entity = tree.entity(inst.node) if inst.node in tree.nodes else inst.node
        if entity in elec and why is None:
            by_entity_inst[entity].append(inst)
        elif why is not None and inst.node in scope_nodes:
            notes.append(f"instrument {inst.code} not applied: {why}")
    for entity, items in sorted(elec.items()):
        ds = [d for d, _ in items]
        parts, claimed = market_electricity(ds, application_order(by_entity_inst.get(entity, [])),
                                            available_mwh or {}, lib, tree.region(entity), s.year)
        claims.update(claimed)
        for k, (d, sh) in enumerate(items):
            amounts.append((d, entity, sh, parts[k]))
    if any("residual_mix_proxy" in a.flags for _, _, _, ams in amounts for a in ams):
        notes.append("market-based Scope 2: China has no official residual mix; the MEE/NBS factor excluding "
                     "market-traded non-fossil electricity is used as a proxy (disclosed)")
    lines = _lines(amounts, lib, s.gwp_set, prorated)
    return Result(s, lines, claims, notes)


def _lines(amounts, lib: Library, gwp_set: str, prorated: set[int]) -> list[LedgerLine]:
    out: list[LedgerLine] = []
    for d, entity, sh, ams in amounts:
        kind = classify(d.activity)
        for a in ams:
            g = gwp(lib, a.gas, gwp_set)
            scope = kind.scope if is_kyoto(a.gas) else 0
            f = a.factor or {}
            out.append(LedgerLine(
                line_no=len(out) + 1, datum_id=d.datum_id, node=d.node, entity=entity, share=sh,
                period_start=d.period_start, period_end=d.period_end, scope=scope,
                scope2_method=a.scope2_method if kind.scope == 2 else None, category=kind.category,
                activity=d.activity, activity_quantity=a.quantity if a.quantity is not None else d.quantity,
                activity_unit=d.unit if a.quantity is None else "MWh", evidence=d.evidence, source=d.source,
                entered_by=d.entered_by, method=a.method, gas=g.gas, gas_group=gas_group(g.gas),
                gas_mass_kg=line_kg(mul(a.mass_kg, sh)), gwp=g.value, gwp_set=gwp_set,
                co2e_kg=line_kg(mul(a.mass_kg, g.value, sh)), gross_co2e_kg=line_kg(mul(a.mass_kg, g.value)),
                factor_id=f.get("id"), factor_version=f.get("version"),
                factor_refs=tuple(x for x in ((a.factor,) if a.factor else ()) + a.refs + g.refs),
                instrument=a.instrument, converted_quantity=a.converted[0] if a.converted else None,
                converted_unit=a.converted[1] if a.converted else None,
                flags=a.flags + _quality(d, a.factor, a.refs + g.refs, id(d) in prorated, scope)))
    return out


def _quality(d: ActivityDatum, factor: dict | None, refs: tuple, prorated: bool, scope: int) -> tuple[str, ...]:
    """Data-quality flags of a line: how the activity was obtained and how firm its factors are."""
    flags = ["metered" if d.source == "rollup" else f"entered_{d.source}"]
    firm = {r.get("firmness") for r in ((factor,) if factor else ()) + refs}
    if "R" in firm:
        flags.append("factor_recalled_unverified")
    elif "S2" in firm:
        flags.append("factor_secondary_source")
    if prorated:
        flags.append("prorated_by_days")
    if scope == 0:
        flags.append("memo_non_kyoto")
    return tuple(flags)
