"""Property tests: exports written from random data parse back to the same data; arbitrary bytes
never make the parser raise anything but UserError."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ems.errors import UserError
from ems.ingest.historian import open_export
from ems.ingest.sniff import QUALITY_NAMES, TAG_NAMES, TIME_NAMES, UNIT_NAMES, VALUE_NAMES

_RESERVED = TIME_NAMES | TAG_NAMES | VALUE_NAMES | QUALITY_NAMES | UNIT_NAMES
_TAG_CHARS = "ABCDEFGHJKXYZabcxyz0123456789_.冷机电量水泵温度压力流量总进线"
tags_st = st.text(alphabet=_TAG_CHARS, min_size=1, max_size=12).filter(
    lambda t: t.casefold() not in _RESERVED and not t[0].isdigit())
values_st = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.integers(min_value=-10**12, max_value=10**12).map(float),
    st.decimals(min_value=-1e6, max_value=1e6, places=3, allow_nan=False, allow_infinity=False).map(float),
)
BASE = pd.Timestamp("2025-01-01 00:00:00")


@st.composite
def exports(draw):
    tags = draw(st.lists(tags_st, min_size=1, max_size=5, unique=True))
    minutes = draw(st.lists(st.integers(0, 60 * 24 * 365), min_size=1, max_size=12, unique=True))
    cells = {(t, m): draw(st.one_of(st.none(), values_st)) for m in minutes for t in tags}
    layout = draw(st.sampled_from(["wide", "long"]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "gbk"]))
    fmt = draw(st.sampled_from(["%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y年%m月%d日 %H:%M:%S"]))
    return tags, minutes, cells, layout, encoding, fmt


def _write(tags, minutes, cells, layout, fmt) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    def stamp(m):
        return (BASE + pd.Timedelta(minutes=m)).strftime(fmt).replace("年0", "年").replace("月0", "月")
    if layout == "wide":
        w.writerow(["时间"] + tags)
        for m in minutes:
            w.writerow([stamp(m)] + ["" if cells[(t, m)] is None else repr(cells[(t, m)]) for t in tags])
    else:
        w.writerow(["tag", "time", "value"])
        for m in minutes:
            for t in tags:
                if cells[(t, m)] is not None:
                    w.writerow([t, stamp(m), repr(cells[(t, m)])])
    return buf.getvalue()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(exports())
def test_round_trip(export) -> None:
    tags, minutes, cells, layout, encoding, fmt = export
    text = _write(tags, minutes, cells, layout, fmt)
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "export.csv"
        p.write_bytes(text.encode(encoding))
        info, it = open_export(p, tz="Asia/Shanghai", chunk_rows=3)
        chunks = list(it)
    assert info.layout == layout
    assert info.encoding == ("gb18030" if encoding == "gbk" and not text.isascii() else "utf-8")
    readings = pd.concat([c.readings for c in chunks], ignore_index=True)
    rejects = pd.concat([c.rejects for c in chunks], ignore_index=True)
    assert len(rejects) == 0, rejects.to_dict("records")
    got = {(str(r.tag), r.ts): r.value for r in readings.itertuples()}
    expected = {(t, (BASE + pd.Timedelta(minutes=m) - pd.Timedelta(hours=8)).tz_localize("UTC")): v
                for (t, m), v in cells.items() if v is not None}
    assert got == expected
    if layout == "wide":
        assert sum(c.empty_cells for c in chunks) == sum(v is None for v in cells.values())
    assert all(np.isfinite(readings["value"]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600), st.sampled_from([".csv", ".txt", ".xlsx", ".xls"]))
def test_arbitrary_bytes_only_user_error(data: bytes, suffix: str) -> None:
    _only_user_error(data, suffix)


_TOKENS = ["2025-07-01 00:00:00", "2025-10-26 02:30", "2025/7/1 8:15", "2025-07-01T00:00:00Z", "时间", "Time",
           "tag", "value", "quality", "A", "B", "冷机", "1.5", "1,234.5", "--", "#VALUE!", "inf", "-1e309", "",
           '"', '"x,y"', "bad", "0", "192", "\u00a0", "１２"]


@st.composite
def csv_like(draw) -> bytes:
    delim = draw(st.sampled_from([",", ";", "\t", "|"]))
    rows = draw(st.lists(st.lists(st.sampled_from(_TOKENS), min_size=0, max_size=6), min_size=0, max_size=12))
    text = "\n".join(delim.join(r) for r in rows)
    return text.encode(draw(st.sampled_from(["utf-8", "gb18030"])))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(csv_like())
def test_csv_like_text_only_user_error(data: bytes) -> None:
    _only_user_error(data, ".csv")


def _only_user_error(data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / f"x{suffix}"
        p.write_bytes(data)
        try:
            info, it = open_export(p, tz="Europe/Berlin", chunk_rows=2)
            for chunk in it:
                assert np.isfinite(chunk.readings["value"]).all()
                assert str(chunk.readings["ts"].dtype) == "datetime64[ns, UTC]"
                assert set(chunk.rejects.columns) == {"line", "tag", "raw", "ts_text", "reason", "detail"}
        except UserError:
            pass
