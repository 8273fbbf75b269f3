"""Targets: trajectory at milestones, linear between, breakdown to plants, gap, peak, net zero; projects; offsets."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from cms.targets import (
    TargetSet,
    fraction_at,
    gaps,
    load_target_file,
    peak_check,
    trajectory,
    trajectory_points,
)
from cms.targets_assets import (
    OffsetLot,
    Project,
    Retirement,
    avoided_tco2e,
    offset_ledger,
    projects_summary,
    retired_for,
    retired_frame,
)
from ems.errors import UserError

# Hisense white paper §4.2: base 2023 = 644,534 tCO2e (Scope 1+2); peak by 2026; intensity -40 % by 2030;
# absolute -50 % by 2040; net zero by 2050. The split over two plants is made up for the test.
HISENSE = {
    "id": "hisense-ops", "node": "GROUP", "base_year": 2023,
    "plants": {"PLANT-A": {"emissions_tco2e": 400_000.0, "denominators": {"output_value": 2_000_000.0}},
               "PLANT-B": {"emissions_tco2e": 244_534.0, "denominators": {"output_value": 1_000_000.0}}},
    "targets": [
        {"id": "absolute", "metric": "absolute",
         "milestones": [{"year": 2026, "kind": "peak"}, {"year": 2040, "reduction_pct": 50},
                        {"year": 2050, "kind": "net_zero"}]},
        {"id": "intensity", "metric": "intensity", "denominator": {"name": "output_value", "unit": "10k CNY"},
         "milestones": [{"year": 2030, "reduction_pct": 40}]},
    ],
}


@pytest.fixture
def ts() -> TargetSet:
    return TargetSet.model_validate(HISENSE)


def _at(frame: pd.DataFrame, plant: str, year: int, col: str) -> float:
    return float(frame[(frame["plant"] == plant) & (frame["year"] == year)][col].iloc[0])


def test_absolute_trajectory_exact_at_milestones(ts):
    tr = trajectory(ts, "absolute", [2023, 2040, 2050, 2060])
    assert _at(tr, "GROUP", 2023, "target_tco2e") == 644_534.0
    assert _at(tr, "GROUP", 2040, "target_tco2e") == 322_267.0          # the white paper's derived figure
    assert _at(tr, "GROUP", 2050, "target_tco2e") == 0.0
    assert _at(tr, "GROUP", 2060, "target_tco2e") == 0.0                # flat after the last milestone
    assert _at(tr, "PLANT-A", 2040, "target_tco2e") == 200_000.0
    assert _at(tr, "PLANT-B", 2040, "target_tco2e") == 122_267.0


def test_absolute_trajectory_linear_between_and_undefined_before_base(ts):
    tr = trajectory(ts, "absolute", [2022, 2031, 2045])
    assert _at(tr, "GROUP", 2031, "target_tco2e") == pytest.approx(644_534 * (1 - 0.5 * 8 / 17), rel=1e-12)
    assert _at(tr, "GROUP", 2045, "target_tco2e") == pytest.approx(322_267 / 2, rel=1e-12)
    assert math.isnan(_at(tr, "GROUP", 2022, "target_tco2e"))
    # the valueless peak milestone is not a point of the trajectory
    assert trajectory_points(ts.line("absolute"), 2023) == [(2023, 1.0), (2040, 0.5), (2050, 0.0)]


def test_intensity_trajectory_exact_at_2030(ts):
    tr = trajectory(ts, "intensity", [2030])
    assert _at(tr, "PLANT-A", 2030, "target_intensity") == 400_000.0 / 2_000_000.0 * 0.6
    assert _at(tr, "PLANT-B", 2030, "target_intensity") == 244_534.0 / 1_000_000.0 * 0.6
    assert _at(tr, "GROUP", 2030, "target_intensity") == 644_534.0 / 3_000_000.0 * 0.6


def test_absolute_gap_per_plant_sums_to_group(ts):
    actuals = pd.DataFrame({"plant": ["PLANT-A", "PLANT-B"], "year": [2040, 2040],
                            "emissions_tco2e": [210_000.0, 100_000.0]})
    g = gaps(ts, "absolute", actuals)
    assert _at(g, "PLANT-A", 2040, "gap_tco2e") == 10_000.0
    assert _at(g, "PLANT-B", 2040, "gap_tco2e") == -22_267.0
    assert _at(g, "GROUP", 2040, "gap_tco2e") == -12_267.0
    assert bool(g[g["plant"] == "GROUP"]["complete"].iloc[0])


def test_intensity_gap_uses_actual_denominator(ts):
    actuals = pd.DataFrame({"plant": ["PLANT-A", "PLANT-B"], "year": [2030, 2030],
                            "emissions_tco2e": [300_000.0, 150_000.0], "denominator": [2_500_000.0, 1_100_000.0]})
    g = gaps(ts, "intensity", actuals)
    allowed_a = 0.2 * 0.6 * 2_500_000.0
    assert _at(g, "PLANT-A", 2030, "allowed_tco2e") == pytest.approx(allowed_a)
    assert _at(g, "PLANT-A", 2030, "gap_tco2e") == pytest.approx(300_000.0 - allowed_a)
    plants = g[g["plant"] != "GROUP"]
    assert _at(g, "GROUP", 2030, "gap_tco2e") == pytest.approx(plants["gap_tco2e"].sum(), rel=1e-12)
    assert _at(g, "GROUP", 2030, "actual_intensity") == pytest.approx(450_000.0 / 3_600_000.0)


def test_net_zero_counts_offsets_only_in_net_columns(ts):
    actuals = pd.DataFrame({"plant": ["PLANT-A", "PLANT-B"], "year": [2050, 2050],
                            "emissions_tco2e": [5_000.0, 3_000.0]})
    rets = [Retirement(lot_id="L1", plant="PLANT-A", year=2050, quantity_tco2e=5_000.0),
            Retirement(lot_id="L1", plant="PLANT-B", year=2050, quantity_tco2e=2_000.0)]
    g = gaps(ts, "absolute", actuals, retired_frame(rets))
    assert _at(g, "GROUP", 2050, "actual_tco2e") == 8_000.0       # gross: offsets not netted
    assert _at(g, "GROUP", 2050, "gap_tco2e") == 8_000.0
    assert _at(g, "GROUP", 2050, "net_gap_tco2e") == 1_000.0
    assert _at(g, "PLANT-A", 2050, "net_gap_tco2e") == 0.0


def test_group_row_incomplete_when_a_plant_lacks_actuals(ts):
    g = gaps(ts, "absolute", pd.DataFrame({"plant": ["PLANT-A"], "year": [2030], "emissions_tco2e": [1.0]}))
    group = g[g["plant"] == "GROUP"].iloc[0]
    assert not group["complete"] and math.isnan(group["gap_tco2e"])


def test_explicit_allocation():
    data = HISENSE | {"allocation": "explicit",
                      "plants": {"PLANT-A": {"emissions_tco2e": 400_000.0, "share": 0.75},
                                 "PLANT-B": {"emissions_tco2e": 244_534.0, "share": 0.25}},
                      "targets": [HISENSE["targets"][0]]}
    ts = TargetSet.model_validate(data)
    tr = trajectory(ts, "absolute", [2040])
    assert _at(tr, "PLANT-A", 2040, "target_tco2e") == pytest.approx(0.75 * 322_267.0)
    with pytest.raises(ValueError, match="sum to 1"):
        TargetSet.model_validate(data | {"plants": {"PLANT-A": {"emissions_tco2e": 1.0, "share": 0.7},
                                                    "PLANT-B": {"emissions_tco2e": 1.0, "share": 0.2}}})


def test_peak_check():
    frame = peak_check({2023: 100.0, 2025: 110.0, 2026: 108.0, 2027: 109.0, 2028: 111.0}, 2026)
    assert frame["year"].tolist() == [2027, 2028]
    assert frame["excess_tco2e"].tolist() == [-1.0, 1.0]


def test_fraction_at_rejects_nothing_but_is_flat_with_only_base():
    assert fraction_at([(2023, 1.0)], 2030) == 1.0
    assert fraction_at([(2023, 1.0)], 2020) is None


@pytest.mark.parametrize("change, field", [
    ({"targets": [{"id": "x", "metric": "intensity", "milestones": [{"year": 2030, "reduction_pct": 40}]}]},
     "denominator"),
    ({"targets": [{"id": "x", "metric": "absolute", "milestones": [{"year": 2030}]}]}, "reduction_pct"),
    ({"targets": [{"id": "x", "metric": "absolute", "milestones": [{"year": 2020, "reduction_pct": 5}]}]},
     "targets"),
])
def test_target_file_errors_name_file_line_field(tmp_path, change, field):
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(HISENSE | change, sort_keys=False), encoding="utf-8")
    with pytest.raises(UserError) as exc:
        load_target_file(path)
    assert str(exc.value).startswith(f"{path}, line ") and f"field '{field}'" in str(exc.value)


def test_intensity_line_needs_base_denominators(tmp_path):
    data = HISENSE | {"plants": {"PLANT-A": {"emissions_tco2e": 1.0}}}
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    with pytest.raises(UserError, match="PLANT-A.*output_value"):
        load_target_file(path)


@settings(max_examples=150, deadline=None)
@given(base=st.lists(st.floats(1.0, 1e6), min_size=1, max_size=6),
       actual=st.lists(st.floats(0.0, 2e6), min_size=6, max_size=6),
       denom=st.lists(st.floats(1.0, 1e6), min_size=6, max_size=6),
       pct=st.floats(-20, 100), year=st.integers(2023, 2060), metric=st.sampled_from(["absolute", "intensity"]))
def test_group_gap_equals_sum_of_plant_gaps(base, actual, denom, pct, year, metric):
    plants = {f"P{i}": {"emissions_tco2e": b, "denominators": {"d": denom[i]}} for i, b in enumerate(base)}
    line = {"id": "l", "metric": metric, "milestones": [{"year": 2035, "reduction_pct": pct}]}
    if metric == "intensity":
        line["denominator"] = {"name": "d", "unit": "u"}
    ts = TargetSet.model_validate({"id": "t", "node": "G", "base_year": 2020, "plants": plants, "targets": [line]})
    acts = pd.DataFrame({"plant": list(plants), "year": year, "emissions_tco2e": actual[:len(base)],
                         "denominator": denom[::-1][:len(base)]})
    g = gaps(ts, "l", acts)
    plant_sum = math.fsum(g[g["plant"] != "G"]["gap_tco2e"])
    assert _at(g, "G", year, "gap_tco2e") == pytest.approx(plant_sum, rel=1e-9, abs=1e-6)
    if year == 2035 and metric == "absolute":
        assert _at(g, "G", year, "allowed_tco2e") == math.fsum(base) * (1 - pct / 100)


def test_projects_avoided_and_summary():
    ps = [Project(id="AC-1", node="PLANT-A", name="chiller reset", status="completed", expected_saving=880.0,
                  realised_saving=905.0, factor_tco2e_per_unit=0.5306),
          Project(id="CA-1", node="PLANT-A", name="compressor sequencing", status="completed",
                  expected_tco2e=150.0, realised_tco2e=140.0),
          Project(id="PV-1", node="PLANT-B", name="rooftop PV", status="in_progress", expected_saving=1000.0)]
    assert avoided_tco2e(ps[0]) == (pytest.approx(466.928), pytest.approx(480.193))
    assert avoided_tco2e(ps[2]) == (None, None)
    s = projects_summary(ps)
    row = s[(s["node"] == "PLANT-A") & (s["status"] == "completed")].iloc[0]
    assert row["projects"] == 2 and row["expected_tco2e"] == pytest.approx(616.928)


def test_offset_ledger_held_and_over_retirement():
    lots = [OffsetLot(id="CCER-2024-1", standard="CCER", quantity_tco2e=1_000.0, vintage=2024),
            OffsetLot(id="VER-1", standard="VER", quantity_tco2e=355.0, vintage=2023)]
    rets = [Retirement(lot_id="CCER-2024-1", plant="PLANT-A", year=2025, quantity_tco2e=600.0),
            Retirement(lot_id="CCER-2024-1", plant="PLANT-B", year=2025, quantity_tco2e=100.0)]
    led = offset_ledger(lots, rets).set_index("lot")
    assert led.loc["CCER-2024-1", "held_tco2e"] == 300.0 and led.loc["VER-1", "held_tco2e"] == 355.0
    assert retired_for(rets, "PLANT-A", 2025) == 600.0 and retired_for(rets, "PLANT-A", 2024) == 0.0
    with pytest.raises(UserError, match="retired but only"):
        offset_ledger(lots, rets + [Retirement(lot_id="VER-1", plant="PLANT-A", year=2025, quantity_tco2e=356.0)])
    with pytest.raises(UserError, match="unknown offset lot"):
        offset_ledger(lots, [Retirement(lot_id="NOPE", plant="P", year=2025, quantity_tco2e=1.0)])
