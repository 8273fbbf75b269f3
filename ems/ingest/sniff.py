"""Recognise a historian export: file kind, text encoding, delimiter, header row, layout, columns.

All checks that can reject a file run here, before any reading is produced, so a bad file fails
with one message naming the file, the line and the field, and nothing is half written.
"""

from __future__ import annotations

import codecs
import csv
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from ems.errors import UserError, location
from ems.ingest.timeparse import looks_like_time

HEADER_SEARCH_LINES = 30
_BLOCK = 1 << 20

TIME_NAMES = {"时间", "日期时间", "采集时间", "时间戳", "记录时间", "数据时间", "日期", "time", "timestamp",
              "datetime", "date/time", "date time", "date_time", "ts", "date", "zeit", "zeitstempel"}
TAG_NAMES = {"tag", "tagname", "tag name", "tag_name", "name", "point", "位号", "点位", "测点", "标签", "变量名",
             "点名", "测点名称", "变量", "variable"}
VALUE_NAMES = {"value", "val", "值", "数值", "测量值", "wert"}
QUALITY_NAMES = {"quality", "质量", "状态", "quality code", "品质"}
UNIT_NAMES = {"unit", "units", "单位", "uom"}

_UNIT_RE = re.compile(r"^(?P<tag>.*?)\s*(?:\[(?P<u1>[^\[\]]+)\]|\((?P<u2>[^()]+)\)|（(?P<u3>[^（）]+)）|【(?P<u4>[^【】]+)】)\s*$")


def split_unit(header: str) -> tuple[str, str | None]:
    """``'CH1.kWh [kWh]'`` -> ``('CH1.kWh', 'kWh')``; ``'冷机1电量(kWh)'`` -> ``('冷机1电量', 'kWh')``.

    Text in brackets that is only digits (``Pump(1)``) is part of the name, not a unit.
    """
    h = header.strip()
    m = _UNIT_RE.match(h)
    if not m or not m.group("tag"):
        return h, None
    unit = next(u for u in (m.group("u1"), m.group("u2"), m.group("u3"), m.group("u4")) if u is not None).strip()
    if not unit or unit.isdigit():
        return h, None
    return m.group("tag").strip(), unit


def norm_name(header: str) -> str:
    """Header text for matching against known column names: no BOM, spaces, case, unit."""
    return split_unit(header.replace("\ufeff", "").strip())[0].casefold()


def file_kind(path: Path, head: bytes) -> str:
    """'xlsx', 'text'; raises UserError for .xls, ZIPs that are not workbooks, binary files."""
    where = location(path)
    if head.startswith(b"\xd0\xcf\x11\xe0") or path.suffix.lower() == ".xls":
        raise UserError("old Excel .xls format is not supported: save the sheet as .xlsx or CSV", where=where)
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as z:
                names = set(z.namelist())
        except zipfile.BadZipFile as exc:
            raise UserError(f"not a historian export: a damaged ZIP/xlsx file ({exc})", where=where) from None
        if "xl/workbook.xml" in names:
            return "xlsx"
        raise UserError("not a historian export: a ZIP archive, not an .xlsx workbook or CSV", where=where)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        raise UserError("not a valid .xlsx workbook (the file is not a ZIP package)", where=where)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UserError("UTF-16 text is not supported: save the export as UTF-8 (or GBK) CSV", where=where)
    if not head.strip():
        raise UserError("not a historian export: the file is empty", where=where)
    if b"\x00" in head:
        line = head[: head.index(b"\x00")].count(b"\n") + 1
        raise UserError("not a historian export: binary data (NUL bytes), not CSV text", where=location(path, line))
    return "text"


def _first_bad_line(path: Path, encoding: str) -> tuple[int, int] | None:
    """(byte offset, 1-based line) of the first byte that does not decode, None if all decodes."""
    dec = codecs.getincrementaldecoder(encoding)()
    lines = 0
    offset = 0
    with open(path, "rb") as fh:
        while True:
            block = fh.read(_BLOCK)
            final = not block
            pending = len(dec.getstate()[0])
            try:
                dec.decode(block, final=final)
            except UnicodeDecodeError as exc:
                pos = max(exc.start - pending, 0)
                return offset + pos, lines + block[:pos].count(b"\n") + 1
            if final:
                return None
            lines += block.count(b"\n")
            offset += len(block)


def _cjk_share(text: str) -> float:
    """Share of non-ASCII characters that are CJK ideographs, CJK punctuation or full-width forms."""
    other = [c for c in text if ord(c) > 127]
    if not other:
        return 1.0
    cjk = sum(1 for c in other if "\u4e00" <= c <= "\u9fff" or "\u3000" <= c <= "\u303f"
              or "\uff00" <= c <= "\uffef" or c in "℃°·—“”‘’…")
    return cjk / len(other)


def _looks_like_gbk(path: Path) -> bool:
    """A few GBK byte pairs are also valid UTF-8 ('水' = CB AE = U+02EE). If the head decodes both
    ways and reads as Chinese only in GBK, it is GBK."""
    with open(path, "rb") as fh:
        head = fh.read(65536)
    if head.isascii():
        return False
    cut = head.rfind(b"\n") + 1 or len(head)
    try:
        gb = head[:cut].decode("gb18030")
    except UnicodeDecodeError:
        return False
    utf = head[:cut].decode("utf-8", errors="replace")
    return _cjk_share(gb) > 0.9 and _plausible_share(utf) < 0.5


def _plausible_share(text: str) -> float:
    """Share of non-ASCII characters that real exports use: CJK, European letters, unit symbols."""
    other = [c for c in text if ord(c) > 127]
    if not other:
        return 1.0
    ok = sum(1 for c in other if "\u00b0" <= c <= "\u017f" or "\u0370" <= c <= "\u04ff" or c in "℃µ€–—“”‘’…·"
             or "\u4e00" <= c <= "\u9fff" or "\u3000" <= c <= "\u303f" or "\uff00" <= c <= "\uffef")
    return ok / len(other)


def detect_encoding(path: Path, encoding: str | None) -> tuple[str, str]:
    """(codec for reading, name to report). Tries UTF-8 (BOM or not), then GB18030 (superset of GBK)."""
    with open(path, "rb") as fh:
        bom = fh.read(3) == codecs.BOM_UTF8
    if encoding:
        try:
            name = codecs.lookup(encoding).name
        except LookupError:
            raise UserError(f"unknown text encoding {encoding!r}", where=location(path)) from None
        bad = _first_bad_line(path, name)
        if bad:
            raise UserError(f"the file is not valid {encoding} text (first bad byte at offset {bad[0]})",
                            where=location(path, bad[1]))
        if name == "utf-8" and bom:
            return "utf-8-sig", "utf-8"
        return name, name
    bad_utf8 = _first_bad_line(path, "utf-8")
    if bad_utf8 is None:
        if not bom and _looks_like_gbk(path) and _first_bad_line(path, "gb18030") is None:
            return "gb18030", "gb18030"
        return ("utf-8-sig" if bom else "utf-8"), "utf-8"
    bad_gb = _first_bad_line(path, "gb18030")
    if bad_gb is None:
        return "gb18030", "gb18030"
    offset, line = max(bad_utf8, bad_gb)
    raise UserError(f"broken text encoding: neither UTF-8 nor GBK/GB18030 (first undecodable byte at offset "
                    f"{offset})", where=location(path, line))


def read_head_lines(path: Path, codec: str, n: int = HEADER_SEARCH_LINES + 10) -> list[str]:
    """The first ``n`` physical lines, decoded, without line ends."""
    out: list[str] = []
    with open(path, encoding=codec, newline="") as fh:
        for raw in fh:
            out.append(raw.rstrip("\r\n"))
            if len(out) >= n:
                break
    return out


@dataclass
class Header:
    """What the header row tells: where it is, how fields are split, which column is which."""

    index: int                      # 0-based index of the header row among the rows given
    names: list[str]
    delimiter: str
    time_idx: int
    layout: str                     # 'wide' | 'long'
    tag_idx: int | None = None
    value_idx: int | None = None
    quality_idx: int | None = None
    unit_idx: int | None = None
    decimal: str = "."
    notes: list[str] = field(default_factory=list)


def _find(names: list[str], wanted: set[str]) -> int | None:
    for i, n in enumerate(names):
        if norm_name(n) in wanted:
            return i
    return None


def _time_col(names: list[str], rows: list[list[str]]) -> int | None:
    """Index of the time column given the header and up to 3 following data rows, or None."""
    if not rows:
        return None
    named = _find(names, TIME_NAMES)
    candidates = ([named] if named is not None else []) + list(range(len(names)))
    for c in candidates:
        if all(c < len(r) and looks_like_time(r[c]) for r in rows):
            return c
        if c == named:
            continue
    return None


def _split(line: str, delimiter: str) -> list[str]:
    try:
        return next(csv.reader([line], delimiter=delimiter))
    except (StopIteration, csv.Error):
        return []


def find_header(rows_by_delim: dict[str, list[list[str]]], where_path: Path, layout: str,
                first_line: int = 1) -> Header:
    """Locate the header row: the first row whose next non-blank rows start with timestamps.

    ``rows_by_delim`` maps a delimiter to the split rows of the file head (for Excel, a single
    entry with the cell texts). Raises UserError when no header is found.
    """
    best: Header | None = None
    for delim, rows in rows_by_delim.items():
        for i, names in enumerate(rows[:HEADER_SEARCH_LINES]):
            if best is not None and i > best.index:
                break
            if len([n for n in names if n.strip()]) < 2:
                continue
            following = [r for r in rows[i + 1:i + 8] if any(c.strip() for c in r)][:3]
            following = [r for r in following if len(r) >= 2]
            tcol = _time_col(names, following)
            if tcol is None:
                continue
            if best is None or i < best.index or len(names) > len(best.names):  # earliest, then widest
                best = Header(index=i, names=[n.replace("\ufeff", "").strip() for n in names], delimiter=delim,
                              time_idx=tcol, layout="wide")
    if best is None:
        best = _header_only(rows_by_delim)
    if best is None:
        raise UserError(f"not a historian export: no time column found in the first {HEADER_SEARCH_LINES} lines "
                        "(expected a header row followed by rows starting with timestamps)",
                        where=location(where_path))
    names = best.names
    tag_idx = _find(names, TAG_NAMES)
    value_idx = _find(names, VALUE_NAMES)
    is_long = tag_idx is not None and value_idx is not None
    if layout == "long" or (layout == "auto" and is_long):
        if tag_idx is None or value_idx is None:
            missing = "tag" if tag_idx is None else "value"
            raise UserError(f"long layout needs a {missing} column (header: {', '.join(names)})",
                            where=location(where_path, first_line + best.index))
        best.layout = "long"
        best.tag_idx, best.value_idx = tag_idx, value_idx
        best.quality_idx = _find(names, QUALITY_NAMES)
        best.unit_idx = _find(names, UNIT_NAMES)
    rows = rows_by_delim[best.delimiter]
    if best.delimiter != ",":
        best.decimal = _sniff_decimal(rows[best.index + 1:], best)
    return best


def _header_only(rows_by_delim: dict[str, list[list[str]]]) -> Header | None:
    """An export with a header naming a time column and no data rows at all (nothing to read)."""
    for delim, rows in rows_by_delim.items():
        filled = [(i, r) for i, r in enumerate(rows) if any(c.strip() for c in r)]
        if len(filled) == 0 or len(filled[-1][1]) < 2:
            continue
        i, names = filled[-1]
        tcol = _find(names, TIME_NAMES)
        if tcol is not None and i < HEADER_SEARCH_LINES:
            return Header(index=i, names=[n.replace("\ufeff", "").strip() for n in names], delimiter=delim,
                          time_idx=tcol, layout="wide")
    return None


_COMMA_DEC = re.compile(r"^\s*[+-]?\d+(?:\.\d{3})*,\d+\s*$")
_POINT_DEC = re.compile(r"^\s*[+-]?\d+\.\d+\s*$")


def _sniff_decimal(rows: list[list[str]], header: Header) -> str:
    """',' if value cells in the sample use a decimal comma (and none a decimal point), else '.'."""
    skip = {header.time_idx, header.tag_idx, header.quality_idx, header.unit_idx}
    comma = point = 0
    for r in rows:
        for j, c in enumerate(r):
            if j in skip:
                continue
            if _COMMA_DEC.match(c):
                comma += 1
            elif _POINT_DEC.match(c):
                point += 1
    return "," if comma and not point else "."


def sniff_text(path: Path, codec: str, layout: str) -> Header:
    """Header of a CSV/TXT export: tries the delimiters , ; tab | on the first lines."""
    lines = read_head_lines(path, codec)
    rows_by_delim = {d: [_split(line, d) for line in lines] for d in (",", ";", "\t", "|")}
    return find_header(rows_by_delim, path, layout)
