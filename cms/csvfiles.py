"""CSV imports: activity data and the instrument register. Pure parsing and validation.

A file is imported whole or not at all: every rejected row is reported with file, line and field,
and nothing is silently dropped. Header names are matched case-insensitively; spaces and underscores
are interchangeable ("node code" = "node_code"). UTF-8 with or without BOM.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

from cms.activities import ActivityDatum, classify
from cms.instruments import KINDS, Instrument
from cms.numbers import dec
from cms.quantities import quantity
from ems.errors import UserError, location

ACTIVITY_COLUMNS = {"node_code": ("node_code", "node"), "period_start": ("period_start",),
                    "period_end": ("period_end",), "activity": ("activity",), "quantity": ("quantity",),
                    "unit": ("unit",), "evidence": ("evidence",)}
INSTRUMENT_COLUMNS = {"code": ("code",), "kind": ("kind", "type"), "node_code": ("node_code", "node", "plant"),
                      "mwh": ("mwh", "volume_mwh"), "vintage": ("vintage",), "period_start": ("period_start",),
                      "period_end": ("period_end",)}
INSTRUMENT_OPTIONAL = ("registry", "serials", "retired_on", "qc_met", "attributes_sold", "evidence")
_DIMENSIONS = {   # what a unit must measure for each kind of activity
    "electricity_grid": ("energy",), "heat_purchased": ("energy",), "cooling_purchased": ("energy",),
    "steam_purchased": ("energy", "mass"),
}


@dataclass
class Parsed:
    file: str
    sha256: str
    rows: list
    errors: list[str]

    def raise_if_errors(self) -> None:
        if self.errors:
            more = f" (and {len(self.errors) - 5} more)" if len(self.errors) > 5 else ""
            raise UserError(f"{len(self.errors)} row(s) rejected, nothing imported: " + "; ".join(self.errors[:5]) + more)


def _norm(name: str) -> str:
    return name.strip().lstrip("\ufeff").lower().replace(" ", "_").replace("-", "_")


def _read(path: Path, columns: dict[str, tuple[str, ...]]) -> tuple[str, list[tuple[int, dict]], dict[str, str]]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise UserError("file not found", where=str(path)) from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserError("not UTF-8 text", where=str(path)) from exc
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if not header:
        raise UserError("empty file (a header row is needed)", where=location(path, 1))
    names = [_norm(h) for h in header]
    mapping: dict[str, int] = {}
    for want, aliases in columns.items():
        for alias in aliases:
            if alias in names:
                mapping[want] = names.index(alias)
                break
        else:
            raise UserError(f"missing column '{want.replace('_', ' ')}' (header: {', '.join(header)})",
                            where=location(path, 1, want))
    extra = {n: i for i, n in enumerate(names)}
    rows = []
    for line_no, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        row = {k: (cells[i].strip() if i < len(cells) else "") for k, i in mapping.items()}
        row.update({k: (cells[i].strip() if i < len(cells) else "") for k, i in extra.items() if k not in row})
        rows.append((line_no, row))
    return hashlib.sha256(raw).hexdigest(), rows, mapping


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"not a date (YYYY-MM-DD): '{text}'") from exc


def parse_activity_csv(path: Path | str, known_nodes: set[str], entered_by: str) -> Parsed:
    path = Path(path)
    sha, rows, _ = _read(path, ACTIVITY_COLUMNS)
    out, errors = [], []
    for line, row in rows:
        field = "node_code"
        try:
            if row["node_code"] not in known_nodes:
                raise ValueError(f"unknown node '{row['node_code']}'")
            field = "period_start"
            start = _date(row["period_start"])
            field = "period_end"
            end = _date(row["period_end"])
            if end <= start:
                raise ValueError(f"period end {end} is not after period start {start} (end is exclusive)")
            field = "activity"
            kind = classify(row["activity"])
            field = "quantity"
            q = dec(row["quantity"], "quantity")
            if q < 0:
                raise ValueError(f"must not be negative: {row['quantity']}")
            field = "unit"
            _check_unit(row["activity"], kind, row["unit"])
            out.append(ActivityDatum(node=row["node_code"], period_start=start, period_end=end,
                                     activity=row["activity"], quantity=q, unit=row["unit"],
                                     evidence=row["evidence"], source="csv", entered_by=entered_by,
                                     datum_id=line))   # datum_id carries the line until stored
        except ValueError as exc:
            errors.append(f"{location(path, line, field.replace('_', ' '))}: {exc}")
    if not rows:
        errors.append(f"{location(path)}: no data rows")
    return Parsed(str(path), sha, out, errors)


def _check_unit(activity: str, kind, unit: str) -> None:
    q = quantity(unit)   # ValueError for unknown units
    dims = {"energy": "[length] ** 2 * [mass] / [time] ** 2", "mass": "[mass]", "volume": "[length] ** 3"}
    allowed = _DIMENSIONS.get(activity.split(":")[0])
    if allowed is None:
        allowed = ("mass",) if kind.method in ("release", "mass_balance") else ("mass", "volume", "energy")
    if not any(q.check(dims[a]) for a in allowed):
        raise ValueError(f"unit '{unit}' is not a {' or '.join(allowed)} unit for activity '{activity}'")


def _bool(text: str, default: bool) -> bool:
    t = text.strip().lower()
    if not t:
        return default
    if t in ("1", "true", "yes", "y", "met"):
        return True
    if t in ("0", "false", "no", "n", "not met"):
        return False
    raise ValueError(f"expected yes/no, got '{text}'")


def parse_instrument_csv(path: Path | str, known_nodes: set[str]) -> Parsed:
    path = Path(path)
    sha, rows, _ = _read(path, INSTRUMENT_COLUMNS)
    out, errors, seen = [], [], {}
    for line, row in rows:
        field = "code"
        try:
            if not row["code"]:
                raise ValueError("missing")
            if row["code"] in seen:
                raise ValueError(f"duplicate code (also on line {seen[row['code']]})")
            seen[row["code"]] = line
            field = "kind"
            if row["kind"].lower() not in KINDS:
                raise ValueError(f"'{row['kind']}' is not one of {', '.join(KINDS)}")
            field = "node_code"
            if row["node_code"] not in known_nodes:
                raise ValueError(f"unknown node '{row['node_code']}'")
            field = "mwh"
            mwh = dec(row["mwh"], "mwh")
            if mwh <= 0:
                raise ValueError("must be positive")
            field = "vintage"
            vintage = int(row["vintage"])
            field = "period_start"
            start = _date(row["period_start"])
            field = "period_end"
            end = _date(row["period_end"])
            if end <= start:
                raise ValueError("period end is not after period start (end is exclusive)")
            field = "retired_on"
            retired = _date(row["retired_on"]) if row.get("retired_on") else None
            field = "qc_met"
            qc = _bool(row.get("qc_met", ""), True)
            field = "attributes_sold"
            sold = _bool(row.get("attributes_sold", ""), False)
            out.append(Instrument(code=row["code"], kind=row["kind"].lower(), node=row["node_code"], mwh=mwh,
                                  vintage=vintage, period_start=start, period_end=end,
                                  registry=row.get("registry", ""), serials=row.get("serials", ""), retired_on=retired,
                                  qc_met=qc, attributes_sold=sold, evidence=row.get("evidence", ""), instrument_id=line))
        except ValueError as exc:
            errors.append(f"{location(path, line, field.replace('_', ' '))}: {exc}")
    if not rows:
        errors.append(f"{location(path)}: no data rows")
    return Parsed(str(path), sha, out, errors)
