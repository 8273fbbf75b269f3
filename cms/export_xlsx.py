"""Excel workbook of the auditor report (openpyxl): one sheet per sheet group of cms.export_model, its
tables stacked (bilingual title row, bilingual header row, data, blank row).

Numbers are written from the engine's Decimals (the XML holds their exact decimal text); dates and
timestamps are text (ISO 8601, UTC) so no spreadsheet time-zone or serial-date conversion touches them.
For reproducibility the archive is rewritten with fixed entry dates and the document properties carry the
inventory's lock time (or its computation time for a draft): the only varying value of a locked
inventory's workbook is the generation timestamp on the cover.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from decimal import Decimal
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from cms.export_model import Report, text

ZIP_DATE = (1980, 1, 1, 0, 0, 0)
TITLE = Font(bold=True, size=12)
HEAD = Font(bold=True)
FILL = PatternFill("solid", fgColor="DDEBF7")
NUMBER_FORMATS = (("(tCO2e)", "#,##0.000###"), ("(kgCO2e)", "#,##0.000"), ("(MWh)", "#,##0.###"))


def _cell(value):
    if value is None:
        return None
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return value
    return text(value)


def workbook(report: Report) -> Workbook:
    wb = Workbook()
    wb.remove(wb.active)
    for sheet in report.sheets:
        ws = wb.create_sheet(sheet[:31])
        widths: dict[int, int] = {}
        r = 1
        for table in (t for t in report.tables if t.sheet == sheet):
            ws.cell(r, 1, table.title).font = TITLE
            if table.note:
                ws.cell(r, 2 if len(table.columns) > 1 else 1, table.note).font = Font(italic=True)
            r += 1
            formats = []
            for c, head in enumerate(table.headers, 1):
                cell = ws.cell(r, c, head)
                cell.font, cell.fill = HEAD, FILL
                cell.alignment = Alignment(wrap_text=True, vertical="top")
                widths[c] = max(widths.get(c, 8), min(40, len(head) + 2))
                formats.append(next((f for key, f in NUMBER_FORMATS if key in head), None))
            if table.key == "ledger":
                ws.freeze_panes = ws.cell(r + 1, 3)
            r += 1
            for row in table.rows:
                for c, value in enumerate(row, 1):
                    cell = ws.cell(r, c, _cell(value))
                    if formats[c - 1] and isinstance(cell.value, Decimal):
                        cell.number_format = formats[c - 1]
                    widths[c] = max(widths.get(c, 8), min(60, len(text(value)) + 2))
                r += 1
            r += 1
        for c, w in widths.items():
            ws.column_dimensions[get_column_letter(c)].width = w
    return wb


def _doc_time(report: Report) -> str:
    h = report.header
    when = h.get("locked_at") or h.get("computed_at")
    if isinstance(when, dt.datetime):
        when = when.astimezone(dt.UTC).replace(tzinfo=None, microsecond=0)
    return when.isoformat() + "Z" if when else "1980-01-01T00:00:00Z"


def xlsx_bytes(report: Report) -> bytes:
    wb = workbook(report)
    wb.properties.creator = "Carbon Cockpit"
    wb.properties.title = f"Scope 1/2 inventory {report.header['node']} {report.header['period_start']}"
    raw = io.BytesIO()
    wb.save(raw)
    stamp = _doc_time(report)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(raw.getvalue())) as src, \
            zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for name in src.namelist():
            data = src.read(name)
            if name == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:)",
                              lambda m: m.group(1) + stamp.encode() + m.group(3), data)
            info = zipfile.ZipInfo(name, ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(info, data)
    return out.getvalue()


def write_xlsx(report: Report, out: Path | str) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(xlsx_bytes(report))
    return out
