"""Parse chunks of a recognised historian export into readings, rejects and held-back rows.

Internal to ``ems.ingest.historian`` (see its docstring for the approach). Vectorised numpy/pandas;
Python loops run only over columns, distinct texts and rejected cells.
"""

from __future__ import annotations

import csv
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ems.errors import UserError, location
from ems.ingest import numbers as num
from ems.ingest import timeparse as tp
from ems.ingest.sniff import Header
from ems.ingest.xlsx import sheet_rows

# Reason codes beyond the value codes in ems.ingest.numbers.
UNPARSEABLE_TIME = "unparseable_time"
NONEXISTENT_LOCAL_TIME = "nonexistent_local_time"
AMBIGUOUS_LOCAL_TIME = "ambiguous_local_time"
MISSING_TIME = "missing_time"
MISSING_TAG = "missing_tag"
SOURCE_BAD_QUALITY = "source_bad_quality"
DUPLICATE_CONFLICT = "duplicate_conflict"

#: Largest number of cells (rows x tag columns) in one wide chunk, to bound memory.
MAX_WIDE_CELLS = 2_000_000

TIME_REASON = {tp.T_MISSING: MISSING_TIME, tp.T_UNPARSEABLE: UNPARSEABLE_TIME,
                tp.T_NONEXISTENT: NONEXISTENT_LOCAL_TIME}
GOOD_QUALITY = {"", "good", "ok", "normal", "valid", "true", "g", "正常", "好", "良好", "有效", "优"}
REJECT_COLUMNS = ["line", "tag", "raw", "ts_text", "reason", "detail"]


@dataclass
class Plan:
    """Everything needed to read the data rows of one recognised export."""

    path: Path
    kind: str                         # 'text' | 'xlsx'
    codec: str
    header: Header
    tz: str
    shift_ns: int
    rows_per_chunk: int
    sheet: str | int | None
    tags: list[str]                   # wide: tag per value column; long: []
    value_cols: list[int]
    categories: list[str] = field(default_factory=list)          # wide: distinct tags
    tag_codes: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))  # wide: category per column
    fmt: str | None = None
    dup_ts: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    dup_keys: pd.MultiIndex | None = None

    @property
    def ncols(self) -> int:
        return len(self.header.names)

    @property
    def first_data_line(self) -> int:
        return self.header.index + 2


# ----------------------------------------------------------------------------------------------- sources

def csv_chunks(plan: Plan, usecols: list[int] | None = None) -> Iterator[tuple[int, pd.DataFrame]]:
    """(first line, frame) per chunk; frame columns are positions 0..ncols (ncols = 'extra field')."""
    h = plan.header
    str_cols = {h.time_idx, plan.ncols} | {c for c in (h.tag_idx, h.quality_idx, h.unit_idx) if c is not None}
    dtype = {c: object for c in str_cols if usecols is None or c in usecols}
    line = plan.first_data_line
    with open(plan.path, encoding=plan.codec, newline=None) as fh, warnings.catch_warnings():
        # pandas drops surplus fields of a chunk's first row with only a warning: make it an error.
        warnings.simplefilter("error", pd.errors.ParserWarning)
        for _ in range(h.index + 1):
            fh.readline()
        try:
            reader = pd.read_csv(
                fh, sep=h.delimiter, header=None, names=list(range(plan.ncols + 1)), index_col=False,
                usecols=usecols, dtype=dtype, keep_default_na=False, na_values=[""], skip_blank_lines=False,
                decimal=h.decimal, chunksize=plan.rows_per_chunk, engine="c", quotechar='"',
            )
            for frame in reader:
                yield line, frame
                line += len(frame)
        except (pd.errors.ParserError, pd.errors.ParserWarning) as exc:
            raise _split_error(plan, line, exc) from None


def _split_error(plan: Plan, line: int, exc: Exception) -> UserError:
    """A clear message for a CSV the tokenizer cannot split: find the first row with surplus fields."""
    h = plan.header
    with open(plan.path, encoding=plan.codec, newline="") as fh:
        for _ in range(h.index + 1):
            fh.readline()
        reader = csv.reader(fh, delimiter=h.delimiter, strict=True)
        try:
            for row in reader:
                if len(row) > plan.ncols + 1 or (len(row) == plan.ncols + 1 and row[-1].strip()):
                    return UserError(f"row has {len(row)} fields but the header has {plan.ncols}",
                                     where=location(plan.path, h.index + 1 + reader.line_num))
        except csv.Error as err:
            return UserError(f"cannot split the row into fields ({err}; unbalanced quote?)",
                             where=location(plan.path, h.index + 1 + reader.line_num))
    m = re.search(r"row (\d+)", str(exc))
    bad = plan.first_data_line + int(m.group(1)) if m else line
    return UserError(f"cannot split the file into fields ({str(exc).split('C error: ')[-1].strip()})",
                     where=location(plan.path, bad))


def chunks(plan: Plan, usecols: list[int] | None = None) -> Iterator[tuple[int, pd.DataFrame]]:
    if plan.kind == "xlsx":
        yield from sheet_rows(plan.path, plan.sheet, plan.header.index + 2, plan.ncols, plan.rows_per_chunk,
                              usecols)
    else:
        yield from csv_chunks(plan, usecols)


# --------------------------------------------------------------------------------------------- helpers

def ts_index(utc_ns: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(np.asarray(utc_ns, dtype=np.int64).view("M8[ns]")).tz_localize("UTC")


def empty_readings() -> pd.DataFrame:
    return pd.DataFrame({"line": np.empty(0, np.int64), "tag": pd.Categorical([]),
                         "ts": ts_index(np.empty(0, np.int64)), "value": np.empty(0, np.float64)})


def rejects_frame(parts: list[dict[str, object]]) -> pd.DataFrame:
    """Concatenate reject column dicts (each value an array or list of equal length)."""
    parts = [p for p in parts if len(p["line"])]  # type: ignore[arg-type]
    if not parts:
        return pd.DataFrame({c: pd.Series([], dtype=np.int64 if c == "line" else object) for c in REJECT_COLUMNS})
    cols: dict[str, object] = {}
    for c in REJECT_COLUMNS:
        arrs = [np.asarray(p[c], dtype=np.int64 if c == "line" else object) for p in parts]
        cols[c] = pd.Series(np.concatenate(arrs), dtype=np.int64 if c == "line" else object)
    out = pd.DataFrame(cols)  # object columns stay object (None for missing), not pandas' str dtype
    return out.sort_values("line", kind="stable", ignore_index=True)


def reject_part(line: np.ndarray, tag: object, raw: object, ts_text: object, reason: str | np.ndarray,
         detail: str | np.ndarray) -> dict[str, object]:
    n = len(line)

    def full(v: object) -> object:
        if isinstance(v, np.ndarray | list | pd.Series):
            return np.asarray(v, dtype=object)
        out = np.empty(n, dtype=object)
        out[:] = [v] * n
        return out

    return {"line": np.asarray(line, np.int64), "tag": full(tag), "raw": full(raw), "ts_text": full(ts_text),
            "reason": full(reason), "detail": full(detail)}


def cell_texts(col: pd.Series | np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Raw cell texts of ``col`` at ``rows`` (None for empty cells)."""
    vals = pd.Series(col, copy=False).to_numpy(dtype=object)[rows]
    return np.array([None if (v is None or (isinstance(v, float) and np.isnan(v))) else num.raw_text(v)
                     for v in vals], dtype=object)


def _quality_bad(col: pd.Series) -> np.ndarray:
    """True where the source quality says bad/uncertain. OPC codes: 192..255 good; 1 = good flag."""
    codes, uniq = pd.factorize(col.astype(object), use_na_sentinel=True)
    bad_u = np.zeros(len(uniq), dtype=bool)
    for i, q in enumerate(uniq):
        t = str(q).strip().casefold()
        if t in GOOD_QUALITY:
            continue
        try:
            v = int(t, 16) if t.startswith("0x") else int(float(t))
        except ValueError:
            bad_u[i] = True
            continue
        bad_u[i] = not (v == 1 or (v & 0xC0) == 0xC0)
    out = np.zeros(len(codes), dtype=bool)
    has = codes >= 0
    out[has] = bad_u[codes[has]]
    return out


def resolve_duplicates(df: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, object], int]:
    """Settle rows sharing (tag, ts): exact repeats -> first copy; conflicting values -> all rejected.

    ``df`` has line, tag, ts (int64 UTC ns), value, raw, ts_text. Returns (kept rows, reject dict,
    number of exact duplicates dropped).
    """
    dup = df.duplicated(["tag", "ts"], keep=False).to_numpy()
    if not dup.any():
        return df, reject_part(np.empty(0, np.int64), None, None, None, "", ""), 0
    d = df[dup]
    nun = d.groupby(["tag", "ts"], sort=False, observed=True)["value"].transform("nunique").to_numpy()
    same = d[nun == 1].sort_values("line", kind="stable")
    kept_same = same.drop_duplicates(["tag", "ts"], keep="first")
    exact = len(same) - len(kept_same)
    conf = d[nun > 1].sort_values("line", kind="stable")
    details = []
    for _, grp in conf.groupby(["tag", "ts"], sort=False, observed=True):
        pairs = list(zip(grp["line"].tolist(), grp["value"].tolist(), strict=True))
        for ln, _v in pairs:
            others = ", ".join(f"{num.raw_text(v)} (line {o})" for o, v in pairs if o != ln)
            details.append((ln, f"same tag and time in this file with other value(s): {others}"))
    detail_by_line = {}
    for ln, text in details:
        detail_by_line.setdefault(ln, text)
    rej = reject_part(conf["line"].to_numpy(), conf["tag"].astype(object).to_numpy(), conf["raw"].to_numpy(),
               conf["ts_text"].to_numpy(), DUPLICATE_CONFLICT,
               np.array([detail_by_line[ln] for ln in conf["line"].tolist()], dtype=object))
    kept = pd.concat([df[~dup], kept_same]).sort_values("line", kind="stable")
    return kept, rej, exact


def readings_frame(line: np.ndarray, tag: pd.Categorical | np.ndarray, ts_ns: np.ndarray,
                    value: np.ndarray) -> pd.DataFrame:
    if not isinstance(tag, pd.Categorical):
        tag = pd.Categorical(np.asarray(tag, dtype=object))
    ts = pd.Series(np.ascontiguousarray(ts_ns, dtype=np.int64).view("M8[ns]"), copy=False).dt.tz_localize("UTC")
    return pd.DataFrame({"line": np.asarray(line, np.int64), "tag": tag, "ts": ts.array,
                         "value": np.asarray(value, np.float64)}, copy=False)


# ------------------------------------------------------------------------------------- chunk parsing

@dataclass
class Held:
    """Rows held back for the final chunk (ambiguous local times, duplicate keys)."""

    frames: list[pd.DataFrame] = field(default_factory=list)

    def add(self, line: np.ndarray, tag: np.ndarray, group: np.ndarray, status: np.ndarray, utc: np.ndarray,
            local: np.ndarray, ts_text: np.ndarray, value: np.ndarray, raw: np.ndarray) -> None:
        if len(line):
            self.frames.append(pd.DataFrame({
                "line": line, "tag": np.asarray(tag, dtype=object), "group": group, "status": status,
                "utc": utc, "local": local, "ts_text": ts_text, "value": value, "raw": raw}))


def held_mask(plan: Plan, status: np.ndarray, utc: np.ndarray, tags: np.ndarray | None) -> np.ndarray:
    """Rows to hold back: ambiguous local times, and keys found twice by the pre-scan."""
    held = status == tp.T_AMBIGUOUS
    if len(plan.dup_ts):
        cand = (status == tp.T_OK) & np.isin(utc, plan.dup_ts)
        if tags is None or plan.dup_keys is None:
            held |= cand
        elif cand.any():
            idx = np.flatnonzero(cand)
            keys = pd.MultiIndex.from_arrays([np.asarray(tags, dtype=object)[idx], utc[idx]])
            held[idx[keys.isin(plan.dup_keys)]] = True
    return held


def parse_wide(plan: Plan, first_line: int, df: pd.DataFrame, held: Held
                ) -> tuple[pd.DataFrame, list[dict[str, object]], int]:
    h = plan.header
    n = len(df)
    lines = first_line + np.arange(n, dtype=np.int64)
    tcol = df[h.time_idx]
    tr = tp.parse_times(tcol, plan.tz, plan.fmt)
    plan.fmt = tr.fmt or plan.fmt
    utc = np.where(tr.status == tp.T_OK, tr.utc_ns + plan.shift_ns, tp.NAT)
    m = len(plan.value_cols)
    vals = np.empty((n, m), dtype=np.float64)
    empty = np.empty((n, m), dtype=bool)
    reasons = np.zeros((n, m), dtype=np.int8)
    for j, c in enumerate(plan.value_cols):
        v, r, e = num.parse_values(df[c], h.decimal)
        vals[:, j] = v
        empty[:, j] = e
        if r.any():
            reasons[:, j] = r
    status = tr.status
    blank = (status == tp.T_MISSING) & empty.all(axis=1)
    named = np.array([bool(h.names[c].strip()) for c in plan.value_cols], dtype=bool)
    empty_cells = int(empty[~blank][:, named].sum())
    rej: list[dict[str, object]] = []
    ts_text_all = None
    bad_time = (status != tp.T_OK) & (status != tp.T_AMBIGUOUS) & ~blank
    has_val_reason = reasons.any(axis=1)
    if bad_time.any() or has_val_reason.any():
        ts_text_all = cell_texts(tcol, np.arange(n))
    if bad_time.any():
        for st, reason in TIME_REASON.items():
            rows = np.flatnonzero(bad_time & (status == st))
            if not len(rows):
                continue
            for j, c in enumerate(plan.value_cols):
                rr = rows[~empty[rows, j]]
                if len(rr):
                    detail = time_detail(reason, h.names[h.time_idx], plan.tz)
                    rej.append(reject_part(lines[rr], plan.tags[j], cell_texts(df[c], rr), ts_text_all[rr], reason, detail))
    usable = (status == tp.T_OK) | (status == tp.T_AMBIGUOUS)
    if has_val_reason.any():
        for j, c in enumerate(plan.value_cols):
            rr = np.flatnonzero(usable & (reasons[:, j] > 0))
            if len(rr):
                codes = reasons[rr, j]
                rcodes = np.array([num.REASONS[k] for k in codes], dtype=object)
                details = np.array([num.DETAILS[k] for k in rcodes], dtype=object)
                rej.append(reject_part(lines[rr], plan.tags[j], cell_texts(df[c], rr), ts_text_all[rr], rcodes, details))
    good_cell = ~empty & (reasons == 0)
    hold_row = held_mask(plan, status, utc, None)
    if hold_row.any():
        rows = np.flatnonzero(hold_row)
        ts_text_h = cell_texts(tcol, rows)
        for j in range(m):
            rr_mask = good_cell[rows, j]
            rr = rows[rr_mask]
            if len(rr):
                held.add(lines[rr], np.full(len(rr), plan.tags[j], dtype=object), np.zeros(len(rr), np.int64),
                         status[rr], utc[rr], tr.local_ns[rr], ts_text_h[rr_mask], vals[rr, j],
                         np.array([num.raw_text(x) for x in vals[rr, j]], dtype=object))
    take = good_cell & ((status == tp.T_OK) & ~hold_row)[:, None]
    flat = take.ravel()
    codes = np.tile(plan.tag_codes, n)[flat]
    cat = pd.Categorical.from_codes(codes, categories=pd.Index(plan.categories, dtype=object))
    readings = readings_frame(np.repeat(lines, m)[flat], cat, np.repeat(utc, m)[flat], vals.ravel()[flat])
    return readings, rej, empty_cells


def tag_codes_of(col: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Factorise a tag column with surrounding spaces stripped: (codes, distinct tags); code -1 = no tag.

    Strips each distinct text once (a long export repeats every tag thousands of times).
    """
    codes, uniq = pd.factorize(pd.Series(col, copy=False).astype(object), use_na_sentinel=True)
    stripped = [str(u).strip() for u in uniq]
    cats = list(dict.fromkeys(t for t in stripped if t))
    pos = {t: i for i, t in enumerate(cats)}
    remap = np.array([pos.get(t, -1) for t in stripped] + [-1], dtype=np.int64)
    return remap[codes], cats


def time_detail(reason: str, time_col: str, tz: str) -> str:
    if reason == MISSING_TIME:
        return f"no time in column '{time_col}'"
    if reason == NONEXISTENT_LOCAL_TIME:
        return f"local time does not exist in {tz} (skipped by the DST change)"
    if reason == AMBIGUOUS_LOCAL_TIME:
        return f"local time occurs twice in {tz} (DST fall-back) and the file order does not tell which"
    return f"time in column '{time_col}' is not in a known date-time format"


def parse_long(plan: Plan, first_line: int, df: pd.DataFrame, held: Held, tag_units: dict[str, str],
               notes: list[str]) -> tuple[pd.DataFrame, list[dict[str, object]], int]:
    h = plan.header
    assert h.tag_idx is not None and h.value_idx is not None
    n = len(df)
    lines = first_line + np.arange(n, dtype=np.int64)
    tcol = df[h.time_idx]
    tr = tp.parse_times(tcol, plan.tz, plan.fmt)
    plan.fmt = tr.fmt or plan.fmt
    status = tr.status
    utc = np.where(status == tp.T_OK, tr.utc_ns + plan.shift_ns, tp.NAT)
    tag_codes, tag_cats = tag_codes_of(df[h.tag_idx])
    tags = np.append(np.asarray(tag_cats, dtype=object), None)[tag_codes]
    no_tag = tag_codes < 0
    vcol = df[h.value_idx]
    vals, reasons, empty = num.parse_values(vcol, h.decimal)
    blank = (status == tp.T_MISSING) & no_tag & empty
    if h.unit_idx is not None:
        _collect_units(df[h.unit_idx], tags, no_tag, tag_units, notes)
    empty_cells = int((empty & ~blank).sum())
    remaining = ~empty & ~blank
    rej: list[dict[str, object]] = []
    ts_text = None

    def take(mask: np.ndarray, reason: str | np.ndarray, detail: str | np.ndarray) -> None:
        nonlocal ts_text
        rows = np.flatnonzero(mask)
        if len(rows):
            if ts_text is None:
                ts_text = cell_texts(tcol, np.arange(n))
            tag_out = np.where(no_tag[rows], None, tags[rows])
            rej.append(reject_part(lines[rows], tag_out, cell_texts(vcol, rows), ts_text[rows],
                            reason if isinstance(reason, str) else reason[rows],
                            detail if isinstance(detail, str) else detail[rows]))

    m = remaining & no_tag
    take(m, MISSING_TAG, f"no tag in column '{h.names[h.tag_idx]}'")
    remaining &= ~m
    for st, reason in TIME_REASON.items():
        m = remaining & (status == st)
        take(m, reason, time_detail(reason, h.names[h.time_idx], plan.tz))
        remaining &= ~m
    if h.quality_idx is not None:
        qcol = df[h.quality_idx]
        m = remaining & _quality_bad(qcol)
        if m.any():
            qtext = qcol.astype(object).to_numpy()
            detail = np.array([f"source quality '{q}'" for q in qtext], dtype=object)
            take(m, SOURCE_BAD_QUALITY, detail)
        remaining &= ~m
    m = remaining & (reasons > 0)
    if m.any():
        rcodes = np.array([num.REASONS[k] for k in reasons], dtype=object)
        details = np.array([num.DETAILS.get(k, "") if k else "" for k in rcodes], dtype=object)
        take(m, rcodes, details)
    remaining &= ~m
    hold = remaining & held_mask(plan, status, utc, tags)
    rows = np.flatnonzero(hold)
    if len(rows):
        held.add(lines[rows], tags[rows], tags[rows], status[rows], utc[rows], tr.local_ns[rows],
                 cell_texts(tcol, rows), vals[rows], cell_texts(vcol, rows))
    ok = remaining & ~hold & (status == tp.T_OK)
    cat = pd.Categorical.from_codes(tag_codes[ok], categories=pd.Index(tag_cats, dtype=object))
    readings = readings_frame(lines[ok], cat, utc[ok], vals[ok])
    return readings, rej, empty_cells


def _collect_units(ucol: pd.Series, tags: np.ndarray, no_tag: np.ndarray, tag_units: dict[str, str],
                   notes: list[str]) -> None:
    pairs = pd.DataFrame({"tag": tags, "unit": ucol.astype(object).to_numpy()})[~no_tag].dropna()
    pairs["unit"] = pairs["unit"].astype(str).str.strip()
    pairs = pairs[pairs["unit"] != ""].drop_duplicates()
    for tag, unit in zip(pairs["tag"].tolist(), pairs["unit"].tolist(), strict=True):
        known = tag_units.setdefault(tag, unit)
        if known != unit:
            note = f"tag {tag} has more than one unit in the file ({known}, {unit}); reported {known}"
            if note not in notes:
                notes.append(note)
