"""GB/T 2589-2020 standard-coal conversion: known answers, units, bases, data integrity."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ems.analytics import tce


def test_electricity_equivalent_known_answer():
    assert tce.to_tce(1000.0, "kWh", "electricity") == pytest.approx(0.1229, abs=1e-12)
    assert tce.to_tce(1.0, "MWh", "electricity") == pytest.approx(0.1229)
    assert tce.to_tce(1.0, "万kWh", "electricity") == pytest.approx(1.229)


def test_electricity_equal_value_default_year_and_override():
    c = tce.electricity_equal_value()
    assert c.year == 2022 and c.firmness == "R"
    assert tce.to_tce(1000.0, "kWh", "electricity", "equal_value") == pytest.approx(c.kgce_per_unit)
    assert tce.to_tce(1000.0, "kWh", "electricity", "equal_value", year=2020) == pytest.approx(0.3055)
    assert tce.to_tce(1.0, "MWh", "electricity", "equal_value", equal_value_kgce_per_kwh=0.3) == pytest.approx(0.3)
    with pytest.raises(ValueError, match="year 1990"):
        tce.to_tce(1.0, "kWh", "electricity", "equal_value", year=1990)


@pytest.mark.parametrize(("qty", "unit", "medium", "expected_tce"), [
    (10_000.0, "m3", "natural_gas", 12.143),         # 1.2143 kgce/m3
    (10_000.0, "Nm3", "natural_gas_oilfield", 13.3),  # 1.3300 kgce/m3
    (1.0, "t", "diesel", 1.4571),
    (1.0, "t", "gasoline", 1.4714),
    (1.0, "t", "lpg", 1.7143),
    (1.0, "t", "raw_coal", 0.7143),
    (1.0, "t", "steam", 0.1286),                     # low-pressure steam, 128.6 kgce/t
    (1.0, "GJ", "steam", 0.03412),                   # steam metered as heat
    (1.0, "GJ", "heat", 0.03412),
])
def test_fuel_and_heat_known_answers(qty, unit, medium, expected_tce):
    assert tce.to_tce(qty, unit, medium) == pytest.approx(expected_tce, rel=1e-9)


def test_fuels_equal_value_equals_equivalent_and_heat_has_no_equal_value():
    assert tce.to_tce(1.0, "t", "diesel", "equal_value") == tce.to_tce(1.0, "t", "diesel", "equivalent")
    with pytest.raises(ValueError, match="no 'equal_value'"):
        tce.to_tce(1.0, "GJ", "heat", "equal_value")
    assert tce.to_tce(1.0, "GJ", "heat", "equal_value", kgce_per_unit=40.0) == pytest.approx(0.04)


def test_water_is_equal_value_only():
    assert tce.to_tce(1000.0, "t", "water", "equal_value") == pytest.approx(0.0857)
    with pytest.raises(ValueError, match="water has no 'equivalent'"):
        tce.to_tce(1000.0, "t", "water")


def test_bad_medium_unit_and_basis_raise_clearly():
    with pytest.raises(ValueError, match="no tce coefficient for medium 'unobtainium'"):
        tce.to_tce(1.0, "kg", "unobtainium")
    with pytest.raises(ValueError, match="cannot convert 'kWh' of natural_gas"):
        tce.to_tce(1.0, "kWh", "natural_gas")
    with pytest.raises(ValueError, match="basis must be one of"):
        tce.to_tce(1.0, "kWh", "electricity", "primary")  # type: ignore[arg-type]


def test_series_and_array_keep_index_and_nan():
    s = pd.Series([1000.0, np.nan, 2000.0], index=pd.date_range("2025-01-01", periods=3, freq="D"), name="e")
    out = tce.to_tce(s, "kWh", "electricity")
    assert list(out.index) == list(s.index) and out.name == "e"
    assert out.iloc[0] == pytest.approx(0.1229) and math.isnan(out.iloc[1]) and out.iloc[2] == pytest.approx(0.2458)
    arr = tce.to_tce(np.array([1.0, 2.0]), "t", "diesel")
    np.testing.assert_allclose(arr, [1.4571, 2.9142])


def test_ncv_override():
    # Measured NCV 35.0 MJ/m3 -> 35000 / 29307.6 = 1.19423 kgce/m3.
    k = tce.kgce_per_unit_from_ncv(35_000.0)
    assert k == pytest.approx(1.194229, rel=1e-5)
    assert tce.to_tce(1000.0, "m3", "natural_gas", kgce_per_unit=k) == pytest.approx(1.194229, rel=1e-5)


def test_every_coefficient_is_sourced_and_consistent_with_its_calorific_value():
    table = tce.load_table()
    assert table.standard == "GB/T 2589-2020"
    assert {"electricity", "natural_gas", "steam", "heat", "diesel", "gasoline", "lpg", "raw_coal"} <= set(table.media)
    for c in table.coefficients:
        assert c.source and c.firmness in {"S", "S2", "R"}
        if c.kcal_per_unit is not None:  # Annex A: kgce = kcal / 7000, 4 decimals
            assert c.kgce_per_unit == pytest.approx(round(c.kcal_per_unit / 7000.0, 4), abs=1e-12), c.medium
        if c.kj_per_unit is not None:   # kJ column within 0.5 % of kgce x 29307.6 (table uses 4.1816 kJ/kcal)
            assert c.kj_per_unit == pytest.approx(c.kgce_per_unit * 29307.6, rel=5e-3), c.medium


def test_tce_frame_records_source_and_firmness():
    frame = pd.DataFrame({"medium": ["electricity", "natural_gas"], "quantity": [1.0, 1000.0],
                          "unit": ["MWh", "m3"]})
    out = tce.tce_frame(frame)
    assert out["tce"].tolist() == pytest.approx([0.1229, 1.2143])
    assert out["firmness"].tolist() == ["S2", "R"]
    assert out["coefficient_source"].str.startswith("GB/T 2589-2020").all()
    table = tce.coefficient_table()
    assert {"medium", "unit", "kgce_per_unit", "source", "firmness"} <= set(table.columns)


def test_bad_yaml_names_file_and_entry(tmp_path):
    bad = tmp_path / "c.yaml"
    bad.write_text("standard: X\ncoefficients:\n  - medium: electricity\n    unit: kWh\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"c\.yaml: coefficients\[0\]"):
        tce.load_table(bad)
