"""The factor library as data: every shipped file validates, every figure is the reference's, selection
follows the stated vintage and region rules, and bad files are rejected naming file, line and field."""

from __future__ import annotations

import re
from decimal import Decimal as D
from pathlib import Path

import pytest

from cms.csvfiles import parse_instrument_csv
from cms.factors import DATA_DIR, load_file, load_library
from ems.errors import UserError

REFERENCE = Path("/work/shared/reference/carbon-standards-and-factors.md")
LIB = load_library()


def test_library_covers_the_required_series():
    ids = {f.id for f in LIB.factors}
    for year in (2021, 2022, 2023):
        assert {f"MEE-GRID-CN-{year}", f"MEE-RESID-CN-{year}"} <= ids
        for region in ("NORTH", "NORTHEAST", "EAST", "CENTRAL", "NORTHWEST", "SOUTH", "SOUTHWEST"):
            assert f"MEE-GRID-CN-{region}-{year}" in ids
    for fuel in ("NG", "DIESEL", "GASOLINE", "LPG", "BITUMINOUS", "ANTHRACITE"):
        assert f"CN-GUIDE-{fuel}-NCV" in ids and f"IPCC-{fuel}-CO2" in ids
    for gas in ("CO2", "CH4", "N2O", "SF6", "HFC134A", "HFC32", "HCFC22"):
        assert {f"GWP-{s}-{gas}" for s in ("AR4", "AR5", "AR6")} <= ids
    assert "CN-MEE-HEAT-DEFAULT" in ids
    assert all(f.firmness in ("S", "S2", "R", "D") and f.source for f in LIB.factors)


@pytest.mark.skipif(not REFERENCE.exists(), reason="reference document not available")
def test_every_shipped_value_appears_in_the_reference():
    text = REFERENCE.read_text(encoding="utf-8")
    numbers = {D(m.replace(",", "")) for m in re.findall(r"\d[\d,]*\.?\d*", text)}
    missing = [(f.id, str(f.value)) for f in LIB.factors
               if f.value not in numbers and not (f.kind == "oxidation" and f.value * 100 in numbers)]  # "93 %"
    assert missing == []


@pytest.mark.parametrize("year,region,expected", [
    (2025, "east", "MEE-GRID-CN-EAST-2023"),     # latest data year <= inventory year
    (2022, "east", "MEE-GRID-CN-EAST-2022"),
    (2023, "CN-GD", "MEE-GRID-CN-GD-2023"),      # province first
    (2023, "CN-FJ", "MEE-GRID-CN-EAST-2023"),    # no 2023 Fujian factor: its grid region
    (2023, "CN-NM", "MEE-GRID-CN-2023"),         # Inner Mongolia: no grid region, national
    (2023, None, "MEE-GRID-CN-2023"),
])
def test_selection_rule(year, region, expected):
    f = LIB.select(kind="emission", activity="electricity_grid", region=region, year=year, series="location")
    assert f.id == expected


def test_no_factor_before_the_first_data_year():
    assert LIB.select(kind="emission", activity="electricity_grid", region="east", year=2020, series="location") is None


@pytest.mark.parametrize("body,where", [
    ("factors:\n  - {id: X, kind: emission, family: f, activity: a, region: CN, gas: CO2, value: abc, unit: t/MWh,"
     " source: s, firmness: S}\n", "line 2, field 'value'"),
    ("factors:\n  - id: X\n    kind: emission\n    family: f\n    activity: a\n    region: CN\n    gas: CO2\n"
     "    value: '1'\n    unit: t/MWh\n    source: s\n    firmness: Q\n", "line 2, field 'firmness'"),
    ("factors:\n  - {id: X, kind: emission, family: f, activity: a, region: CN, value: '1', unit: t/MWh,"
     " source: s, firmness: S}\n", "field 'gas'"),
    ("factors:\n  - {id: X, kind: emission, family: f, activity: a, region: CN, gas: CO2, value: '1', unit: t/furlong_x,"
     " source: s, firmness: S}\n", "field 'unit'"),
    ("factors:\n  - {id: X, kind: nope, family: f, activity: a, region: CN, value: '1', unit: '1', source: s,"
     " firmness: S}\n", "field 'kind'"),
    ("factors: [\n", "not valid YAML"),
])
def test_bad_factor_files_name_the_place(tmp_path, body, where):
    path = tmp_path / "bad.yaml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(UserError) as exc:
        load_file(path)
    assert str(path) in str(exc.value) and where in str(exc.value)


def test_shipped_files_have_no_duplicates():
    for path in DATA_DIR.glob("*.yaml"):
        factors, _ = load_file(path)
        assert len({f.key for f in factors}) == len(factors)


def test_instrument_csv_errors(tmp_path):
    path = tmp_path / "inst.csv"
    path.write_text("code,kind,node,mwh,vintage,period start,period end,qc_met\n"
                    "A,gec,P,100,2025,2025-01-01,2026-01-01,yes\n"
                    "A,gec,P,100,2025,2025-01-01,2026-01-01,yes\n"
                    "B,carbon_credit,P,100,2025,2025-01-01,2026-01-01,\n"
                    "C,ppa,P,-5,2025,2025-01-01,2026-01-01,\n"
                    "D,ppa,P,5,2025,2025-01-01,2026-01-01,maybe\n", encoding="utf-8")
    parsed = parse_instrument_csv(path, {"P"})
    assert [e.split(": ", 1)[0] for e in parsed.errors] == [
        f"{path}, line 3, field 'code'", f"{path}, line 4, field 'kind'", f"{path}, line 5, field 'mwh'",
        f"{path}, line 6, field 'qc met'"]
    with pytest.raises(UserError, match="4 row"):
        parsed.raise_if_errors()
