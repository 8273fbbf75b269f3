"""Zero-carbon-factory criteria packs (versioned YAML data) and the plain input record they are evaluated on.

A pack names its standard and version, its parameters (thresholds with unit, source and whether they are
``configurable`` / ``assumed``), its assessment areas, its types (which emission components each type
must neutralise), its items (prerequisites, scored items, indicators) and its levels (star levels by
minimum score). Packs ship in ``cms/packs/*.yaml``; see ``cms.zerocarbon`` for the evaluation.

The input record is plain numbers: energy by medium (MWh), renewable electricity by instrument type (MWh),
Scope 1/2 (tCO2e), retired offsets and removals (tCO2e), evidence references per item and
management-system facts. Offsets are never subtracted inside Scope 1 or 2: they appear only as the
neutralising side of the residual-emissions ledger. An input record (``ems zerocarbon assess --input``)::

    plant: PLANT-A
    year: 2025
    type: I                                   # optional: the type applied for
    energy_mwh: {electricity: 10000, natural_gas: 2000}
    renewable_electricity_mwh: {gec: 7000, onsite_pv: 3000}   # gec, green_power_trading, ppa, i_rec, ...
    scope1_tco2e: 2000
    scope2_market_tco2e: 0
    scope2_location_tco2e: 5306
    offsets_retired_tco2e: 2000               # e.g. cms.targets_assets.retired_for(...)
    removals_tco2e: 0
    evidence: {residual_neutralised: [CCER retirement 2025-77]}
    facts: {basic_compliance_met: true}       # management-system facts named by the pack's fact checks
    item_scores: {score_products: 11}         # evaluator's scores of assessed items
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cms.zerocarbon_yaml import load_model, validate_mapping
from ems.errors import UserError

PACK_DIR = Path(__file__).resolve().parent / "packs"

Component = Literal["scope1", "scope2_market", "scope2_location", "scope3_cat3", "scope3_cat4"]
Instrument = Literal["gec", "green_power_trading", "ppa", "i_rec", "onsite_pv", "other_renewable"]
# Metrics a check can test (computed in cms.zerocarbon.metric_value).
METRICS = {
    "electricity_mwh": "MWh", "renewable_electricity_mwh": "MWh", "renewable_electricity_share": "fraction",
    "total_energy_mwh": "MWh", "scope1_tco2e": "tCO2e", "scope2_market_tco2e": "tCO2e",
    "scope2_location_tco2e": "tCO2e", "residual_tco2e": "tCO2e", "neutralised_tco2e": "tCO2e",
    "residual_neutralised_share": "fraction", "unneutralised_tco2e": "tCO2e",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Names(_Strict):
    en: str
    zh: str | None = None


class Param(_Strict):
    value: float | None = None          # None: not known; checks using it are reported 'unconfigured'
    unit: str = ""
    configurable: bool = False
    assumed: bool = False
    source: str | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _flagged(self):
        if (self.assumed or self.value is None) and not self.configurable:
            raise ValueError("@configurable: a parameter that is assumed or has no value must be configurable: true")
        return self


class Area(_Strict):
    id: str
    name: Names


class TypeSpec(_Strict):
    id: str
    name: Names
    boundary: list[Component] = Field(min_length=1)
    configurable: bool = False
    note: str | None = None


class Check(_Strict):
    metric: str | None = None
    op: Literal[">=", "<=", ">", "<", "=="] = ">="
    threshold: float | str | None = None   # a number or the name of a parameter
    fact: str | None = None                # a management-system fact that must be true

    @model_validator(mode="after")
    def _one(self):
        if (self.metric is None) == (self.fact is None):
            raise ValueError("a check tests either a metric or a fact")
        if self.metric is not None:
            if self.metric not in METRICS:
                raise ValueError(f"@metric: unknown metric '{self.metric}' (known: {', '.join(sorted(METRICS))})")
            if self.threshold is None:
                raise ValueError("@threshold: a metric check needs a threshold (a number or a parameter name)")
        return self


class Item(_Strict):
    id: str
    name: Names
    area: str | None = None
    role: Literal["prerequisite", "scored", "indicator"]
    check: Check | None = None
    assessed: bool = False                  # scored by the evaluator: points come from the record
    points: float | str | None = None       # points (scored items); number or parameter name
    evidence: Literal["required", "optional", "none"] = "required"
    remedy: str | None = None               # next step; may use {shortfall} {unit} {plant} {year}
    source: str | None = None
    configurable: bool = False
    note: str | None = None

    @model_validator(mode="after")
    def _shape(self):
        if self.assessed and self.role != "scored":
            raise ValueError("@assessed: only scored items can be assessed")
        if not self.assessed and self.check is None:
            raise ValueError("@check: an item needs a check unless it is an assessed scored item")
        if self.role == "scored" and self.points is None:
            raise ValueError("@points: a scored item needs points (a number or a parameter name)")
        return self


class Level(_Strict):
    id: str
    name: Names
    stars: int | None = None
    min_score: float | str | None = None    # number or parameter name; None = any score


class KnownCase(_Strict):
    score: float
    level: str
    source: str


class Pack(_Strict):
    id: str
    version: str
    standard: str
    title: Names
    status: Literal["verified", "partial", "unverified"]
    source: str
    notes: list[str] = []
    parameters: dict[str, Param] = {}
    areas: list[Area] = []
    types: list[TypeSpec] = Field(min_length=1)
    items: list[Item] = Field(min_length=1)
    levels: list[Level] = []
    known_cases: list[KnownCase] = []

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, v):
        return str(v) if isinstance(v, int | float) else v

    def param(self, ref: float | str | None) -> float | None:
        """The value of a number or a parameter reference."""
        return self.parameters[ref].value if isinstance(ref, str) else ref

    @model_validator(mode="after")
    def _cross(self):
        areas = {a.id for a in self.areas}
        for group, ids in (("types", [t.id for t in self.types]), ("items", [i.id for i in self.items]),
                           ("levels", [lv.id for lv in self.levels]), ("areas", [a.id for a in self.areas])):
            dup = {i for i in ids if ids.count(i) > 1}
            if dup:
                raise ValueError(f"@{group}: id '{sorted(dup)[0]}' is used twice")
        for it in self.items:
            if it.area is not None and it.area not in areas:
                raise ValueError(f"@items: item '{it.id}' names unknown area '{it.area}'")
            for ref in (it.points, it.check.threshold if it.check else None):
                if isinstance(ref, str) and ref not in self.parameters:
                    raise ValueError(f"@items: item '{it.id}' uses unknown parameter '{ref}'")
        for lv in self.levels:
            if isinstance(lv.min_score, str) and lv.min_score not in self.parameters:
                raise ValueError(f"@levels: level '{lv.id}' uses unknown parameter '{lv.min_score}'")
        mins = [self.param(lv.min_score) for lv in self.levels]
        known = [m for m in mins if m is not None]
        if known != sorted(known) or len(set(known)) != len(known):
            raise ValueError("@levels: levels must be listed from lowest to highest, with rising min_score")
        if self.levels and all(m is not None for m in mins):
            for case in self.known_cases:
                got = level_for_score(self, case.score)
                if got != case.level:
                    raise ValueError(f"@known_cases: the thresholds put score {case.score:g} at level "
                                     f"'{got}', but {case.source} records '{case.level}'")
        return self


def level_for_score(pack: Pack, score: float) -> str | None:
    """The highest level whose min_score the score reaches (all thresholds must be set)."""
    reached = None
    for lv in pack.levels:
        m = pack.param(lv.min_score)
        if m is None or score >= m:
            reached = lv.id
    return reached


class Record(_Strict):
    """One plant and year, as plain numbers. tCO2e and MWh."""

    plant: str
    year: int = Field(ge=1990, le=2100)
    type: str | None = None                 # the type applied for; None: the broadest type achieved
    energy_mwh: dict[str, float] = {}
    renewable_electricity_mwh: dict[Instrument, float] = {}
    scope1_tco2e: float | None = None
    scope2_market_tco2e: float | None = None
    scope2_location_tco2e: float | None = None
    scope3_cat3_tco2e: float | None = None
    scope3_cat4_tco2e: float | None = None
    removals_tco2e: float = 0.0
    offsets_retired_tco2e: float | None = None
    evidence: dict[str, list[str]] = {}
    facts: dict[str, bool] = {}
    item_scores: dict[str, float] = {}

    @model_validator(mode="after")
    def _non_negative(self):
        for name in ("scope1_tco2e", "scope2_market_tco2e", "scope2_location_tco2e", "scope3_cat3_tco2e",
                     "scope3_cat4_tco2e", "removals_tco2e", "offsets_retired_tco2e"):
            v = getattr(self, name)
            if v is not None and v < 0:
                raise ValueError(f"@{name}: must not be negative (offsets are never netted inside a scope)")
        for group in ("energy_mwh", "renewable_electricity_mwh", "item_scores"):
            for k, v in getattr(self, group).items():
                if v < 0:
                    raise ValueError(f"@{group}: '{k}' must not be negative")
        return self


def load_pack(path: str | Path) -> Pack:
    pack, _ = load_model(path, Pack, "a criteria pack mapping (id, version, types, items ...)")
    return pack


def load_record(path: str | Path) -> Record:
    record, _ = load_model(path, Record, "a zero-carbon input record mapping (plant, year, ...)")
    return record


def builtin_packs() -> list[Pack]:
    return [load_pack(p) for p in sorted(PACK_DIR.glob("*.yaml"))]


def find_pack(ref: str) -> Pack:
    """A pack by file path, by id (newest version first by file order) or by 'id@version'."""
    if ref.endswith((".yaml", ".yml")) or Path(ref).is_file():
        return load_pack(ref)
    pid, _, version = ref.partition("@")
    match = [p for p in builtin_packs() if p.id == pid and (not version or p.version == version)]
    if not match:
        known = ", ".join(f"{p.id}@{p.version}" for p in builtin_packs())
        raise UserError(f"no criteria pack '{ref}' (built-in: {known})", where="--pack")
    return match[-1]


def configure(pack: Pack, values: dict[str, float | None], where: str = "--set") -> Pack:
    """A copy of ``pack`` with configurable parameters set; other parameters cannot be changed."""
    data = pack.model_dump()
    for name, value in values.items():
        if name not in pack.parameters:
            raise UserError(f"pack '{pack.id}' has no parameter '{name}' "
                            f"(parameters: {', '.join(sorted(pack.parameters))})", where=where)
        if not pack.parameters[name].configurable:
            raise UserError(f"parameter '{name}' of pack '{pack.id}' is fixed by the standard, not configurable",
                            where=where)
        data["parameters"][name]["value"] = value
        data["parameters"][name]["assumed"] = False
    return validate_mapping(Pack, data, where)
