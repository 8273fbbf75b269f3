"""The factor library: versioned factors as data (cms/data/factors/*.yaml), validation and selection.

A factor is one published number: an emission factor (gas mass per activity unit), a net calorific
value, a carbon content, an oxidation fraction, a steam enthalpy or a GWP. It is identified by
``(id, version)``; a newer version supersedes an older one, never overwrites it. Values are Decimals
taken exactly as written in the source.

Selection rule: for an inventory of year Y, the latest data year <= Y first (one vintage for the whole
inventory where it exists; factors without a data year are timeless), then the most specific region of
the node's region chain (province -> grid region -> country -> GLOBAL) published for that year. Validity
windows, when given, must cover the activity's period start.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields
from decimal import Decimal
from pathlib import Path

import yaml

from cms.numbers import dec
from ems.errors import UserError, location

DATA_DIR = Path(__file__).resolve().parent / "data" / "factors"
KINDS = ("emission", "ncv", "carbon_content", "oxidation", "enthalpy", "gwp")
FIRMNESS = ("S", "S2", "R", "D")
GWP_SETS = ("AR4", "AR5", "AR6")
SERIES = ("location", "residual_proxy", "fossil", "ets")


@dataclass(frozen=True)
class Factor:
    id: str
    version: int
    kind: str
    family: str
    activity: str
    region: str
    value: Decimal
    unit: str
    source: str
    firmness: str
    gas: str | None = None
    gas_basis: str | None = None
    series: str | None = None
    gwp_set: str | None = None
    data_year: int | None = None
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    publication: str | None = None
    notes: str | None = None
    origin: str | None = field(default=None, compare=False)   # file it came from

    @property
    def key(self) -> tuple[str, int]:
        return (self.id, self.version)

    def ref(self) -> dict:
        """What a ledger line records about a factor it used."""
        return {"id": self.id, "version": self.version, "kind": self.kind, "value": str(self.value),
                "unit": self.unit, "gas": self.gas, "data_year": self.data_year, "source": self.source,
                "publication": self.publication, "firmness": self.firmness, "family": self.family}

    def as_record(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "origin"}
        out["value"] = str(self.value)
        for k in ("valid_from", "valid_to"):
            out[k] = out[k].isoformat() if out[k] else None
        return out


_REQUIRED = ("id", "kind", "family", "activity", "region", "value", "unit", "source", "firmness")
_ALLOWED = {f.name for f in fields(Factor)} - {"origin"}


def _date(value, where: str) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise UserError(f"not a date (YYYY-MM-DD): {value!r}", where=where) from exc


def parse_factor(raw: dict, defaults: dict, file: str, line: int | None) -> Factor:
    """Validate one factor mapping (defaults applied). UserError names file, line and field."""
    data = {**defaults, **raw}
    unknown = set(data) - _ALLOWED
    if unknown:
        raise UserError(f"unknown field(s) {sorted(unknown)}", where=location(file, line, sorted(unknown)[0]))
    for name in _REQUIRED:
        if data.get(name) in (None, ""):
            raise UserError("missing", where=location(file, line, name))
    where = lambda f: location(file, line, f)  # noqa: E731
    if data["kind"] not in KINDS:
        raise UserError(f"kind must be one of {', '.join(KINDS)}", where=where("kind"))
    if str(data["firmness"]) not in FIRMNESS:
        raise UserError(f"firmness must be one of {', '.join(FIRMNESS)}", where=where("firmness"))
    if data.get("gwp_set") not in (None, *GWP_SETS):
        raise UserError(f"gwp_set must be one of {', '.join(GWP_SETS)}", where=where("gwp_set"))
    if data.get("series") not in (None, *SERIES):
        raise UserError(f"series must be one of {', '.join(SERIES)}", where=where("series"))
    if data["kind"] in ("emission", "gwp", "carbon_content", "oxidation") and not data.get("gas"):
        raise UserError(f"a {data['kind']} factor needs a gas", where=where("gas"))
    try:
        value = dec(data["value"], "value")
    except ValueError as exc:
        raise UserError(str(exc), where=where("value")) from exc
    if value < 0:
        raise UserError("must not be negative", where=where("value"))
    from cms.quantities import quantity
    try:
        quantity(str(data["unit"]).split("/")[0] if data["kind"] != "gwp" else "1")
        if "/" in str(data["unit"]):
            quantity(str(data["unit"]).split("/", 1)[1])
    except ValueError as exc:
        raise UserError(str(exc), where=where("unit")) from exc
    try:
        version = int(data.get("version") or 1)
        year = int(data["data_year"]) if data.get("data_year") not in (None, "") else None
    except (TypeError, ValueError) as exc:
        raise UserError("must be a whole number", where=where("version/data_year")) from exc
    return Factor(
        id=str(data["id"]), version=version, kind=data["kind"], family=str(data["family"]),
        activity=str(data["activity"]), region=str(data["region"]), value=value, unit=str(data["unit"]),
        source=str(data["source"]), firmness=str(data["firmness"]), gas=data.get("gas"),
        gas_basis=data.get("gas_basis"), series=data.get("series"), gwp_set=data.get("gwp_set"), data_year=year,
        valid_from=_date(data.get("valid_from"), where("valid_from")), valid_to=_date(data.get("valid_to"), where("valid_to")),
        publication=data.get("publication"), notes=data.get("notes"), origin=file)


class _LineLoader(yaml.SafeLoader):
    pass


def _mapping_with_line(loader, node):
    mapping = loader.construct_mapping(node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_with_line)


def load_file(path: Path | str) -> tuple[list[Factor], dict]:
    """Factors of one YAML file, and its extra sections (blends, synonyms, aliases ...)."""
    path = Path(path)
    try:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_LineLoader)
    except FileNotFoundError as exc:
        raise UserError("file not found", where=str(path)) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise UserError(f"not valid YAML: {getattr(exc, 'problem', exc)}",
                        where=location(path, mark.line + 1 if mark else None)) from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("factors", []), list):
        raise UserError("expected a mapping with a 'factors' list", where=str(path))
    defaults = {k: v for k, v in (doc.get("defaults") or {}).items() if k != "__line__"}
    out, seen = [], set()
    for raw in doc.get("factors") or []:
        if not isinstance(raw, dict):
            raise UserError("each factor is a mapping", where=str(path))
        line = raw.pop("__line__", None)
        f = parse_factor(raw, defaults, str(path), line)
        if f.key in seen:
            raise UserError(f"duplicate factor {f.id} version {f.version}", where=location(path, line, "id"))
        seen.add(f.key)
        out.append(f)
    extras = {k: _strip_lines(v) for k, v in doc.items() if k not in ("factors", "defaults", "__line__")}
    return out, extras


def _strip_lines(obj):
    if isinstance(obj, dict):
        return {k: _strip_lines(v) for k, v in obj.items() if k != "__line__"}
    if isinstance(obj, list):
        return [_strip_lines(v) for v in obj]
    return obj


@dataclass
class Library:
    """All factor versions plus the region tree, blend compositions and refrigerant synonyms."""

    factors: list[Factor]
    region_parents: dict[str, str] = field(default_factory=dict)
    region_aliases: dict[str, str] = field(default_factory=dict)
    blends: dict[str, dict] = field(default_factory=dict)
    synonyms: dict[str, str] = field(default_factory=dict)

    def current(self) -> list[Factor]:
        """The newest version of every factor id."""
        best: dict[str, Factor] = {}
        for f in self.factors:
            if f.id not in best or f.version > best[f.id].version:
                best[f.id] = f
        return list(best.values())

    def region_chain(self, region: str | None) -> list[str]:
        """['CN-GD', 'CN-SOUTH', 'CN', 'GLOBAL'] for 'CN-GD'; aliases such as 'south' resolve first."""
        code = self.region_aliases.get((region or "").strip().lower(), (region or "").strip()) or "CN"
        chain = [code]
        while chain[-1] in self.region_parents and len(chain) < 10:
            chain.append(self.region_parents[chain[-1]])
        if "GLOBAL" not in chain:
            chain.append("GLOBAL")
        return chain

    def select(self, *, kind: str, activity: str, region: str | None, year: int, gas: str | None = None,
               family: str | None = None, series: str | None = None, gwp_set: str | None = None,
               on: dt.date | None = None) -> Factor | None:
        """The factor the selection rule picks (see module doc), or None."""
        chain = self.region_chain(region)
        cands = [f for f in self.current() if f.kind == kind and f.activity == activity
                 and (gas is None or f.gas == gas) and (family is None or f.family == family)
                 and (series is None or f.series == series) and (gwp_set is None or f.gwp_set == gwp_set)
                 and f.region in chain and (f.data_year is None or f.data_year <= year)
                 and (on is None or ((f.valid_from is None or f.valid_from <= on) and (f.valid_to is None or on < f.valid_to)))]
        if not cands:
            return None
        return min(cands, key=lambda f: (-(f.data_year or 0), chain.index(f.region), f.id))

    def gases(self, *, kind: str, activity: str, family: str, region: str | None, year: int) -> list[str]:
        chain = self.region_chain(region)
        return sorted({f.gas for f in self.current() if f.kind == kind and f.activity == activity and f.family == family
                       and f.region in chain and f.gas and (f.data_year is None or f.data_year <= year)})


def load_library(extra: list[Factor] | None = None, data_dir: Path = DATA_DIR) -> Library:
    """The built-in library (every YAML file in ``data_dir``), plus ``extra`` versions (e.g. from the database)."""
    factors: list[Factor] = []
    lib = Library(factors)
    for path in sorted(data_dir.glob("*.yaml")):
        found, extras = load_file(path)
        factors.extend(found)
        lib.region_parents.update(extras.get("parents") or {})
        lib.region_aliases.update({k.lower(): v for k, v in (extras.get("aliases") or {}).items()})
        lib.blends.update(extras.get("blends") or {})
        lib.synonyms.update(extras.get("synonyms") or {})
    if extra is not None:
        known = {f.key: i for i, f in enumerate(factors)}
        for f in extra:
            if f.key in known:
                factors[known[f.key]] = f
            else:
                factors.append(f)
    return lib
