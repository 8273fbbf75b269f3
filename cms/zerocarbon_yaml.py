"""Validate a YAML file (or an in-memory mapping) against a pydantic model; errors name file, line and field.

Shared by the zero-carbon criteria packs, the zero-carbon input records and the target files. Errors
found across fields start with ``@field: `` so the error points at that field's line (house style of
``ems.assets.loader``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from ems.errors import UserError, location
from ems.yamlfile import nearest_line, read_yaml_mapping

M = TypeVar("M", bound=BaseModel)


def validate_mapping(model: type[M], data: dict, file: str, lines: dict[tuple, int] | None = None) -> M:
    """``model`` validated from ``data``; a failure raises UserError naming file, line and field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        hint = re.match(r"@(\w+): ", msg)
        if hint:
            loc, msg = loc + (hint.group(1),), msg[hint.end():]
        field_name = next((str(k) for k in reversed(loc) if isinstance(k, str)), None)
        extra = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        line = nearest_line(lines, loc) if lines else None
        raise UserError(msg + extra, where=location(file, line, field_name)) from exc


def load_model(path: str | Path, model: type[M], what: str) -> tuple[M, dict[tuple, int]]:
    """(validated model, line map) of the YAML file at ``path``."""
    data, lines = read_yaml_mapping(path, what)
    return validate_mapping(model, data, str(path), lines), lines
