"""Read historian exports saved as Excel workbooks (.xlsx/.xlsm) with openpyxl in read-only mode.

Rows are numbered as in the sheet (1-based). Date cells come through as ``datetime`` objects, numbers
as numbers, Excel errors (``#DIV/0!``) as their text, formulas as their cached value.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time
from pathlib import Path

import numpy as np
import pandas as pd

from ems.errors import UserError, location


@contextmanager
def open_sheet(path: Path, sheet: str | int | None):
    """Yield the chosen worksheet (first sheet by default) of a workbook opened read-only."""
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise UserError(f"cannot open the workbook: {exc}", where=location(path)) from None
    try:
        if sheet is None:
            ws = wb.worksheets[0]
        elif isinstance(sheet, int):
            if not 0 <= sheet < len(wb.worksheets):
                raise UserError(f"the workbook has no sheet number {sheet}", where=location(path))
            ws = wb.worksheets[sheet]
        else:
            if sheet not in wb.sheetnames:
                raise UserError(f"the workbook has no sheet {sheet!r} (sheets: {', '.join(wb.sheetnames)})",
                                where=location(path))
            ws = wb[sheet]
        yield ws
    finally:
        wb.close()


def cell_text(v: object) -> str:
    """Text of a cell as a reader would see it (for header detection)."""
    if v is None:
        return ""
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(v, date | time):
        return v.isoformat()
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def sheet_head(path: Path, sheet: str | int | None, n: int) -> list[list[str]]:
    """The first ``n`` rows as lists of cell texts."""
    out: list[list[str]] = []
    with open_sheet(path, sheet) as ws:
        for row in ws.iter_rows(min_row=1, max_row=n, values_only=True):
            out.append([cell_text(v) for v in row])
    return out


def _cell(v: object) -> object:
    if v is None or isinstance(v, datetime | float | int) and not isinstance(v, bool):
        return v
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, date):
        return datetime(v.year, v.month, v.day)
    return str(v)


def sheet_rows(path: Path, sheet: str | int | None, first_row: int, ncols: int, rows_per_chunk: int,
               usecols: list[int] | None = None) -> Iterator[tuple[int, pd.DataFrame]]:
    """(first row number, frame) chunks from ``first_row`` on; columns 0..ncols, where column ``ncols``
    holds the first non-empty cell beyond the header's width (None when there is none)."""
    cols = list(range(ncols + 1)) if usecols is None else list(usecols)
    with open_sheet(path, sheet) as ws:
        buf: list[list[object]] = []
        start = first_row
        for row in ws.iter_rows(min_row=first_row, values_only=True):
            cells = [_cell(v) for v in row[:ncols]]
            cells += [None] * (ncols - len(cells))
            extra = next((cell_text(v) for v in row[ncols:] if v is not None and cell_text(v).strip()), None)
            cells.append(extra)
            buf.append(cells)
            if len(buf) >= rows_per_chunk:
                yield start, _frame(buf, cols)
                start += len(buf)
                buf = []
        if buf:
            yield start, _frame(buf, cols)


def _frame(buf: list[list[object]], cols: list[int]) -> pd.DataFrame:
    arr = np.empty((len(buf), len(buf[0])), dtype=object)
    arr[:] = buf
    return pd.DataFrame({c: arr[:, c] for c in cols})
