"""Golden-file tests: realistic historian exports -> parsed readings and rejects.

Expected outputs live in tests/data/historian/golden/*.json. After a deliberate change, regenerate
with ``EMS_UPDATE_GOLDEN=1 pytest tests/test_historian_golden.py`` and review the diff.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from ems.ingest.historian import open_export

DATA = Path(__file__).parent / "data" / "historian"
GOLDEN = DATA / "golden"

CASES = {
    "wide_en_utf8": ("wide_en_utf8.csv", {"tz": "Asia/Shanghai"}),
    "wide_gbk_preamble": ("wide_gbk_preamble.csv", {"tz": "Asia/Shanghai"}),
    "long_quality": ("long_quality.csv", {"tz": "Asia/Shanghai"}),
    "semicolon_decimal_comma": ("semicolon_decimal_comma.csv", {"tz": "Europe/Berlin"}),
    "interval_start": ("interval_start.csv", {"tz": "Asia/Shanghai", "label": "start", "interval": "15min"}),
    "dst_berlin_fallback": ("dst_berlin_fallback.csv", {"tz": "Europe/Berlin"}),
    "dst_berlin_long_unresolved": ("dst_berlin_long_unresolved.csv", {"tz": "Europe/Berlin"}),
    "xlsx_chinese": (None, {"tz": "Asia/Shanghai"}),
}


def make_xlsx(path: Path) -> Path:
    """A small Chinese workbook: preamble rows, date cells, Excel errors, text numbers, a bad time."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "数据"
    ws.append(["能耗日报"])
    ws.append(["导出时间", dt.datetime(2025, 7, 2, 9, 0)])
    ws.append([])
    ws.append(["时间", "总进线电度(kWh)", "冷机1电量(kWh)", "冷机1状态"])
    ws.append([dt.datetime(2025, 7, 1, 8, 0), 15234.5, 1020, "运行"])
    ws.append([dt.datetime(2025, 7, 1, 8, 15), 15301.25, "#DIV/0!", 1])
    ws.append([dt.datetime(2025, 7, 1, 8, 30), "15,366.0", None, True])
    ws.append(["2025-07-01 08:45:00", 15430.5, "--", 0])
    ws.append([None, None, None, None])
    ws.append(["bad", 1, 2, None])
    wb.create_sheet("说明").append(["这一页不是数据"])
    wb.save(path)
    return path


def _jsonable(v: object) -> object:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    return v


def parse_to_dict(path: Path, kwargs: dict) -> dict:
    info, chunks = open_export(path, **kwargs)
    chunks = list(chunks)
    readings = pd.concat([c.readings for c in chunks], ignore_index=True)
    rejects = pd.concat([c.rejects for c in chunks], ignore_index=True)
    for c in chunks:
        assert str(c.readings["ts"].dtype) == "datetime64[ns, UTC]"
        assert c.readings["line"].dtype == np.int64 and c.rejects["line"].dtype == np.int64
        assert c.readings["value"].dtype == np.float64 and np.isfinite(c.readings["value"]).all()
    return {
        "info": {"layout": info.layout, "encoding": info.encoding, "time_column": info.time_column,
                 "tag_units": info.tag_units, "header_line": info.header_line, "notes": info.notes},
        "empty_cells": sum(c.empty_cells for c in chunks),
        "exact_duplicates": sum(c.exact_duplicates for c in chunks),
        "readings": [[int(r.line), str(r.tag), r.ts.isoformat(), float(r.value)] for r in readings.itertuples()],
        "rejects": [[_jsonable(x) for x in row] for row in
                    rejects[["line", "tag", "raw", "ts_text", "reason", "detail"]].itertuples(index=False)],
    }


def _dump(got: dict) -> str:
    """JSON with one reading / reject per line, so diffs are readable."""
    parts = [f" {json.dumps(k)}: {json.dumps(got[k], ensure_ascii=False)}" for k in ("info", "empty_cells",
                                                                                   "exact_duplicates")]
    for k in ("readings", "rejects"):
        rows = ",\n".join("  " + json.dumps(r, ensure_ascii=False) for r in got[k])
        parts.append(f" {json.dumps(k)}: [\n{rows}\n ]" if rows else f" {json.dumps(k)}: []")
    return "{\n" + ",\n".join(parts) + "\n}\n"


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden(case: str, tmp_path: Path) -> None:
    name, kwargs = CASES[case]
    path = make_xlsx(tmp_path / "能耗日报.xlsx") if name is None else DATA / name
    got = parse_to_dict(path, kwargs)
    golden = GOLDEN / f"{case}.json"
    if os.environ.get("EMS_UPDATE_GOLDEN"):
        golden.write_text(_dump(got), encoding="utf-8")
    expected = json.loads(golden.read_text(encoding="utf-8"))
    assert got["info"] == expected["info"]
    assert got["empty_cells"] == expected["empty_cells"]
    assert got["exact_duplicates"] == expected["exact_duplicates"]
    assert got["rejects"] == expected["rejects"]
    assert got["readings"] == expected["readings"]


def test_golden_spot_checks() -> None:
    """A few facts checked by hand, independent of the golden files."""
    got = parse_to_dict(DATA / "dst_berlin_fallback.csv", {"tz": "Europe/Berlin"})
    boiler = {r[0]: r[2] for r in got["readings"] if r[1] == "Boiler.gas_m3"}
    assert boiler[4] == "2025-10-26T00:00:00+00:00"   # first 02:00 is CEST (UTC+2)
    assert boiler[8] == "2025-10-26T01:00:00+00:00"   # second 02:00 is CET (UTC+1)
    assert {r[4] for r in got["rejects"]} == {"nonexistent_local_time"}
    got = parse_to_dict(DATA / "interval_start.csv", CASES["interval_start"][1])
    assert got["readings"][0][2] == "2025-06-30T16:15:00+00:00"  # 00:00 local start -> 00:15 end, UTC+8
    got = parse_to_dict(DATA / "semicolon_decimal_comma.csv", {"tz": "Europe/Berlin"})
    assert got["readings"][0][3] == 1234.5 and got["readings"][1][3] == 12.5
    got = parse_to_dict(DATA / "long_quality.csv", {"tz": "Asia/Shanghai"})
    reasons = [r[4] for r in got["rejects"]]
    assert reasons.count("duplicate_conflict") == 2 and reasons.count("source_bad_quality") == 3
    assert got["exact_duplicates"] == 1
