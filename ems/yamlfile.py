"""Read a YAML file for validation: text, data and the line of every path, with errors naming the file
and line (a missing file, text that is not UTF-8, malformed YAML, a top level that is not a mapping)."""

from __future__ import annotations

from pathlib import Path

import yaml

from ems.errors import UserError, location


def read_yaml_mapping(path: str | Path, what: str) -> tuple[dict, dict[tuple, int]]:
    """(data, lines) of a YAML file whose top level must be a mapping; ``what`` describes that mapping."""
    file = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read file: {exc.strerror}", where=file) from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise UserError("not UTF-8 text (save the YAML file as UTF-8)", where=location(file, line)) from exc
    lines = line_map(text, file)
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise UserError(f"expected {what} at the top", where=location(file, 1))
    return data, lines


def line_map(text: str, file: str) -> dict[tuple, int]:
    """Map each path (keys and list indices) in the YAML document to its 1-based line."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise UserError(f"not valid YAML: {problem}", where=location(file, line)) from exc
    lines: dict[tuple, int] = {}

    def walk(node: yaml.Node, path: tuple) -> None:
        lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                lines[path + (key.value,)] = key.start_mark.line + 1
                walk(value, path + (key.value,))
                lines[path + (key.value,)] = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, path + (i,))

    if root is not None:
        walk(root, ())
    return lines


def nearest_line(lines: dict[tuple, int], path: tuple) -> int | None:
    p = tuple(path)
    while p:
        if p in lines:
            return lines[p]
        p = p[:-1]
    return lines.get(())
