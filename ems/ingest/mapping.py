"""Tag mapping file: which export tag feeds which point, in which unit and with which scale.

CSV, UTF-8 (with or without BOM) or GBK/GB18030, header ``tag,point[,unit][,scale]``; the Chinese
headers ``位号,点位编码,单位,倍率`` are accepted too. Blank lines and lines starting with ``#`` are
skipped. Errors name the file, the line and the field.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

from ems.errors import UserError, location

_COLUMNS = {
    "tag": {"tag", "tagname", "tag name", "export tag", "位号", "标签", "测点", "变量名", "点名"},
    "point": {"point", "point code", "point_code", "点位编码", "点位", "点位代码", "计量点"},
    "unit": {"unit", "units", "单位"},
    "scale": {"scale", "factor", "multiplier", "倍率", "系数", "变比"},
}


@dataclass(frozen=True)
class TagMap:
    """Where one export tag goes."""

    point: str           # point code
    unit: str | None     # unit of the values in the export (None: already the point's unit)
    scale: float         # multiply raw values by this first (default 1.0)
    line: int            # line of the mapping file that says so


def _decode(path: Path, data: bytes) -> str:
    """UTF-8 (BOM or not), else GB18030; UserError naming the line of the first bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        utf8_error = exc
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError as exc:
        start = max(utf8_error.start, exc.start)
    line = data[:start].count(b"\n") + 1
    raise UserError("the mapping file is neither UTF-8 nor GBK text", where=location(path, line))


def read_mapping(path: str | Path) -> dict[str, TagMap]:
    """Read a tag mapping file: export tag -> :class:`TagMap`.

    Raises UserError (file, line, field) for a missing column, an empty tag or point, a scale that is
    not a finite non-zero number, or a tag mapped twice to different targets (exact repeats are fine).
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read the mapping file: {exc.strerror}", where=location(p)) from None
    if b"\x00" in data:
        raise UserError("the mapping file is not text (binary data)", where=location(p))
    text = _decode(p, data)
    rows = [(i, r) for i, r in enumerate(csv.reader(io.StringIO(text, newline="")), start=1)]
    rows = [(i, r) for i, r in rows if any(c.strip() for c in r) and not r[0].lstrip().startswith("#")]
    if not rows:
        raise UserError("the mapping file is empty (expected a header tag,point[,unit][,scale])", where=location(p))
    header_line, header = rows[0]
    idx: dict[str, int] = {}
    for j, name in enumerate(header):
        key = name.replace("\ufeff", "").strip().casefold()
        for col, names in _COLUMNS.items():
            if key in names and col not in idx:
                idx[col] = j
    for col in ("tag", "point"):
        if col not in idx:
            raise UserError(f"missing column '{col}' in the header ({', '.join(header)}); expected "
                            "tag,point[,unit][,scale] or 位号,点位编码,单位,倍率", where=location(p, header_line, col))
    out: dict[str, TagMap] = {}

    def cell(row: list[str], col: str) -> str:
        j = idx.get(col)
        return row[j].strip() if j is not None and j < len(row) else ""

    for line, row in rows[1:]:
        tag = cell(row, "tag")
        point = cell(row, "point")
        if not tag:
            raise UserError("empty tag", where=location(p, line, "tag"))
        if not point:
            raise UserError(f"empty point for tag {tag!r}", where=location(p, line, "point"))
        unit = cell(row, "unit") or None
        scale_text = cell(row, "scale")
        scale = 1.0
        if scale_text:
            try:
                scale = float(scale_text.replace(",", ""))
            except ValueError:
                raise UserError(f"scale {scale_text!r} is not a number", where=location(p, line, "scale")) from None
            if not math.isfinite(scale) or scale == 0:
                raise UserError(f"scale {scale_text!r} must be a finite, non-zero number",
                                where=location(p, line, "scale"))
        new = TagMap(point=point, unit=unit, scale=scale, line=line)
        old = out.get(tag)
        if old is not None:
            if (old.point, old.unit, old.scale) != (new.point, new.unit, new.scale):
                raise UserError(f"tag {tag!r} is mapped twice with different targets (line {old.line}: {old.point}; "
                                f"here: {new.point})", where=location(p, line, "tag"))
            continue
        out[tag] = new
    return out
