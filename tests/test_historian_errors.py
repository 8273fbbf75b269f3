"""Bad input gives one clear UserError naming file (and line); unit checks of the parser's rules."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ems.errors import UserError
from ems.ingest.historian import open_export
from ems.ingest.numbers import R_EXCEL, R_MISSING, R_NONFINITE, R_UNPARSEABLE, parse_values
from ems.ingest.sniff import split_unit
from ems.ingest.timeparse import T_AMBIGUOUS, T_NONEXISTENT, T_OK, T_UNPARSEABLE, parse_times

GOOD = "Time,A,B\n2025-07-01 00:00:00,1,2\n2025-07-01 00:15:00,3,4\n"


def _write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    p = tmp_path / name
    if isinstance(data, str):
        p.write_text(data, encoding="utf-8")
    else:
        p.write_bytes(data)
    return p


def _read_all(path: Path, **kw):
    info, it = open_export(path, **{"tz": "Asia/Shanghai", **kw})
    chunks = list(it)
    return (info, pd.concat([c.readings for c in chunks], ignore_index=True),
            pd.concat([c.rejects for c in chunks], ignore_index=True), chunks)


def test_broken_encoding_names_file_and_line(tmp_path: Path) -> None:
    data = "时间,冷机1电量\n2025-07-01 00:00:00,1\n".encode() + b"2025-07-01 00:15:00,\xff\xfe\n"
    p = _write(tmp_path, "broken.csv", data)
    with pytest.raises(UserError) as exc:
        open_export(p, tz="Asia/Shanghai")
    assert "broken.csv, line 3" in str(exc.value) and "encoding" in str(exc.value)


def test_explicit_encoding_mismatch(tmp_path: Path) -> None:
    p = _write(tmp_path, "gbk.csv", "时间,电量\n2025-07-01 00:00:00,1\n".encode("gbk"))
    with pytest.raises(UserError, match=r"gbk.csv, line 1: .*utf-8"):
        open_export(p, tz="Asia/Shanghai", encoding="utf-8")
    info, readings, _, _ = _read_all(p)
    assert info.encoding == "gb18030" and list(readings["tag"].astype(str)) == ["电量"]


@pytest.mark.parametrize("name,data,match", [
    ("image.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary"),
    ("nul.csv", b"Time,A\n2025-07-01 00:00,1\n\x00\x00", r"nul.csv, line 3: .*binary"),
    ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, r"\.xlsx or CSV"),
    ("empty.csv", b"", "empty"),
    ("utf16.csv", "Time,A\n".encode("utf-16"), "UTF-16"),
    ("notes.csv", b"just some text\nwithout any timestamps\n", "no time column found in the first 30 lines"),
    ("numbers.csv", b"a,b\n1,2\n3,4\n", "no time column"),
    ("fake.xlsx", b"Time,A\n2025-07-01 00:00,1\n", "not a valid .xlsx"),
])
def test_not_an_export(tmp_path: Path, name: str, data: bytes, match: str) -> None:
    p = _write(tmp_path, name, data)
    with pytest.raises(UserError, match=match) as exc:
        open_export(p, tz="Asia/Shanghai")
    assert name in str(exc.value)


def test_zip_that_is_not_xlsx(tmp_path: Path) -> None:
    p = tmp_path / "export.zip"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("data.csv", GOOD)
    with pytest.raises(UserError, match="ZIP archive"):
        open_export(p, tz="Asia/Shanghai")


@pytest.mark.parametrize("extra", [",9", ",9,10"])
def test_row_with_too_many_fields_names_line(tmp_path: Path, extra: str) -> None:
    lines = ["title", "", GOOD.splitlines()[0]] + [f"2025-07-01 0{i}:00:00,1,2" for i in range(6)]
    lines[6] += extra  # physical line 7
    p = _write(tmp_path, "ragged.csv", "\n".join(lines) + "\n")
    with pytest.raises(UserError, match=r"ragged.csv, line 7: .*field"):
        open_export(p, tz="Asia/Shanghai", chunk_rows=2)


def test_trailing_empty_field_and_short_rows_are_fine(tmp_path: Path) -> None:
    p = _write(tmp_path, "t.csv", GOOD + "2025-07-01 00:30:00,5,6,\n2025-07-01 00:45:00,7\n")
    _, readings, rejects, chunks = _read_all(p)
    assert len(readings) == 7 and len(rejects) == 0 and sum(c.empty_cells for c in chunks) == 1


def test_bad_options(tmp_path: Path) -> None:
    p = _write(tmp_path, "a.csv", GOOD)
    with pytest.raises(UserError, match="interval"):
        open_export(p, tz="Asia/Shanghai", label="start")
    with pytest.raises(UserError, match="time zone"):
        open_export(p, tz="Mars/Olympus")
    with pytest.raises(UserError, match="interval"):
        open_export(p, tz="Asia/Shanghai", label="start", interval="soon")
    with pytest.raises(UserError, match="not found"):
        open_export(tmp_path / "missing.csv", tz="Asia/Shanghai")


def test_long_layout_needs_value_column(tmp_path: Path) -> None:
    p = _write(tmp_path, "l.csv", "tag,time,reading\nA,2025-07-01 00:00,1\n")
    with pytest.raises(UserError, match=r"l.csv, line 1: long layout needs a value column"):
        open_export(p, tz="Asia/Shanghai", layout="long")


def _dup_file() -> str:
    rows = [f"2025-07-01 {h:02d}:00:00,{h},{h * 10}" for h in range(8)]
    rows.append("2025-07-01 01:00:00,1,99")   # A exact repeat of line 3, B conflicts
    rows.append("2025-07-01 06:00:00,6,60")   # exact repeat of line 8
    return "Time,A,B\n" + "\n".join(rows) + "\n"


@pytest.mark.parametrize("chunk_rows", [1, 2, 3, 100_000])
def test_duplicates_across_chunk_boundaries(tmp_path: Path, chunk_rows: int) -> None:
    p = _write(tmp_path, "dup.csv", _dup_file())
    info, readings, rejects, chunks = _read_all(p, chunk_rows=chunk_rows)
    assert sum(c.exact_duplicates for c in chunks) == 3
    conf = rejects[rejects["reason"] == "duplicate_conflict"]
    assert sorted(conf["line"]) == [3, 10] and set(conf["tag"]) == {"B"}
    assert "99 (line 10)" in conf[conf["line"] == 3]["detail"].iloc[0]
    assert not readings.duplicated(["tag", "ts"]).any()
    assert len(readings) == 16 - 1  # 16 distinct keys (8 times x 2 tags); B@01:00 conflicted, repeats collapse
    assert readings["line"].is_unique is False and set(readings["line"]) == set(range(2, 10))


def test_long_duplicates_across_chunks(tmp_path: Path) -> None:
    body = "\n".join(["tag,time,value", "A,2025-07-01 00:00,1", "B,2025-07-01 00:00,2", "A,2025-07-01 00:15,3",
                      "B,2025-07-01 00:00,2", "A,2025-07-01 00:00,1.0", "A,2025-07-01 00:15,4"]) + "\n"
    p = _write(tmp_path, "long.csv", body)
    for chunk_rows in (1, 2, 10):
        _, readings, rejects, chunks = _read_all(p, chunk_rows=chunk_rows)
        assert sum(c.exact_duplicates for c in chunks) == 2
        assert sorted(readings["line"]) == [2, 3]
        assert sorted(rejects["line"]) == [4, 7] and set(rejects["reason"]) == {"duplicate_conflict"}


def test_ambiguous_resolution_across_chunks(tmp_path: Path) -> None:
    times = ["01:45", "02:00", "02:30", "02:00", "02:30", "03:00"]
    body = "Time,A\n" + "\n".join(f"2025-10-26 {t},{i}" for i, t in enumerate(times)) + "\n"
    p = _write(tmp_path, "dst.csv", body)
    _, readings, rejects, _ = _read_all(p, tz="Europe/Berlin", chunk_rows=2)
    assert len(rejects) == 0
    got = readings.sort_values("line")["ts"].dt.strftime("%H:%M").tolist()
    assert got == ["23:45", "00:00", "00:30", "01:00", "01:30", "02:00"]


def test_excel_sheet_option_and_xls_refusal(tmp_path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.append(["nothing here"])
    ws = wb.create_sheet("Data")
    ws.append(["Time", "A [kWh]"])
    ws.append(["2025-07-01 00:00", 1.5])
    p = tmp_path / "book.xlsx"
    wb.save(p)
    with pytest.raises(UserError, match="no time column"):
        open_export(p, tz="Asia/Shanghai")
    info, readings, _, _ = _read_all(p, sheet="Data")
    assert info.tag_units == {"A": "kWh"} and readings["value"].tolist() == [1.5]
    with pytest.raises(UserError, match="no sheet 'Nope'"):
        open_export(p, tz="Asia/Shanghai", sheet="Nope")


# ------------------------------------------------------------------------------------ helper units

def test_parse_values_reasons() -> None:
    col = pd.Series(["1,234.5", " +3 ", "1e3", "--", "#N/A", "#VALUE!", "inf", "abc", None, "  ", "１２", "无"],
                    dtype=object)
    values, reasons, empty = parse_values(col)
    assert values[:3].tolist() == [1234.5, 3.0, 1000.0] and values[10] == 12.0
    assert reasons.tolist() == [0, 0, 0, R_MISSING, R_MISSING, R_EXCEL, R_NONFINITE, R_UNPARSEABLE, 0, 0, 0,
                                R_MISSING]
    assert empty.tolist() == [False] * 8 + [True, True, False, False]
    v, r, _ = parse_values(pd.Series(["1.234,5", "12,5", "1.5", "1,5e2"], dtype=object), decimal=",")
    assert v.tolist() == [1234.5, 12.5, 1.5, 150.0] and not r.any()
    v, r, _ = parse_values(pd.Series(["1,5"], dtype=object))  # not a thousands group: no guessing
    assert r.tolist() == [R_UNPARSEABLE]


def test_parse_times_formats_and_dst() -> None:
    col = pd.Series(["2025/7/1 8:15", "2025/07/01 08:30", "2025年7月1日 08:45:00", "2025-07-01T01:00:00Z",
                     "2025-07-01T09:00:00+08:00", "yesterday", None], dtype=object)
    tr = parse_times(col, "Asia/Shanghai")
    ts = pd.to_datetime(tr.utc_ns[:5], utc=True)
    assert [t.strftime("%H:%M") for t in ts] == ["00:15", "00:30", "00:45", "01:00", "01:00"]
    assert tr.status[5] == T_UNPARSEABLE and tr.status[6] != T_OK
    tr = parse_times(pd.Series(["2025-03-30 02:30", "2025-10-26 02:30", "2025-10-26 03:30"]), "Europe/Berlin")
    assert tr.status.tolist() == [T_NONEXISTENT, T_AMBIGUOUS, T_OK]


@pytest.mark.parametrize("header,expected", [
    ("CH1.kWh [kWh]", ("CH1.kWh", "kWh")), ("冷机1电量(kWh)", ("冷机1电量", "kWh")),
    ("冷机1温度（℃）", ("冷机1温度", "℃")), ("Pump(1)", ("Pump(1)", None)), ("Flow", ("Flow", None)),
])
def test_split_unit(header: str, expected: tuple[str, str | None]) -> None:
    assert split_unit(header) == expected


def test_chunk_rows_does_not_change_results(tmp_path: Path) -> None:
    src = Path(__file__).parent / "data" / "historian" / "wide_en_utf8.csv"
    outs = []
    for chunk_rows in (1, 4, 1000):
        _, readings, rejects, chunks = _read_all(src, chunk_rows=chunk_rows)
        key = readings.assign(tag=readings["tag"].astype(str)).sort_values(["line", "tag"], ignore_index=True)
        rej = rejects.sort_values(["line", "tag"], ignore_index=True)
        outs.append((key, rej, sum(c.empty_cells for c in chunks)))
    for key, rej, empty in outs[1:]:
        pd.testing.assert_frame_equal(key, outs[0][0])
        pd.testing.assert_frame_equal(rej, outs[0][1])
        assert empty == outs[0][2]
    assert np.isfinite(outs[0][0]["value"]).all()


def test_short_gbk_that_is_also_valid_utf8(tmp_path: Path) -> None:
    """'水' in GBK (CB AE) is valid UTF-8 (U+02EE); the Chinese reading wins. 'ä' in UTF-8 stays UTF-8."""
    p = _write(tmp_path, "gbk.csv", "Time,水\n2025-07-01 00:00,1\n".encode("gbk"))
    info, readings, _, _ = _read_all(p)
    assert info.encoding == "gb18030" and readings["tag"].astype(str).tolist() == ["水"]
    p = _write(tmp_path, "de.csv", "Zeit,Zähler\n2025-07-01 00:00,1\n")
    info, readings, _, _ = _read_all(p)
    assert info.encoding == "utf-8" and readings["tag"].astype(str).tolist() == ["Zähler"]
