"""Write report tables as CSV (UTF-8 with BOM, so Excel reads Chinese names) and Excel workbooks: an
About sheet of (label, value) rows, then one sheet per table with bold headers, frozen header row and
number formats by column name (``*_cny`` and ``kwh``: thousands with 2 decimals; ``*price*``: 4)."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from ems.errors import UserError


def targets_of(path: str | Path) -> list[Path]:
    """``path`` itself when it ends in .csv or .xlsx, else both ``path.csv`` and ``path.xlsx``."""
    path = Path(path)
    if path.suffix.lower() in {".csv", ".xlsx"}:
        return [path]
    return [path.with_name(path.name + ".csv"), path.with_name(path.name + ".xlsx")]


def write_tables(path: str | Path, csv_table: pd.DataFrame, write_xlsx: Callable[[Path], None], what: str
                 ) -> list[Path]:
    """Write ``csv_table`` to the .csv target and call ``write_xlsx(target)`` for the .xlsx one."""
    targets = targets_of(path)
    for target in targets:
        try:
            if target.suffix.lower() == ".csv":
                csv_table.to_csv(target, index=False, encoding="utf-8-sig")
            else:
                write_xlsx(target)
        except OSError as exc:
            raise UserError(f"cannot write {what}: {exc.strerror}", where=str(target)) from exc
    return targets


def _cell(v):
    if isinstance(v, float) and math.isnan(v):
        return None
    return v.item() if isinstance(v, np.generic) else v


def workbook(about_title: str, about: list[tuple[str, str]], sheets: list[tuple[str, pd.DataFrame]], target: Path
             ) -> None:
    """Save a workbook: the About sheet, then each (title, frame) as a formatted table."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = about_title
    for key, value in about:
        ws.append([key, value])
    for cell in ws["A"]:
        cell.font = Font(bold=True)
    ws.column_dimensions["A"].width, ws.column_dimensions["B"].width = 30, 110
    for title, frame in sheets:
        ws = wb.create_sheet(title)
        ws.append(list(frame.columns))
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for row in frame.itertuples(index=False):
            ws.append([_cell(v) for v in row])
        for col, name in enumerate(frame.columns, start=1):
            fmt = "#,##0.00" if name.endswith("_cny") or name == "kwh" else "0.0000" if "price" in name else None
            if fmt:
                for (cell,) in ws.iter_rows(min_row=2, min_col=col, max_col=col):
                    cell.number_format = fmt
        ws.freeze_panes = "A2"
    wb.save(target)
