"""Read a plant YAML file into a flat, validated asset model; every error names file, line and field."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ems.assets.model import NodeSpec, PlantFile, PointSpec
from ems.errors import UserError, location
from ems.yamlfile import nearest_line, read_yaml_mapping


@dataclass(frozen=True)
class FlatNode:
    code: str
    parent_code: str | None
    level: str
    name_zh: str | None
    name_en: str | None
    timezone: str
    grid_region: str | None
    ownership_share: float
    operational_control: bool
    financial_control: bool
    attrs: dict
    line: int


@dataclass(frozen=True)
class FlatPoint:
    spec: PointSpec
    node_code: str
    line: int


@dataclass
class AssetModel:
    file: str
    nodes: list[FlatNode] = field(default_factory=list)
    points: list[FlatPoint] = field(default_factory=list)


def _describe(path: tuple, data: Any) -> str:
    """Human path such as "node 'PLANT-A' > point 'CH1.kWh'" for an error location."""
    parts, cur = [], data
    for key in path:
        try:
            cur = cur[key]
        except (KeyError, IndexError, TypeError):
            break
        if isinstance(key, int) and isinstance(cur, dict) and "code" in cur:
            parts.append(f"'{cur['code']}'")
    return " > ".join(parts)


def load_asset_file(path: str | Path) -> AssetModel:
    file = str(path)
    data, lines = read_yaml_mapping(path, "a mapping with a 'nodes' list")
    try:
        plant = PlantFile.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        hint = re.match(r"@(\w+): ", msg)
        if hint:
            loc, msg = loc + (hint.group(1),), msg[hint.end():]
        field_name = next((str(k) for k in reversed(loc) if isinstance(k, str)), None)
        owner = _describe(loc, data)
        if owner:
            msg = f"{owner}: {msg}"
        extra = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        raise UserError(msg + extra, where=location(file, nearest_line(lines, loc), field_name)) from exc
    return _flatten(plant, file, lines)


def _flatten(plant: PlantFile, file: str, lines: dict[tuple, int]) -> AssetModel:
    model = AssetModel(file=file)
    seen: dict[str, int] = {}

    def claim(code: str, line: int, what: str) -> None:
        if code in seen:
            raise UserError(f"{what} code '{code}' is used twice (first on line {seen[code]})",
                            where=location(file, line, "code"))
        seen[code] = line

    def visit(node: NodeSpec, parent: FlatNode | None, path: tuple) -> None:
        line = lines.get(path, 0)
        claim(node.code, line, "node")
        tz = node.timezone or (parent.timezone if parent else None)
        if tz is None:
            raise UserError(f"node '{node.code}' needs a timezone (the root node must set one)",
                            where=location(file, line, "timezone"))
        flat = FlatNode(
            code=node.code, parent_code=parent.code if parent else None, level=node.level,
            name_zh=node.name.zh, name_en=node.name.en, timezone=tz,
            grid_region=node.grid_region or (parent.grid_region if parent else None),
            ownership_share=node.ownership_share if node.ownership_share is not None
            else (parent.ownership_share if parent else 1.0),
            operational_control=node.operational_control if node.operational_control is not None
            else (parent.operational_control if parent else True),
            financial_control=node.financial_control if node.financial_control is not None
            else (parent.financial_control if parent else True),
            attrs=dict(node.attrs) | ({"tariffs": [{"tariff": t.tariff, "from": t.valid_from.isoformat()}
                                                   for t in node.tariffs]} if node.tariffs else {}),
            line=line,
        )
        model.nodes.append(flat)
        for i, pt in enumerate(node.points):
            pline = lines.get(path + ("points", i), line)
            claim(pt.code, pline, "point")
            model.points.append(FlatPoint(spec=pt, node_code=node.code, line=pline))
        for i, child in enumerate(node.children):
            visit(child, flat, path + ("children", i))

    for i, root in enumerate(plant.nodes):
        visit(root, None, ("nodes", i))

    point_codes = {p.spec.code for p in model.points}
    for p in model.points:
        if p.spec.parent and p.spec.parent not in point_codes:
            raise UserError(f"point '{p.spec.code}': parent meter '{p.spec.parent}' is not a point in this file",
                            where=location(file, p.line, "parent"))
        if p.spec.formula:
            for ref in formula_references(p.spec.formula):
                if ref not in point_codes:
                    raise UserError(f"point '{p.spec.code}': formula refers to unknown point '{ref}'",
                                    where=location(file, p.line, "formula"))
    return model


def formula_references(formula: str) -> list[str]:
    """Point codes used in a virtual-meter formula such as 'MAIN.kWh - CH1.kWh - 0.5 * AUX.kWh'.

    Operators and parentheses are separated from codes by spaces (codes may contain '-' and '.').
    """
    refs = []
    for token in re.split(r"[\s()]+", formula):
        if not token or token in {"+", "-", "*", "/"}:
            continue
        try:
            float(token)
        except ValueError:
            refs.append(token)
    return refs
