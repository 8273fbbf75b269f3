"""Numbers in historian exports: parse value cells and classify the ones that are not numbers.

Pure functions over pandas/numpy. The fast path is ``pd.to_numeric`` on the whole column; only the
cells it rejects are cleaned (thousands separators, full-width digits, decimal comma) and, if still
not numbers, classified into a reject reason.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

# Reason codes (exact strings, shared with the quarantine table).
UNPARSEABLE_VALUE = "unparseable_value"
MISSING_MARKER = "missing_marker"
EXCEL_ERROR = "excel_error"
NON_FINITE = "non_finite"

#: Explicit "no data" markers seen in historian/SCADA exports (compared case-insensitively, stripped).
MISSING_MARKERS = frozenset(
    s.casefold()
    for s in (
        "--", "-", "---", "—", "——", "N/A", "NA", "n.a.", "NaN", "null", "none", "nil", "#N/A", "#NV", "无", "/",
        "空", "缺失", "无数据", "暂无", "不可用", "?", "??", "no data", "nodata", "missing",
    )
)
#: Excel error values (``#N/A`` is treated as a missing marker above).
_EXCEL_ERROR_RE = re.compile(r"^#(?:VALUE!|DIV/0!|REF!|NAME\?|NUM!|NULL!|GETTING_DATA|SPILL!|CALC!|FIELD!|BLOCKED!|CONNECT!|UNKNOWN!|BUSY!|EXTERNAL!|PYTHON!)$", re.I)
_FULLWIDTH = str.maketrans("０１２３４５６７８９．，－＋ｅＥ", "0123456789.,-+eE")
_THOUSANDS_DOT_DECIMAL = re.compile(r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?(?:[eE][+-]?\d+)?$")
_THOUSANDS_COMMA_DECIMAL = re.compile(r"^[+-]?\d{1,3}(?:\.\d{3})+(?:,\d*)?$")

#: Reason codes as small integers in the per-cell reason arrays (0 = no problem).
REASONS = (None, UNPARSEABLE_VALUE, MISSING_MARKER, EXCEL_ERROR, NON_FINITE)
R_OK, R_UNPARSEABLE, R_MISSING, R_EXCEL, R_NONFINITE = range(5)

DETAILS = {
    UNPARSEABLE_VALUE: "value is not a number",
    MISSING_MARKER: "explicit no-data marker",
    EXCEL_ERROR: "Excel error value",
    NON_FINITE: "value is not finite",
}


def classify_text(text: str) -> int:
    """Reason code (``R_*``) for a cell text that is not a number."""
    t = text.strip()
    if t.casefold() in MISSING_MARKERS:
        return R_MISSING
    if _EXCEL_ERROR_RE.match(t):
        return R_EXCEL
    return R_UNPARSEABLE


def clean_number_text(text: str, decimal: str = ".") -> str:
    """Normalise one number text: full-width digits, spaces, thousands separators, decimal comma.

    Thousands separators are removed only when they group digits in threes (``1,234.5``;
    ``1.234,5`` with ``decimal=','``), so ``1,5`` in a point-decimal file stays unparseable.
    """
    t = text.translate(_FULLWIDTH).strip().replace("\u00a0", "").replace("\u202f", "")
    if decimal == ",":
        if _THOUSANDS_COMMA_DECIMAL.match(t):
            t = t.replace(".", "")
        return t.replace(",", ".")
    if _THOUSANDS_DOT_DECIMAL.match(t):
        t = t.replace(",", "")
    return t


def parse_values(col: pd.Series | np.ndarray, decimal: str = ".") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parse one column of value cells.

    ``col`` holds floats (already parsed by the CSV reader or Excel), strings, or missing values
    (NaN/None = empty cell). Returns ``(values, reasons, empty)``: float64 values (NaN where there
    is no usable number), int8 reason codes (``R_*``; 0 for good numbers and empty cells) and a
    bool mask of empty cells (no text at all, or only spaces).
    """
    s = pd.Series(col, copy=False)
    if s.dtype.kind in "fiu":
        values = s.to_numpy(dtype=np.float64, copy=True)
        empty = np.isnan(values)
        reasons = np.zeros(len(values), dtype=np.int8)
        reasons[np.isinf(values)] = R_NONFINITE
        return values, reasons, empty
    obj = s.astype(object)
    isnull = obj.isna().to_numpy()
    reasons = np.zeros(len(obj), dtype=np.int8)
    empty = isnull.copy()
    if decimal == ",":
        # Every cell goes through the cleaner: '1.234' means 1234 in a decimal-comma file.
        values = np.full(len(obj), np.nan)
        todo = np.flatnonzero(~isnull)
    else:
        values = pd.to_numeric(obj, errors="coerce").to_numpy(dtype=np.float64, copy=True)
        todo = np.flatnonzero(np.isnan(values) & ~isnull)
    for i in todo:
        raw = obj.iat[i]
        if isinstance(raw, float | int | np.floating | np.integer):
            values[i] = float(raw)
            continue
        text = raw if isinstance(raw, str) else str(raw)
        cleaned = clean_number_text(text, decimal)
        if cleaned == "":
            empty[i] = True
            continue
        try:
            v = float(cleaned)
        except ValueError:
            v = float("nan")
        if np.isnan(v):
            reasons[i] = classify_text(text)
        else:
            values[i] = v
    reasons[np.isinf(values)] = R_NONFINITE
    return values, reasons, empty


def raw_text(cell: object) -> str:
    """The text to keep in the quarantine for a cell (floats in their shortest round-trip form)."""
    if cell is None:
        return ""
    if isinstance(cell, float | np.floating):
        f = float(cell)
        return repr(int(f)) if f.is_integer() and abs(f) < 1e16 else repr(f)
    return str(cell)
