"""Timestamps in historian exports: format inference, vectorised parsing, local time -> UTC.

Pure functions. Time texts are factorised first, so each distinct text is parsed once (a long export
repeats each timestamp once per tag). The format is inferred from the first distinct texts and parsed
with ``pd.to_datetime(format=...)``; texts that fail are retried one by one against the other known
formats. Texts with an explicit UTC offset (``...+08:00``, ``...Z``) use that offset; the others are
local wall-clock times in the site's IANA zone.

Status codes per row: ``T_OK``, ``T_MISSING`` (empty cell), ``T_UNPARSEABLE``, ``T_NONEXISTENT``
(falls in a DST gap), ``T_AMBIGUOUS`` (falls in a DST fall-back hour; resolved later by
:func:`resolve_ambiguous`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

T_OK, T_MISSING, T_UNPARSEABLE, T_NONEXISTENT, T_AMBIGUOUS = range(5)
NAT = np.iinfo(np.int64).min

#: Known formats, most specific first. Slash dates with the year last (03/04/2025) are ambiguous
#: between day-first and month-first and deliberately not accepted.
FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%dT%H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M:%S.%f",
    "%Y/%m/%d %H:%M",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
    "%Y年%m月%d日%H:%M:%S",
    "%Y年%m月%d日%H:%M",
    "%Y年%m月%d日 %H时%M分%S秒",
    "%Y年%m月%d日 %H时%M分",
    "%Y年%m月%d日%H时%M分%S秒",
    "%Y年%m月%d日%H时%M分",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%Y.%m.%d %H:%M:%S",
    "%Y.%m.%d %H:%M",
    "%Y%m%d %H:%M:%S",
    "%Y%m%d%H%M%S",
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y年%m月%d日",
    "%d.%m.%Y",
)
_OFFSET_RE = re.compile(r"\d[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}:?\d{2})$", re.I)
_DATE_ONLY_DIGITS = re.compile(r"^\d{14}$")


def _strptime_ok(text: str, fmt: str) -> datetime | None:
    try:
        return datetime.strptime(text, fmt)
    except ValueError:
        return None


def infer_format(texts: list[str]) -> str | None:
    """The first known format that parses the most of ``texts`` (None if it parses none)."""
    best, best_n = None, 0
    for fmt in FORMATS:
        n = sum(1 for t in texts if _strptime_ok(t, fmt) is not None)
        if n > best_n:
            best, best_n = fmt, n
            if n == len(texts):
                break
    return best


def looks_like_time(text: str | None) -> bool:
    """True if ``text`` parses as a timestamp in one of the known formats (or ISO with an offset)."""
    if not isinstance(text, str):
        return False
    t = text.strip()
    if not t or not any(c.isdigit() for c in t):
        return False
    if _OFFSET_RE.search(t):
        return not pd.isna(pd.to_datetime(t, format="ISO8601", utc=True, errors="coerce"))
    return infer_format([t]) is not None


@dataclass
class TimeResult:
    """Per-row outcome of parsing a time column."""

    status: np.ndarray    # int8 T_* codes
    utc_ns: np.ndarray    # int64 ns since epoch (UTC) where status == T_OK, else NAT
    local_ns: np.ndarray  # int64 ns local wall time where status == T_AMBIGUOUS, else NAT
    fmt: str | None       # the inferred format (None when only offsets or nothing parsed)


def _parse_naive(uniques: list[str], fmt: str | None) -> np.ndarray:
    """Parse texts without offset to naive datetime64[ns] (NaT where no known format fits)."""
    if fmt is not None:
        parsed = pd.to_datetime(pd.Series(uniques, dtype=object), format=fmt, errors="coerce")
        out = parsed.to_numpy(dtype="datetime64[ns]")
    else:
        out = np.full(len(uniques), np.datetime64("NaT"), dtype="datetime64[ns]")
    for i in np.flatnonzero(np.isnat(out)):
        text = uniques[i]
        for other in FORMATS:
            dt = _strptime_ok(text, other)
            if dt is not None:
                out[i] = np.datetime64(dt, "ns")
                break
    return out


def localize(naive: np.ndarray, tz: str) -> tuple[np.ndarray, np.ndarray]:
    """Local wall times (datetime64[ns], NaT allowed) -> (utc_ns int64, status int8).

    Ambiguous times get status ``T_AMBIGUOUS`` and utc NAT; times in a DST gap ``T_NONEXISTENT``.
    """
    idx = pd.DatetimeIndex(naive)
    n = len(idx)
    dst = idx.tz_localize(tz, ambiguous=np.ones(n, dtype=bool), nonexistent="NaT").as_unit("ns")
    std = idx.tz_localize(tz, ambiguous=np.zeros(n, dtype=bool), nonexistent="NaT").as_unit("ns")
    a = dst.asi8
    b = std.asi8
    status = np.full(n, T_OK, dtype=np.int8)
    was_nat = np.isnat(naive)
    status[was_nat] = T_UNPARSEABLE
    status[(a == NAT) & ~was_nat] = T_NONEXISTENT
    status[(a != b) & (a != NAT)] = T_AMBIGUOUS
    utc = np.where(status == T_OK, a, NAT)
    return utc, status


def parse_times(col: pd.Series, tz: str, fmt: str | None = None) -> TimeResult:
    """Parse one chunk of a time column (strings, datetimes or NaN) in zone ``tz``.

    ``fmt`` is a format inferred earlier (e.g. from the first chunk); it is re-inferred if it does
    not fit this chunk's first texts.
    """
    n = len(col)
    codes, uniq = pd.factorize(pd.Series(col, copy=False).astype(object), use_na_sentinel=True)
    u_status = np.full(len(uniq), T_OK, dtype=np.int8)
    u_utc = np.full(len(uniq), NAT, dtype=np.int64)
    u_local = np.full(len(uniq), NAT, dtype=np.int64)
    texts: list[str | None] = []
    naive_dt = np.full(len(uniq), np.datetime64("NaT"), dtype="datetime64[ns]")
    is_dt = np.zeros(len(uniq), dtype=bool)
    for i, v in enumerate(uniq):
        if isinstance(v, datetime):  # Excel date cells
            if v.tzinfo is not None:
                u_utc[i] = pd.Timestamp(v).tz_convert("UTC").as_unit("ns").value
                texts.append(None)
            else:
                naive_dt[i] = np.datetime64(v, "ns")
                is_dt[i] = True
                texts.append(None)
        else:
            t = str(v).strip()
            texts.append(t)
            if t == "":
                u_status[i] = T_MISSING
    text_idx = [i for i, t in enumerate(texts) if t]
    offset_idx = [i for i in text_idx if _OFFSET_RE.search(texts[i])]
    naive_idx = [i for i in text_idx if not _OFFSET_RE.search(texts[i])]
    if offset_idx:
        parsed = pd.to_datetime(pd.Series([texts[i] for i in offset_idx], dtype=object),
                                format="ISO8601", utc=True, errors="coerce")
        vals = pd.DatetimeIndex(parsed).as_unit("ns").asi8
        for j, i in enumerate(offset_idx):
            if vals[j] == NAT:
                u_status[i] = T_UNPARSEABLE
            else:
                u_utc[i] = vals[j]
    if naive_idx:
        sample = [texts[i] for i in naive_idx[:20]]
        if fmt is None or sum(_strptime_ok(t, fmt) is not None for t in sample) < len(sample):
            fmt = infer_format(sample) or fmt
        parsed = _parse_naive([texts[i] for i in naive_idx], fmt)
        naive_dt[naive_idx] = parsed
        is_dt[naive_idx] = True
    if is_dt.any():
        sel = np.flatnonzero(is_dt)
        utc, status = localize(naive_dt[sel], tz)
        u_utc[sel] = utc
        u_status[sel] = status
        amb = sel[status == T_AMBIGUOUS]
        u_local[amb] = naive_dt[amb].view(np.int64)
    status = np.full(n, T_MISSING, dtype=np.int8)
    utc_ns = np.full(n, NAT, dtype=np.int64)
    local_ns = np.full(n, NAT, dtype=np.int64)
    has = codes >= 0
    status[has] = u_status[codes[has]]
    utc_ns[has] = u_utc[codes[has]]
    local_ns[has] = u_local[codes[has]]
    return TimeResult(status, utc_ns, local_ns, fmt)


def resolve_ambiguous(group: np.ndarray, line: np.ndarray, local_ns: np.ndarray, tz: str) -> np.ndarray:
    """Resolve ambiguous local times by their order in the file.

    Within one group (one tag in a long export, the whole file in a wide one) and one DST
    transition, the rows in file order run through the repeated hour twice: first in summer time,
    then, after the clock steps back, in standard time. A step back (a local time not later than
    the one before) marks the switch. With exactly one switch every row is resolved; with none (the
    hour appears once) or more than one, the rows of that group stay unresolved.

    Returns int64 UTC ns per row, NAT where unresolved.
    """
    n = len(line)
    out = np.full(n, NAT, dtype=np.int64)
    if n == 0:
        return out
    day = local_ns // (86_400 * 10**9)
    frame = pd.DataFrame({"g": group, "d": day, "line": line, "t": local_ns})
    dst_flag = np.zeros(n, dtype=bool)
    ok = np.zeros(n, dtype=bool)
    for _, sub in frame.groupby(["g", "d"], sort=False):
        rows = sub.drop_duplicates(["line", "t"]).sort_values("line", kind="stable")
        phase = np.zeros(len(rows), dtype=np.int64)
        t = rows["t"].to_numpy()
        if len(t) > 1:
            steps = np.concatenate([[0], (np.diff(t) <= 0).astype(np.int64)])
            phase = np.cumsum(steps)
        if phase.max() != 1:
            continue
        by_line = dict(zip(zip(rows["line"].to_numpy().tolist(), t.tolist(), strict=True),
                           (phase == 0).tolist(), strict=True))
        for pos, key in zip(sub.index, zip(sub["line"].to_numpy().tolist(), sub["t"].to_numpy().tolist(),
                                           strict=True), strict=True):
            dst_flag[pos] = by_line[key]
            ok[pos] = True
    if ok.any():
        idx = pd.DatetimeIndex(local_ns[ok].view("datetime64[ns]"))
        out[ok] = idx.tz_localize(tz, ambiguous=dst_flag[ok], nonexistent="NaT").as_unit("ns").asi8
    return out
