"""PDF of the auditor report (reportlab): the same tables as the workbook, landscape A4, bilingual.

Chinese text uses reportlab's built-in CID font 'STSong-Light' (Adobe-GB1; no font file needed, so it
works on any machine; viewers substitute a Song/Ming face). The line-level ledger is shown with its key
columns; the full ledger (every provenance column) is in the workbook and CSV export. Output is
reproducible: reportlab's invariant mode fixes the document date and ID, so a locked inventory's PDF
depends only on its content and the generation timestamp printed on the cover and in the footer.
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import LongTable, PageBreak, Paragraph, SimpleDocTemplate, Spacer, TableStyle

from cms.export_model import Report, Table, text

FONT = "STSong-Light"
LEDGER_PDF_COLUMNS = (0, 1, 3, 4, 5, 6, 8, 9, 10, 13, 20, 21, 26, 30, 32, 33, 34)
PAGE = landscape(A4)
MARGIN = 12 * mm


def _styles() -> dict[str, ParagraphStyle]:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    base = ParagraphStyle("cell", fontName=FONT, fontSize=6.5, leading=8)
    return {"cell": base, "cjk": ParagraphStyle("cjk", parent=base, wordWrap="CJK"),
            "head": ParagraphStyle("head", parent=base, textColor=colors.HexColor("#1F3864")),
            "h1": ParagraphStyle("h1", parent=base, fontSize=16, leading=20, spaceAfter=8),
            "h2": ParagraphStyle("h2", parent=base, fontSize=10.5, leading=13, spaceBefore=8, spaceAfter=4),
            "note": ParagraphStyle("note", parent=base, fontSize=7, leading=9, textColor=colors.grey)}


def _para(value: str, latin: ParagraphStyle, cjk: ParagraphStyle) -> Paragraph:
    """Chinese text wraps anywhere (CJK rules); other text only at spaces, so words stay whole."""
    return Paragraph(escape(value), cjk if any(ord(ch) > 0x2E7F for ch in value) else latin)


def _widths(columns: list[str], rows: list[list[str]], total: float) -> list[float]:
    weight = []
    for i, head in enumerate(columns):
        longest = max([len(r[i]) for r in rows[:200]] + [min(len(head), 18)])
        weight.append(min(max(longest, 4), 36))
    scale = total / sum(weight)
    return [w * scale for w in weight]


def _table(table: Table, st: dict, columns: tuple[int, ...] | None = None) -> list:
    idx = list(columns) if columns else list(range(len(table.columns)))
    heads = [table.headers[i] for i in idx]
    rows = [[text(r[i]) for i in idx] for r in table.rows]
    out = [Paragraph(escape(table.title), st["h2"])]
    if table.note:
        out.append(Paragraph(escape(table.note), st["note"]))
    if not rows:
        out.append(Paragraph("无 / none", st["cell"]))
        return out
    data = [[Paragraph(escape(h), st["head"]) for h in heads]]
    data += [[_para(c, st["cell"], st["cjk"]) for c in r] for r in rows]
    t = LongTable(data, colWidths=_widths(heads, rows, PAGE[0] - 2 * MARGIN), repeatRows=1)
    t.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                           ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#DDEBF7")),
                           ("VALIGN", (0, 0), (-1, -1), "TOP"),
                           ("LEFTPADDING", (0, 0), (-1, -1), 2), ("RIGHTPADDING", (0, 0), (-1, -1), 2)]))
    out.append(t)
    return out


def pdf_story(report: Report) -> list:
    st = _styles()
    h = report.header
    story = [Paragraph(escape(f"温室气体排放清单（范围一、范围二） / GHG inventory, Scope 1 and 2 — {h['node']} "
                              f"{h['period_start']} – {h['period_end']}"), st["h1"])]
    sheet = None
    for table in report.tables:
        if sheet is not None and table.sheet != sheet:
            story.append(PageBreak())
        sheet = table.sheet
        if table.key == "ledger":
            story += _table(table, st, LEDGER_PDF_COLUMNS)
            story.append(Paragraph("完整明细（全部溯源字段）见 Excel 与 CSV 导出 / the full ledger with every provenance "
                                   "column is in the Excel and CSV exports", st["note"]))
        else:
            story += _table(table, st)
        story.append(Spacer(1, 4 * mm))
    return story


def write_pdf(report: Report, out: Path | str) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    h = report.header
    footer = (f"{h['node']} {h['period_start']}–{h['period_end']} rev {h['revision']} {h['status']} · "
              f"SHA-256 {h['content_hash'] or '—'} · generated {report.generated_at}")

    def on_page(canvas, doc):
        canvas.saveState()
        canvas.setFont(FONT, 6.5)
        canvas.drawString(MARGIN, 6 * mm, footer)
        canvas.drawRightString(PAGE[0] - MARGIN, 6 * mm, f"{doc.page}")
        canvas.restoreState()

    doc = SimpleDocTemplate(str(out), pagesize=PAGE, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN,
                            bottomMargin=MARGIN + 4 * mm, invariant=1, title=f"GHG inventory {h['node']}",
                            author="Carbon Cockpit", creator="Carbon Cockpit", producer="Carbon Cockpit")
    doc.build(pdf_story(report), onFirstPage=on_page, onLaterPages=on_page)
    return out
