"""Internal settlement: known answers per allocation rule, fen-exact totals (property test), meter-tree
imbalance, and the CSV/Excel exports.

Known answer (hand-computed) under the Guangdong 2021 tariff with the shipped flat price 0.65 CNY/kWh
(valley 0.247, peak 1.105 CNY/kWh), two 15-min intervals on 2021-10-12:
  parent: valley 100 kWh -> 24.70, peak 100 kWh -> 110.50; total 135.20 CNY
  一车间: valley 60 kWh -> 14.82;  二车间: peak 80 kWh -> 88.40
  remainder: valley 40 kWh -> 9.88, peak 20 kWh -> 22.10; total 60 kWh, 31.98 CNY
  to_centre 公共区域: 公共区域 31.98
  proportional:      一车间 14.82 + 9.88 = 24.70; 二车间 88.40 + 22.10 = 110.50
  fixed_shares 50/50: 一车间 14.82 + 15.99 = 30.81; 二车间 88.40 + 15.99 = 104.39
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from ems.analytics.settlement import AllocationRule, export_settlement, largest_remainder_fen, settle
from ems.analytics.tariff_cost import energy_cost
from ems.analytics.tariff_files import load_tariff
from ems.errors import UserError

TZ = "Asia/Shanghai"
GD = load_tariff(Path(str(importlib.resources.files("ems").joinpath("data/tariffs/guangdong_2021.yaml"))))
CENTRES = {"W1.kWh": "一车间", "W2.kWh": "二车间"}
ENDS = pd.DatetimeIndex(["2021-10-12 03:00", "2021-10-12 14:15"]).tz_localize(TZ)   # valley, peak
TEMPS = pd.Series([28.0], index=pd.to_datetime(["2021-10-12"]))


def _case(parent_kwh=(100.0, 100.0), w1=(60.0, 0.0), w2=(0.0, 80.0)) -> tuple[pd.DataFrame, pd.DataFrame]:
    parent = energy_cost(pd.Series(parent_kwh, index=ENDS), GD, TZ, TEMPS)
    kids = pd.DataFrame({"W1.kWh": w1, "W2.kWh": w2}, index=ENDS)
    return parent, kids


def _costs(result) -> dict[str, float]:
    return result.lines.set_index("cost_centre")["cost_cny"].to_dict()


@pytest.mark.parametrize(("rule", "expected"), [
    (AllocationRule("to_centre", centre="公共区域"), {"一车间": 14.82, "二车间": 88.40, "公共区域": 31.98}),
    (AllocationRule("proportional"), {"一车间": 24.70, "二车间": 110.50}),
    (AllocationRule("fixed_shares", shares={"一车间": 0.5, "二车间": 0.5}), {"一车间": 30.81, "二车间": 104.39}),
])
def test_known_answers(rule, expected):
    parent, kids = _case()
    r = settle(parent, kids, rule, TZ, by="month", centre_of=CENTRES, parent_code="MAIN.kWh")
    assert _costs(r) == pytest.approx(expected, abs=1e-9)
    assert sum(_costs(r).values()) == pytest.approx(135.20, abs=1e-9)
    assert r.balance["parent_cost_cny"].tolist() == [135.20]
    assert r.balance["remainder_kwh"].tolist() == pytest.approx([60.0])
    assert r.tariffs == ["CN-GD-IND-TOU v2021-10"] and not r.imbalanced
    assert (r.lines["rule"] == rule.text()).all()
    assert r.lines["cost_share"].sum() == pytest.approx(1.0)


def test_each_submeter_pays_its_own_tou_mix():
    parent, kids = _case()
    lines = settle(parent, kids, AllocationRule("to_centre", centre="公共区域"), TZ, centre_of=CENTRES).lines
    price = lines.set_index("cost_centre")["avg_price_cny_per_kwh"]
    assert price["一车间"] == pytest.approx(0.247) and price["二车间"] == pytest.approx(1.105)
    assert lines.set_index("cost_centre").loc["公共区域", "kwh_allocated"] == pytest.approx(60.0)


def test_negative_remainder_is_flagged_never_negative_cost():
    parent, kids = _case(w1=(60.0, 60.0), w2=(0.0, 60.0))      # peak: sub-meters 120 kWh > parent 100
    r = settle(parent, kids, AllocationRule("to_centre", centre="公共区域"), TZ, by="day", centre_of=CENTRES)
    assert r.imbalanced
    bal = r.balance.iloc[0]
    assert bal["imbalance_intervals"] == 1 and bal["imbalance_kwh"] == pytest.approx(20.0)
    assert bal["flag"].startswith("meter-tree imbalance")
    costs = _costs(r)
    # valley: W1 60 kWh x 0.247 = 14.82, remainder 40 kWh = 9.88 to 公共区域;
    # peak: the parent's 110.50 shared 60:60 between W1 and W2, nothing left over.
    assert costs == pytest.approx({"一车间": 14.82 + 55.25, "二车间": 55.25, "公共区域": 9.88}, abs=1e-9)
    assert (r.lines[["cost_cny", "cost_metered_cny", "cost_allocated_cny", "kwh"]] >= 0).all().all()
    assert sum(costs.values()) == pytest.approx(135.20, abs=1e-9)


def test_largest_remainder_rounding():
    assert largest_remainder_fen(np.array([1 / 3] * 3), 1.0).tolist() == [34, 33, 33]
    assert largest_remainder_fen(np.array([0.335, 0.335, 0.33]), 1.0).tolist() == [34, 33, 33]
    assert largest_remainder_fen(np.array([0.004, 0.004, 0.002]), 0.01).tolist() == [1, 0, 0]


def test_rules_are_validated():
    with pytest.raises(UserError, match="sum to 1"):
        AllocationRule("fixed_shares", shares={"A": 0.5, "B": 0.4})
    with pytest.raises(UserError, match="needs the cost centre"):
        AllocationRule("to_centre")
    parent, kids = _case()
    with pytest.raises(UserError, match="name their cost centres"):
        settle(parent, kids, AllocationRule("to_centre", centre="W1.kWh"), TZ, centre_of=CENTRES)
    with pytest.raises(UserError, match="negative interval energy"):
        settle(parent, kids.assign(**{"W1.kWh": [-1.0, 0.0]}), AllocationRule("proportional"), TZ)


def test_missing_submeter_values_are_reported():
    parent, kids = _case(w1=(60.0, np.nan))
    r = settle(parent, kids, AllocationRule("proportional"), TZ, centre_of=CENTRES)
    assert r.balance["submeter_missing_values"].tolist() == [1]
    assert any("counted as zero" in n for n in r.notes)
    assert r.lines["cost_cny"].sum() == pytest.approx(135.20, abs=1e-9)


_kwh = st.floats(min_value=0.0, max_value=500.0, allow_nan=False)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.tuples(_kwh, _kwh, _kwh, st.floats(-50.0, 50.0)), min_size=1, max_size=60),
       step_h=st.sampled_from([0.25, 7.0, 23.0]), rule_no=st.integers(0, 2), by=st.sampled_from(["day", "month"]))
def test_totals_equal_parent_to_the_fen(rows, step_h, rule_no, by):
    idx = pd.date_range("2022-06-28 00:15", periods=len(rows), freq=pd.Timedelta(hours=step_h), tz=TZ)
    w = np.array([r[:3] for r in rows])
    parent_kwh = np.clip(w.sum(axis=1) + np.array([r[3] for r in rows]), 0.0, None)
    parent = energy_cost(pd.Series(parent_kwh, index=idx), GD, TZ)
    kids = pd.DataFrame(w, index=idx, columns=["A", "B", "C"])
    rule = [AllocationRule("proportional"), AllocationRule("fixed_shares", shares={"A": 0.2, "X": 0.8}),
            AllocationRule("to_centre", centre="B")][rule_no]
    r = settle(parent, kids, rule, TZ, by=by)
    bucket = parent["local_date"] if by == "day" else parent["local_date"].dt.to_period("M").dt.to_timestamp()
    parent_fen = (parent["cost_cny"].groupby(bucket.to_numpy()).sum() * 100).round(6).apply(
        lambda v: int(np.floor(v + 0.5)))
    line_fen = (r.lines.groupby(by)["cost_cny"].sum() * 100).round().astype(int)
    assert line_fen.to_dict() == parent_fen.to_dict()
    assert (r.lines[["cost_cny", "cost_metered_cny", "cost_allocated_cny"]] >= 0).all().all()
    assert (r.balance["imbalance_intervals"] > 0).any() == bool((w.sum(axis=1) > parent_kwh + 1e-9).any())


def test_exports_open_in_excel(tmp_path):
    parent, kids = _case()
    r = settle(parent, kids, AllocationRule("to_centre", centre="公共区域"), TZ, by="day",
               centre_of=CENTRES, parent_code="MAIN.kWh")
    written = export_settlement(r, tmp_path / "settlement")
    assert [p.name for p in written] == ["settlement.csv", "settlement.xlsx"]
    raw = (tmp_path / "settlement.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    csv = pd.read_csv(tmp_path / "settlement.csv", encoding="utf-8-sig")
    assert csv["cost_centre"].tolist() == ["一车间", "二车间", "公共区域"]
    assert csv["day"].tolist() == ["2021-10-12"] * 3
    assert csv["cost_cny"].sum() == pytest.approx(135.20)

    wb = load_workbook(tmp_path / "settlement.xlsx")
    assert wb.sheetnames == ["说明 About", "Settlement", "Balance"]
    about = {row[0]: row[1] for row in wb["说明 About"].iter_rows(values_only=True)}
    assert about["结算期 Period (local dates)"] == "2021-10-12 .. 2021-10-12"
    assert about["电价 Tariff (id and version)"] == "CN-GD-IND-TOU v2021-10"
    assert about["分摊规则 Allocation rule"] == r.rule.text()
    assert about["总表 Parent meter"] == "MAIN.kWh"
    assert about["生成时间 Generated (UTC)"]
    sheet = list(wb["Settlement"].iter_rows(values_only=True))
    cost_col = sheet[0].index("cost_cny")
    assert sum(row[cost_col] for row in sheet[1:]) == pytest.approx(135.20)
    assert export_settlement(r, tmp_path / "only.xlsx") == [tmp_path / "only.xlsx"]
