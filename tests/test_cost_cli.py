"""``ems cost`` and ``ems settle`` on stored data: known answers under the example flat tariff and the
Guangdong schedule, and a settlement whose lines add up to the parent's cost."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture
def plant(ems, tmp_path):
    assert ems("config", "load", DATA / "plant_small.yaml")[0] == 0
    export = tmp_path / "day.csv"
    rows = ["Timestamp,PA.MAIN.kWh,PA.CH1.kWh"]
    for i in range(1, 97):  # one local day, 15-min registers: 100 kWh and 30 kWh per interval
        t = f"2025-07-01 {(i * 15) // 60:02d}:{(i * 15) % 60:02d}:00" if i < 96 else "2025-07-02 00:00:00"
        rows.append(f"{t},{1000 + 100 * i},{500 + 30 * i}")
    rows.insert(1, "2025-07-01 00:00:00,1000,500")
    export.write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert ems("ingest", "csv", export, "--site", "PA")[0] == 0
    return ems


def test_cost_of_a_node_under_flat_and_tou_tariffs(plant):
    code, out, err = plant("cost", "--node", "PA", "--from", "2025-07-01", "--to", "2025-07-02", "--tariff", "EXAMPLE-FLAT")
    assert code == 0, err
    assert "total: 9,600.00 kWh, 6,720.00 CNY" in out            # 96 x 100 kWh at 0.70 CNY/kWh
    code, out, err = plant("cost", "--point", "PA.MAIN.kWh", "--from", "2025-07-01", "--to", "2025-07-02")
    assert code == 0, err
    # Guangdong 2021 in July: valley 0-8 h, peak 10-12 and 14-19 h of which 11-12 and 15-17 h are the sharp
    # peak, flat the rest: 8 h valley, 9 h flat, 4 h peak, 3 h sharp at 400 kW (0.247/0.65/1.105/1.38125 CNY/kWh)
    expected = 400 * (8 * 0.247 + 9 * 0.65 + 4 * 1.105 + 3 * 1.38125)
    assert f"total: 9,600.00 kWh, {expected:,.2f} CNY" in out
    code, out, err = plant("cost", "--node", "PA", "--from", "2025-07-01", "--to", "2025-07-02", "--demand")
    assert code == 0, err
    # 100 kWh per 15 min = 400 kW all day; Guangdong demand charge (assumed price) 32 CNY/kW/month
    assert "demand charge total: 12,800.00 CNY (price assumed" in out and "priced: grid import (PA.MAIN.kWh)" in out
    code, _, err = plant("cost", "--node", "PA", "--from", "2025-07-01", "--to", "2025-07-02", "--tariff", "NOPE")
    assert code == 2 and "no tariff with id 'NOPE'" in err


def test_settlement_adds_up_to_the_parent(plant, tmp_path):
    out_file = tmp_path / "settle"
    code, out, err = plant("settle", "--parent", "PA.MAIN.kWh", "--from", "2025-07-01", "--to", "2025-07-02",
                           "--tariff", "EXAMPLE-FLAT", "--rule", "to_centre:common", "--out", out_file)
    assert code == 0, err
    book = openpyxl.load_workbook(out_file.with_suffix(".xlsx"))
    sheet = book["Settlement"]
    header = [c.value for c in sheet[1]]
    rows = [dict(zip(header, (c.value for c in r))) for r in sheet.iter_rows(min_row=2)]
    costs = {r["cost_centre"]: r["cost_cny"] for r in rows}
    assert costs == {"PA.CH1.kWh": pytest.approx(96 * 30 * 0.7), "common": pytest.approx(96 * 70 * 0.7)}
    assert sum(costs.values()) == pytest.approx(6720.0)
    assert out_file.with_suffix(".csv").read_bytes().startswith(b"\xef\xbb\xbf")


def test_cost_per_cost_centre_adds_up_to_the_bill_and_exports(plant, tmp_path):
    out_file = tmp_path / "centres"
    code, out, err = plant("cost", "--node", "PA", "--from", "2025-07-01", "--to", "2025-07-02", "--by", "day",
                           "--centres", "--tariff", "EXAMPLE-FLAT", "--out", out_file)
    assert code == 0, err
    book = openpyxl.load_workbook(out_file.with_suffix(".xlsx"))
    about = dict((r[0].value, r[1].value) for r in book["About"].iter_rows())
    assert about["电价 Tariffs (id version)"] == "EXAMPLE-FLAT 1"
    header = [c.value for c in book["Cost"][1]]
    rows = {r["centre"]: r for r in (dict(zip(header, (c.value for c in row)))
                                     for row in book["Cost"].iter_rows(min_row=2))}
    # the chiller workshop node holds the 30 kWh sub-meter; the rest of the 100 kWh is the remainder
    assert rows["PA.CHP"]["kwh"] == pytest.approx(96 * 30) and rows["PA.CHP"]["cost_cny"] == pytest.approx(96 * 30 * 0.7)
    assert sum(r["cost_cny"] for r in rows.values()) == pytest.approx(6720.0)
    assert out_file.with_suffix(".csv").read_text(encoding="utf-8-sig").startswith("centre,name,day,kwh,cost_cny")


def test_site_without_a_tariff_is_a_clear_error(ems, tmp_path):
    plain = tmp_path / "plain.yaml"
    plain.write_text((DATA / "plant_small.yaml").read_text(encoding="utf-8").replace(
        "        tariffs:\n          - {tariff: CN-GD-IND-TOU, from: 2021-10-01}\n", ""), encoding="utf-8")
    assert ems("config", "load", plain)[0] == 0
    code, _, err = ems("cost", "--node", "PA", "--from", "2025-07-01", "--to", "2025-07-02")
    assert code == 2 and "no tariff assigned" in err and "Traceback" not in err
    bad = tmp_path / "bad.yaml"
    bad.write_text((DATA / "plant_small.yaml").read_text(encoding="utf-8").replace("from: 2021-10-01", "from: soon"),
                   encoding="utf-8")
    code, _, err = ems("config", "check", bad)
    assert code == 2 and "bad.yaml, line 14, field 'from'" in err and "valid date" in err
