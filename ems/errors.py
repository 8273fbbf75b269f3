"""Errors a user can cause. The CLI prints them without a traceback and exits non-zero."""

from __future__ import annotations


class UserError(Exception):
    """A problem with something the user supplied (a file, a value, a setting).

    ``where`` names the place: a file, optionally with line and field, e.g.
    ``examples/plant.yaml, line 12, field 'timezone'``.
    """

    def __init__(self, message: str, *, where: str | None = None):
        self.message = message
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


def location(file: object = None, line: int | None = None, field: str | None = None) -> str:
    """Format a place as 'file, line N, field X' leaving out what is unknown."""
    parts = []
    if file is not None:
        parts.append(str(file))
    if line is not None:
        parts.append(f"line {line}")
    if field:
        parts.append(f"field '{field}'")
    return ", ".join(parts)
