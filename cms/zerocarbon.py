"""Zero-carbon-factory assessment: evaluate a criteria pack against one plant-year input record.

Pure functions over the plain record of ``cms.zerocarbon_pack``: no database, no I/O. The result lists,
per item, its status, value, threshold, points, evidence and the next step; per type whether it is
achieved; the type and level reached; what is missing.

Residual-emissions ledger (carbon reference §3.4; ISO 14068-1 reduction-first): residual = the sum of the
type's boundary components (Scope 1 + market-based Scope 2, plus ISO 14064-1 categories 3 and 4 for
T/CECA-G 0171-2022 Type II); neutralised = retired offsets + removals. Offsets never reduce Scope 1 or 2.

Item statuses: ``met``, ``not_met``, ``scored`` (an assessed item with its score), ``no_evidence`` (check passes but required evidence is missing),
``unknown`` (an input is missing), ``unconfigured`` (its threshold is a parameter with no value: the
standard text that would fix it was not available; the item is reported but does not decide the outcome).
"""

from __future__ import annotations

import math
import operator
from dataclasses import asdict, dataclass, field

from cms.zerocarbon_pack import METRICS, Item, Pack, Record, TypeSpec
from ems.errors import UserError

_OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "==": operator.eq}
_RE_UNIT = "MWh"
_OFFSET_UNIT = "tCO2e"


def _passes(op: str, value: float, threshold: float) -> bool:
    """The comparison, with equality up to float rounding (1e-9 relative), so 0.1 + 0.2 t offsets cover 0.3 t."""
    if op in (">=", "<=", "==") and math.isclose(value, threshold, rel_tol=1e-9, abs_tol=1e-12):
        return True
    return _OPS[op](value, threshold)


def _sum(values: list[float | None]) -> float | None:
    return None if any(v is None for v in values) else float(sum(values))


def metric_value(metric: str, rec: Record, boundary: list[str]) -> float | None:
    """The value of a metric for a record and a type boundary; None when an input is missing."""
    elec = rec.energy_mwh.get("electricity")
    re_mwh = float(sum(rec.renewable_electricity_mwh.values()))
    if metric == "electricity_mwh":
        return elec
    if metric == "renewable_electricity_mwh":
        return re_mwh
    if metric == "renewable_electricity_share":
        if elec is None:
            return None
        return 1.0 if elec == 0 else re_mwh / elec
    if metric == "total_energy_mwh":
        return float(sum(rec.energy_mwh.values())) if rec.energy_mwh else None
    if metric in ("scope1_tco2e", "scope2_market_tco2e", "scope2_location_tco2e"):
        return getattr(rec, metric)
    residual = _sum([getattr(rec, f"{c}_tco2e") for c in boundary])
    neutralised = None if rec.offsets_retired_tco2e is None else rec.offsets_retired_tco2e + rec.removals_tco2e
    if metric == "residual_tco2e":
        return residual
    if metric == "neutralised_tco2e":
        return neutralised
    if residual is None or neutralised is None:
        return None
    if metric == "unneutralised_tco2e":
        return residual - neutralised
    if metric == "residual_neutralised_share":
        return 1.0 if residual == 0 else neutralised / residual
    raise KeyError(metric)


def _missing_inputs(metric: str, rec: Record, boundary: list[str]) -> list[str]:
    needs = {"electricity_mwh": ["energy_mwh.electricity"], "renewable_electricity_share": ["energy_mwh.electricity"],
             "total_energy_mwh": ["energy_mwh"]}.get(metric)
    if needs is None and metric.endswith("_tco2e") and metric.startswith("scope"):
        needs = [metric]
    if needs is None:
        needs = [f"{c}_tco2e" for c in boundary] + ["offsets_retired_tco2e"]
    have = {"energy_mwh.electricity": "electricity" in rec.energy_mwh, "energy_mwh": bool(rec.energy_mwh)}
    return [n for n in needs if not have.get(n, getattr(rec, n, None) is not None)]


def shortfall(metric: str, threshold: float, rec: Record, boundary: list[str]) -> tuple[float, str]:
    """How much more is needed to pass ``metric >= threshold`` (or ``<=`` for unneutralised), in plain units."""
    if metric == "renewable_electricity_share":
        need = threshold * (rec.energy_mwh.get("electricity") or 0.0) - metric_value("renewable_electricity_mwh",
                                                                                      rec, boundary)
        return need, _RE_UNIT
    if metric == "residual_neutralised_share":
        residual = metric_value("residual_tco2e", rec, boundary) or 0.0
        return threshold * residual - (metric_value("neutralised_tco2e", rec, boundary) or 0.0), _OFFSET_UNIT
    value = metric_value(metric, rec, boundary) or 0.0
    if metric == "unneutralised_tco2e":
        return value - threshold, _OFFSET_UNIT
    return abs(threshold - value), METRICS[metric]


@dataclass
class ItemResult:
    id: str
    name: str
    role: str
    area: str | None
    status: str
    value: float | None = None
    threshold: float | None = None
    unit: str = ""
    points_awarded: float | None = None
    points_max: float | None = None
    evidence: list[str] = field(default_factory=list)
    evidence_missing: bool = False
    shortfall: float | None = None
    shortfall_unit: str | None = None
    missing_inputs: list[str] = field(default_factory=list)
    next_step: str | None = None
    configurable: bool = False
    note: str | None = None


@dataclass
class TypeResult:
    type: str
    outcome: str      # achieved | not_met | incomplete | undetermined | below_levels
    level: str | None
    stars: int | None
    score: float | None
    residual_tco2e: float | None
    neutralised_tco2e: float | None
    items: list[ItemResult]
    missing: list[str]
    next_steps: list[str]
    notes: list[str]


@dataclass
class Assessment:
    pack: str
    pack_version: str
    standard: str
    plant: str
    year: int
    achieved: bool
    type: str | None
    outcome: str
    level: str | None
    stars: int | None
    score: float | None
    residual_tco2e: float | None
    neutralised_tco2e: float | None
    renewable_electricity_share: float | None
    items: list[ItemResult]
    missing: list[str]
    next_steps: list[str]
    notes: list[str]
    types: list[dict]

    def as_dict(self) -> dict:
        return asdict(self)


def _evaluate_item(pack: Pack, item: Item, rec: Record, boundary: list[str]) -> ItemResult:
    res = ItemResult(id=item.id, name=item.name.en, role=item.role, area=item.area, status="met",
                     evidence=list(rec.evidence.get(item.id, [])), configurable=item.configurable, note=item.note)
    if item.role == "scored":
        res.points_max = pack.param(item.points)
    if item.assessed:
        score = rec.item_scores.get(item.id)
        if score is None:
            res.status, res.missing_inputs = "unknown", [f"item_scores.{item.id}"]
        elif res.points_max is not None and score > res.points_max:
            raise UserError(f"score {score:g} of item '{item.id}' exceeds its maximum {res.points_max:g}",
                            where=f"item_scores.{item.id}")
        else:
            res.status, res.value, res.points_awarded = "scored", score, score
    elif item.check.fact is not None:
        res.unit = "fact"
        fact = rec.facts.get(item.check.fact)
        if fact is None:
            res.status, res.missing_inputs = "unknown", [f"facts.{item.check.fact}"]
        else:
            res.value = float(fact)
            res.status = "met" if fact else "not_met"
    else:
        c = item.check
        res.unit = METRICS[c.metric]
        res.threshold = pack.param(c.threshold)
        res.value = metric_value(c.metric, rec, boundary)
        if res.threshold is None:
            res.status = "unconfigured"
        elif res.value is None:
            res.status, res.missing_inputs = "unknown", _missing_inputs(c.metric, rec, boundary)
        elif not _passes(c.op, res.value, res.threshold):
            res.status = "not_met"
            res.shortfall, res.shortfall_unit = shortfall(c.metric, res.threshold, rec, boundary)
    if item.role == "scored" and not item.assessed:
        res.points_awarded = (res.points_max or 0.0) if res.status == "met" else 0.0
    if item.evidence == "required" and not res.evidence and res.status in ("met", "not_met", "scored"):
        res.evidence_missing = True
        if res.status == "met" and item.role == "prerequisite":
            res.status = "no_evidence"
    if res.status in ("not_met", "no_evidence", "unknown") or res.evidence_missing:
        res.next_step = _next_step(item, res, rec)
    return res


def _next_step(item: Item, res: ItemResult, rec: Record) -> str:
    if res.status == "unknown":
        return f"{item.id}: provide {', '.join(res.missing_inputs)}"
    if res.status == "no_evidence" or (res.evidence_missing and res.status in ("met", "scored")):
        return f"{item.id}: attach evidence for '{item.name.en}' (documents, certificate or retirement serials)"
    if item.remedy:
        return f"{item.id}: " + item.remedy.format(shortfall=res.shortfall if res.shortfall is not None else 0.0,
                                                   unit=res.shortfall_unit or res.unit, plant=rec.plant,
                                                   year=rec.year)
    if res.shortfall is not None:
        return f"{item.id}: short by {res.shortfall:,.3f} {res.shortfall_unit}"
    return f"{item.id}: meet '{item.name.en}'"


def evaluate_type(pack: Pack, tspec: TypeSpec, rec: Record) -> TypeResult:
    boundary = list(tspec.boundary)
    items = [_evaluate_item(pack, it, rec, boundary) for it in pack.items]
    prereq = [r for r in items if r.role == "prerequisite"]
    scored = [r for r in items if r.role == "scored"]
    missing = [f"{r.id}: {r.name}" + (f" (short by {r.shortfall:,.3f} {r.shortfall_unit})" if r.shortfall else "")
               + (" (evidence missing)" if r.status == "no_evidence" else "")
               for r in prereq if r.status in ("not_met", "no_evidence")]
    missing += [f"input {m}" for r in items if r.status == "unknown" for m in r.missing_inputs]
    next_steps = [r.next_step for r in items if r.next_step]
    notes = [f"{r.id}: not checked, its threshold is not configured" + (f" ({r.note})" if r.note else "")
             for r in items if r.status == "unconfigured"]
    score = None if not scored or any(r.points_awarded is None for r in scored) else float(sum(r.points_awarded for r in scored))
    level = stars = None
    if any(r.status in ("not_met", "no_evidence") for r in prereq):
        outcome = "not_met"
    elif any(r.status == "unknown" for r in prereq) or (pack.levels and score is None and scored):
        outcome = "incomplete"
    elif not pack.levels:
        outcome = "achieved"
    else:
        mins = [pack.param(lv.min_score) for lv in pack.levels]
        if any(m is None for m in mins) and len(pack.levels) > 1:
            outcome = "undetermined"
            notes.append("level thresholds (min_score) are not configured; set them from the standard text")
        else:
            reached = [lv for lv, m in zip(pack.levels, mins) if m is None or (score or 0.0) >= m]
            if reached:
                outcome, level, stars = "achieved", reached[-1].id, reached[-1].stars
            else:
                outcome = "below_levels"
            nxt = next((lv for lv, m in zip(pack.levels, mins) if m is not None and (score or 0.0) < m), None)
            if nxt is not None:
                next_steps.append(f"score {pack.param(nxt.min_score) - (score or 0.0):g} more points "
                                  f"to reach '{nxt.name.en}'")
    return TypeResult(type=tspec.id, outcome=outcome, level=level, stars=stars, score=score,
                      residual_tco2e=metric_value("residual_tco2e", rec, boundary),
                      neutralised_tco2e=metric_value("neutralised_tco2e", rec, boundary),
                      items=items, missing=missing, next_steps=next_steps, notes=notes)


def assess(pack: Pack, rec: Record) -> Assessment:
    """Evaluate every type of the pack (or only the type applied for); report the broadest type achieved."""
    types = pack.types
    if rec.type is not None:
        types = [t for t in pack.types if t.id == rec.type]
        if not types:
            raise UserError(f"pack '{pack.id}' has no type '{rec.type}' "
                            f"(types: {', '.join(t.id for t in pack.types)})", where="type")
    results = [evaluate_type(pack, t, rec) for t in types]
    achieved = [r for r in results if r.outcome == "achieved"]
    main = achieved[-1] if achieved else results[0]
    notes = list(main.notes) + [f"pack status '{pack.status}': " + n for n in pack.notes]
    return Assessment(
        pack=pack.id, pack_version=pack.version, standard=pack.standard, plant=rec.plant, year=rec.year,
        achieved=bool(achieved), type=main.type if achieved else None, outcome=main.outcome, level=main.level,
        stars=main.stars, score=main.score, residual_tco2e=main.residual_tco2e,
        neutralised_tco2e=main.neutralised_tco2e,
        renewable_electricity_share=metric_value("renewable_electricity_share", rec, []),
        items=main.items, missing=main.missing, next_steps=main.next_steps, notes=notes,
        types=[{"type": r.type, "outcome": r.outcome, "level": r.level, "score": r.score,
                "residual_tco2e": r.residual_tco2e, "missing": r.missing} for r in results])


def format_assessment(a: Assessment) -> str:
    """A plain-text report of an assessment."""
    head = f"{a.plant} {a.year} against {a.standard} (pack {a.pack}@{a.pack_version})"
    lines = [head, "-" * len(head),
             f"outcome: {a.outcome}" + (f", type {a.type}" if a.type else "")
             + (f", level {a.level}" if a.level else "") + (f" ({a.stars} stars)" if a.stars else ""),
             f"score: {a.score:g}" if a.score is not None else "score: -"]
    if a.residual_tco2e is not None:
        lines.append(f"residual emissions: {a.residual_tco2e:,.3f} tCO2e; neutralised: "
                     f"{(a.neutralised_tco2e or 0.0):,.3f} tCO2e")
    if a.renewable_electricity_share is not None:
        lines.append(f"renewable electricity share: {a.renewable_electricity_share:.1%}")
    lines.append("")
    for r in a.items:
        val = "-" if r.value is None else f"{r.value:,.4g}"
        thr = "" if r.threshold is None else f" (threshold {r.threshold:,.4g})"
        pts = "" if r.role != "scored" else f" points {r.points_awarded if r.points_awarded is not None else '-'}"
        ev = "evidence missing" if r.evidence_missing else (f"evidence: {', '.join(r.evidence)}" if r.evidence else "")
        lines.append(f"  [{r.status:<12}] {r.role:<12} {r.id}: {val}{thr}{pts}  {ev}".rstrip())
    for title, rows in (("missing", a.missing), ("next steps", a.next_steps), ("notes", a.notes)):
        if rows:
            lines += ["", f"{title}:"] + [f"  - {row}" for row in rows]
    return "\n".join(lines)
