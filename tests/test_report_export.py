"""Auditor export (ems report scope12): golden CSVs of a small locked inventory, the workbook through
headless LibreOffice (totals equal the engine's to the kg), the PDF rendered to PNG, byte-for-byte
reproducibility of a locked inventory's export (except the generation timestamp), and the CLI."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import shutil
import subprocess
import zipfile
from decimal import Decimal as D
from pathlib import Path

import pytest

from cms import inventory_store, store
from cms.activities import ActivityDatum
from cms.engine import Settings
from cms.inventory_read import read_inventory

GOLDEN = Path(__file__).parent / "data" / "report"
Y, Y1 = dt.date(2025, 1, 1), dt.date(2026, 1, 1)
GEN = "2026-01-15 08:00:00 UTC"
TS = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC")


def m(month: int) -> tuple[dt.date, dt.date]:
    return dt.date(2025, month, 1), dt.date(2025, month + 1, 1) if month < 12 else Y1


def build_inventory(conn, *, lock: bool = True) -> None:
    """Group G (测试集团) with P1 (east grid, 100 %) and P2 (north grid, 60 % equity, operated):
    P1 electricity Jan-Mar (manual, monthly), natural gas for the year (CSV batch), a 500 MWh GEC; P2
    electricity for the year and a R-410A top-up; a CCER lot of 100 t with 40 t retired for P1 in 2025."""
    conn.execute("INSERT INTO node (code, level, timezone, name_zh, name_en) "
                 "VALUES ('G', 'group', 'Asia/Shanghai', '测试集团', 'Test Group')")
    for code, region, own, zh, en in (("P1", "east", 1, "苏州工厂", "Suzhou Plant"),
                                      ("P2", "north", D("0.6"), "青岛工厂", "Qingdao Plant")):
        conn.execute("""INSERT INTO node (code, parent_id, level, timezone, grid_region, ownership_share, name_zh, name_en)
                        SELECT %s, node_id, 'plant', 'Asia/Shanghai', %s, %s, %s, %s FROM node WHERE code = 'G'""",
                     (code, region, own, zh, en))
    elec = [ActivityDatum("P1", *m(k), "electricity_grid", D(q), "MWh", f"State Grid bill 2025-{k:02d}")
            for k, q in ((1, "1000"), (2, "1100.5"), (3, "900"))]
    store.insert_activity(conn, elec, source="manual", entered_by="wang.fang")
    store.insert_activity(conn, [ActivityDatum("P1", Y, Y1, "natural_gas", D(100000), "Nm3", "gas invoices 2025"),
                                 ActivityDatum("P2", Y, Y1, "electricity_grid", D(500), "MWh", "bill P2 2025"),
                                 ActivityDatum("P2", *m(6), "refrigerant_topup:R-410A", D(10), "kg", "service log 06")],
                          source="csv", entered_by="li.wei", file="activity_2025.csv", sha256="ab" * 32)
    conn.execute("""INSERT INTO instrument (code, kind, node_id, mwh, vintage, period_start, period_end, registry,
                                            serials, entered_by)
                    SELECT 'GEC-1', 'gec', node_id, 500, 2025, '2025-01-01', '2026-01-01', 'NEA GEC', '1001-1500',
                           'tester' FROM node WHERE code = 'P1'""")
    conn.execute("INSERT INTO offset_lot (lot_id, standard, quantity_tco2e, vintage, project, registry, serial) "
                 "VALUES ('CCER-1', 'CCER', 100, 2024, 'wind farm', 'CCER registry', 'S-0001-0100')")
    conn.execute("INSERT INTO offset_retirement (lot_id, plant_code, year, quantity_tco2e, retired_on) "
                 "VALUES ('CCER-1', 'P1', 2025, 40, '2026-01-10')")
    inventory_store.save_draft(conn, Settings("G", Y, Y1, approach="equity_share", factor_year=2023), "preparer",
                               year=2025)
    if lock:
        inventory_store.review(conn, inventory_store.find(conn, "G", Y, Y1), "reviewer")
        inventory_store.lock(conn, inventory_store.find(conn, "G", Y, Y1), "approver")


@pytest.fixture
def inventory(conn):
    build_inventory(conn)
    return conn


def normalise(name: str, data: bytes) -> str:
    """Golden comparison: database timestamps (creation, review, lock) and the database login that seeded
    the factors differ between runs and servers; everything else must match byte for byte."""
    out = TS.sub("<timestamp>", data.decode("utf-8"))
    if name.endswith("changes_factors.csv"):
        rows = list(csv.reader(io.StringIO(out)))
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows([r[:3] + ["<login>"] + r[4:] if i else r
                                                        for i, r in enumerate(rows)])
        out = buf.getvalue()
    return out


def test_engine_known_answers_of_the_fixture(inventory):
    s = read_inventory(inventory, "G", Y, Y1)["summary"]
    kg = {k: D(v) for k, v in s["totals_kgco2e"].items()}
    assert kg["scope2_location"] == (D("3000.5") * D("0.5500") + 500 * D("0.6361") * D("0.6")) * 1000
    assert kg["scope2_market"] == ((D("3000.5") - 500) * D("0.6096") + 500 * D("0.6096") * D("0.6")) * 1000
    assert kg["scope1"] == D("216218.881") + 10 * 1924 * D("0.6")          # gas (worked example 7) + R-410A at 60 %


def test_csv_export_matches_golden_files(inventory, tmp_path):
    from cms.report_cli import export

    written = export(inventory, "G", Y, Y1, "csv", tmp_path / "csv", generated_at=GEN)
    names = [p.name for p in written]
    assert names[0] == "01_cover.csv" and "08_ledger.csv" in names
    update = os.environ.get("UPDATE_GOLDEN") == "1"
    for p in written:
        golden = GOLDEN / p.name.replace(".csv", ".golden.csv")
        got = normalise(p.name, p.read_bytes())
        if update:
            golden.write_text(got, encoding="utf-8", newline="")
        assert golden.exists(), f"missing golden file {golden} (run with UPDATE_GOLDEN=1 once, then review it)"
        assert got == golden.read_text(encoding="utf-8"), f"{p.name} differs from {golden.name}"
    assert sorted(g.name for g in GOLDEN.glob("*.golden.csv")) == sorted(n.replace(".csv", ".golden.csv")
                                                                        for n in names)


def test_totals_equal_the_engine_and_offsets_are_never_netted(inventory):
    from cms.export_model import build_report

    rep = build_report(inventory, "G", Y, Y1, generated_at=GEN)
    engine = read_inventory(inventory, "G", Y, Y1)["summary"]["totals_kgco2e"]
    rows = {r[0].split(" / ")[1]: r for r in rep.table("summary_totals").rows}
    for key, label in (("scope1", "Scope 1"), ("scope2_location", "Scope 2 location-based"),
                       ("scope2_market", "Scope 2 market-based")):
        assert rows[label][2] == D(engine[key]) and rows[label][1] * 1000 == D(engine[key])
        plants = sum(r[2 + ["scope1", "scope2_location", "scope2_market"].index(key)]
                     for r in rep.table("summary_by_plant").rows)
        assert plants * 1000 == D(engine[key])
    ledger = rep.table("ledger")
    kg = ledger.headers.index("排放量 (kgCO2e) / Emissions (kgCO2e)")
    assert sum(r[kg] for r in ledger.rows if r[5] == 1) == D(engine["scope1"])
    assert [r[9] for r in rep.table("offsets_retired").rows] == [D(40)]
    assert D(engine["scope1"]) == D("227762.881")                       # gross: the 40 t retired are not subtracted


def _soffice_csv(xlsx: Path, tmp_path: Path) -> dict[str, list[list[str]]]:
    exe = shutil.which("soffice") or shutil.which("libreoffice")
    if exe is None:
        pytest.skip("LibreOffice (Debian libreoffice-calc-nogui) is not installed; scripts/test installs it")
    out = tmp_path / "lo"
    # 12th token -1: every sheet to its own CSV (LibreOffice >= 7.2); UTF-8 (76), raw values (not as shown)
    proc = subprocess.run([exe, f"-env:UserInstallation=file://{tmp_path / 'lo-profile'}", "--headless",
                           "--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1",
                           "--outdir", str(out), str(xlsx)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    sheets = {p.stem.split("-", 1)[1]: list(csv.reader(p.open(encoding="utf-8"))) for p in out.glob("*.csv")}
    assert sheets, proc.stdout + proc.stderr
    return sheets


def test_workbook_opens_in_libreoffice_with_the_engine_totals(inventory, tmp_path):
    from cms.numbers import display_t
    from cms.report_cli import export

    xlsx = tmp_path / "inventory.xlsx"
    export(inventory, "G", Y, Y1, "xlsx", xlsx, generated_at=GEN)
    sheets = _soffice_csv(xlsx, tmp_path)
    assert set(sheets) == {"封面 Cover", "汇总 Summary", "明细台账 Ledger", "排放因子 Factors", "合同工具 Instruments",
                           "抵销 Offsets", "数据质量 Data quality", "变更记录 Change log"}
    engine = {k: D(v) for k, v in read_inventory(inventory, "G", Y, Y1)["summary"]["totals_kgco2e"].items()}
    summary: dict[str, list[str]] = {}
    for r in sheets["汇总 Summary"]:
        if r:
            summary.setdefault(r[0], r)                                    # the totals table comes first
    for key, label in (("scope1", "范围一 / Scope 1"), ("scope2_location", "范围二（基于位置） / Scope 2 location-based"),
                       ("scope2_market", "范围二（基于市场） / Scope 2 market-based")):
        t, kg = summary[label][1], summary[label][2]
        assert D(kg) == engine[key]                                        # kgCO2e exactly
        assert D(t).quantize(D("0.001")) == display_t(engine[key])         # tCO2e to the kg
    ledger = sheets["明细台账 Ledger"]
    head = ledger[1].index("排放量 (kgCO2e) / Emissions (kgCO2e)")
    scope1 = sum(D(r[head]) for r in ledger[2:] if r and r[0] and r[5] == "1")
    assert scope1 == engine["scope1"]
    cover = {r[0]: r[1] for r in sheets["封面 Cover"] if len(r) > 1}
    h = read_inventory(inventory, "G", Y, Y1)["header"]
    assert cover["内容哈希 (SHA-256) / Content hash (SHA-256)"] == h["content_hash"]
    assert cover["状态 / Status"] == "已锁定 / locked" and cover["生成时间 / Generated at"] == GEN


def test_pdf_is_readable(inventory, tmp_path):
    import numpy as np
    import pypdfium2 as pdfium

    from cms.report_cli import export

    pdf = tmp_path / "inventory.pdf"
    export(inventory, "G", Y, Y1, "pdf", pdf, generated_at=GEN)
    doc = pdfium.PdfDocument(str(pdf))
    assert len(doc) >= 2
    page = doc[0]
    pixels = np.asarray(page.render(scale=1).to_pil().convert("L"))
    dark = (pixels < 128).mean()
    assert 0.002 < dark < 0.5, f"page 1 looks blank or black ({dark:.4f} dark)"
    words = page.get_textpage().get_text_range()
    h = read_inventory(inventory, "G", Y, Y1)["header"]
    assert "GHG inventory" in words and "温室气体排放清单" in words and h["content_hash"] in words


def _unzipped(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {n: z.read(n) for n in z.namelist()}


def test_locked_export_is_reproducible_except_the_generation_time(inventory, tmp_path):
    from cms.report_cli import export

    other = "2027-03-01 12:34:56 UTC"
    out = {}
    for fmt, name in (("xlsx", "r.xlsx"), ("pdf", "r.pdf"), ("csv", "r.zip")):
        for tag, gen in (("a", GEN), ("b", GEN), ("c", other)):
            path = tmp_path / tag / name
            export(inventory, "G", Y, Y1, fmt, path, generated_at=gen)
            out[fmt, tag] = path.read_bytes()
        assert out[fmt, "a"] == out[fmt, "b"], f"{fmt}: two exports of the locked inventory differ"
        assert out[fmt, "a"] != out[fmt, "c"]
    for fmt in ("xlsx", "csv"):
        a, c = _unzipped(out[fmt, "a"]), _unzipped(out[fmt, "c"])
        assert a.keys() == c.keys()
        changed = [n for n in a if a[n] != c[n]]
        assert len(changed) == 1 and a[changed[0]].replace(GEN.encode(), other.encode()) == c[changed[0]]
    h = read_inventory(inventory, "G", Y, Y1)["header"]
    assert h["content_hash"].encode() in _unzipped(out["csv", "a"])["01_cover.csv"]


def test_cli_report_scope12(inventory, ems, tmp_path):
    for fmt, out in (("xlsx", tmp_path / "g.xlsx"), ("pdf", tmp_path / "g.pdf"), ("csv", tmp_path / "g.zip")):
        code, text, err = ems("report", "scope12", "--year", 2025, "--node", "G", "--format", fmt, "--out", out)
        assert code == 0, err
        assert out.exists() and out.stat().st_size > 1000 and f"{fmt} written" in text
    code, text, err = ems("report", "scope12", "--year", 2025, "--node", "P1", "--out", tmp_path / "dir")
    assert code == 2 and "no inventory of P1" in err and "Traceback" not in err
    code, _, err = ems("report", "scope12", "--year", 2025, "--node", "NOPE", "--out", tmp_path / "x.xlsx")
    assert code == 2 and "no node with code 'NOPE'" in err
