"""Tariff files and versions: load and validate tariff YAML (errors name file, line and field), the
built-in tariffs, the version in force on a day, and which tariff a site has (assignments)."""

from __future__ import annotations

import datetime as dt
import importlib.resources
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ems.analytics.tariff import Tariff, _Model
from ems.errors import UserError, location
from ems.yamlfile import nearest_line, read_yaml_mapping


class TariffAssignment(_Model):
    """Tariff ``tariff_id`` applies to site ``site_code`` from ``valid_from`` until a later assignment."""

    site_code: str
    tariff_id: str
    valid_from: dt.date


# ---------------------------------------------------------------------------------------------- loading

def _error_path(loc: tuple, data: Any, missing: bool) -> tuple:
    """Keep the parts of a pydantic error location that exist in the YAML data (drops union tags)."""
    out: list = []
    cur = data
    for i, key in enumerate(loc):
        if isinstance(cur, dict) and key in cur:
            cur = cur[key]
            out.append(key)
        elif isinstance(cur, list) and isinstance(key, int) and 0 <= key < len(cur):
            cur = cur[key]
            out.append(key)
        elif missing and i == len(loc) - 1 and isinstance(key, str):
            out.append(key)   # a missing field: name it, point at its owner's line
    return tuple(out)


def _hinted(err: Any) -> tuple[tuple, str]:
    """Error location extended by an '@field.index: ' hint at the start of a validator's message."""
    loc, msg = tuple(err["loc"]), err["msg"].removeprefix("Value error, ")
    hint = re.match(r"@([\w.]+): ", msg)
    if hint:
        loc += tuple(int(k) if k.isdigit() else k for k in hint.group(1).split("."))
        msg = msg[hint.end():]
    return loc, msg


def load_tariff(path: str | Path) -> Tariff:
    """Read and validate a tariff YAML file; errors raise UserError naming file, line and field."""
    file = str(path)
    data, lines = read_yaml_mapping(path, "a tariff mapping (id, version, seasons, energy_price ...)")
    try:
        return Tariff.model_validate(data)
    except ValidationError as exc:
        errors = [(e, _error_path(_hinted(e)[0], data, e["type"] == "missing")) for e in exc.errors()]
        err, path_ = max(errors, key=lambda ep: len(ep[1]))   # the most specific (e.g. inside a union)
        msg = _hinted(err)[1]
        if err["type"] == "literal_error" and "'sharp'" in msg:
            msg = f"unknown period {err.get('input')!r}: {msg}"
        others = {p for _, p in errors if p != path_[: len(p)]}   # union alternatives are prefixes
        extra = f" (and {len(others)} more)" if others else ""
        field_name = next((str(k) + "".join(f"[{j}]" for j in path_[i + 1:])
                           for i, k in reversed(list(enumerate(path_))) if isinstance(k, str)), None)
        raise UserError(msg + extra, where=location(file, nearest_line(lines, path_), field_name)) from exc


def load_tariffs(directory: str | Path) -> list[Tariff]:
    """All ``*.yaml`` tariffs in a folder; the same (id, version) twice is an error."""
    tariffs: list[Tariff] = []
    seen: dict[tuple[str, str], str] = {}
    for p in sorted(Path(directory).glob("*.yaml")):
        t = load_tariff(p)
        if (t.id, t.version) in seen:
            raise UserError(f"tariff {t.label} is also defined in {seen[(t.id, t.version)]}",
                            where=location(p, None, "version"))
        seen[(t.id, t.version)] = str(p)
        tariffs.append(t)
    return tariffs


def builtin_tariffs() -> list[Tariff]:
    """The example tariffs shipped in ``ems/data/tariffs`` (Guangdong 2021 TOU, a flat example)."""
    folder = importlib.resources.files("ems").joinpath("data/tariffs")
    with importlib.resources.as_file(folder) as real:
        return load_tariffs(real)


# ---------------------------------------------------------------------------------------- versioning

def tariff_in_force(tariffs: Sequence[Tariff], tariff_id: str, day: dt.date) -> Tariff:
    """The version of ``tariff_id`` in force on ``day`` (the latest ``valid_from`` among those in force)."""
    candidates = [t for t in tariffs if t.id == tariff_id and t.in_force(day)]
    if not candidates:
        raise UserError(f"no version of tariff '{tariff_id}' is in force on {day.isoformat()}")
    return max(candidates, key=lambda t: t.valid_from)


def assigned_tariff(assignments: Sequence[TariffAssignment], tariffs: Sequence[Tariff],
                    site_code: str, day: dt.date) -> Tariff:
    """The tariff (id and version) in force for ``site_code`` on ``day``."""
    current = [a for a in assignments if a.site_code == site_code and a.valid_from <= day]
    if not current:
        raise UserError(f"site '{site_code}' has no tariff assigned on {day.isoformat()}")
    return tariff_in_force(tariffs, max(current, key=lambda a: a.valid_from).tariff_id, day)
