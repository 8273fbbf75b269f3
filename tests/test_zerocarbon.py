"""Zero-carbon-factory assessment: known answers, pack validation, configurable parts, CLI."""

from __future__ import annotations

import json
import math

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from cms.zerocarbon import assess, metric_value
from cms.zerocarbon_pack import Record, builtin_packs, configure, find_pack, load_pack, load_record
from ems.errors import UserError

AREAS = ["basic_compliance", "basic_management", "infrastructure", "information_system", "energy_resources",
         "products", "ghg_reduction", "carbon_offset"]
# Scores per area that add up to the Rongsheng certificate's 89 points (white paper L1721-1730).
RONGSHENG_SCORES = [12, 11, 11, 11, 11, 11, 11, 11]
# Test-only star thresholds consistent with "89 points = four-star"; the real ones are not public.
TEST_THRESHOLDS = {"min_score_3_star": 60, "min_score_4_star": 80, "min_score_5_star": 90, "min_score_6_star": 95}


def simple_record(**over) -> Record:
    """Worked example 19 of the carbon reference: Scope 1 2,000 t, market-based Scope 2 0 (100 % GEC)."""
    data = dict(plant="PLANT-A", year=2025, energy_mwh={"electricity": 10_000.0, "natural_gas": 2_000.0},
                renewable_electricity_mwh={"gec": 7_000.0, "onsite_pv": 3_000.0}, scope1_tco2e=2_000.0,
                scope2_market_tco2e=0.0, scope2_location_tco2e=5_306.0, offsets_retired_tco2e=2_000.0,
                evidence={"renewable_electricity": ["GEC 2025 batch 1"], "residual_offset": ["CCER retirement 77"]})
    data.update(over)
    return Record(**data)


def ceca_record(**over) -> Record:
    facts = {f"{a}_met": True for a in AREAS}
    evidence = {f"{a}_met": [f"doc-{a}"] for a in AREAS} | {"residual_neutralised": ["CCER-1"]}
    scores = {f"score_{a}": s for a, s in zip(AREAS, RONGSHENG_SCORES)}
    data = dict(plant="RONGSHENG", year=2022, energy_mwh={"electricity": 500.0},
                renewable_electricity_mwh={"onsite_pv": 500.0}, scope1_tco2e=45.74, scope2_market_tco2e=0.0,
                offsets_retired_tco2e=45.74, facts=facts, evidence=evidence, item_scores=scores)
    data.update(over)
    return Record(**data)


@pytest.fixture(scope="module")
def simple():
    return find_pack("RE100-OFFSET100")


@pytest.fixture(scope="module")
def ceca():
    return find_pack("T-CECA-G-0171-2022")


def test_example_19_plant_meeting_every_prerequisite_is_zero_carbon(simple):
    a = assess(simple, simple_record())
    assert a.achieved and a.outcome == "achieved"
    assert a.type == "S12" and a.level == "zero_carbon"
    assert a.residual_tco2e == 2_000.0          # Scope 1 2,000 + market-based Scope 2 0
    assert a.renewable_electricity_share == 1.0
    assert a.missing == [] and a.next_steps == []


def test_one_offset_short_fails_and_names_the_gap(simple):
    a = assess(simple, simple_record(offsets_retired_tco2e=1_999.0))
    assert not a.achieved and a.outcome == "not_met" and a.level is None
    item = next(i for i in a.items if i.id == "residual_offset")
    assert item.status == "not_met" and item.shortfall == pytest.approx(1.0)
    assert len(a.missing) == 1 and a.missing[0].startswith("residual_offset")
    assert "retire 1.000 tCO2e" in a.next_steps[0] and "PLANT-A" in a.next_steps[0]


def test_renewable_shortfall_in_mwh(simple):
    a = assess(simple, simple_record(renewable_electricity_mwh={"gec": 7_000.0}))
    item = next(i for i in a.items if i.id == "renewable_electricity")
    assert item.status == "not_met" and item.value == pytest.approx(0.7)
    assert item.shortfall == pytest.approx(3_000.0) and item.shortfall_unit == "MWh"
    assert a.outcome == "not_met"


def test_missing_evidence_blocks_a_prerequisite(simple):
    a = assess(simple, simple_record(evidence={"renewable_electricity": ["GEC"]}))
    item = next(i for i in a.items if i.id == "residual_offset")
    assert item.status == "no_evidence" and item.evidence_missing
    assert not a.achieved and "attach evidence" in " ".join(a.next_steps)


def test_missing_input_is_incomplete_not_failed(simple):
    a = assess(simple, simple_record(scope1_tco2e=None))
    assert a.outcome == "incomplete" and not a.achieved
    assert "input scope1_tco2e" in a.missing


def test_float_rounding_does_not_fail_an_exact_cover(simple):
    a = assess(simple, simple_record(scope1_tco2e=0.1, scope2_market_tco2e=0.2, offsets_retired_tco2e=0.3))
    assert 0.3 < 0.1 + 0.2 and a.achieved


def test_unconfigured_threshold_does_not_block_on_missing_input(ceca):
    rec = ceca_record(energy_mwh={})
    a = assess(configure(ceca, TEST_THRESHOLDS), rec)
    assert next(i for i in a.items if i.id == "renewable_electricity_share").status == "unconfigured"
    assert a.achieved and a.level == "four_star"


def test_offsets_do_not_change_scope_figures(simple):
    rec = simple_record(offsets_retired_tco2e=5_000.0)
    assert metric_value("scope1_tco2e", rec, ["scope1"]) == 2_000.0
    assert metric_value("residual_tco2e", rec, ["scope1", "scope2_market"]) == 2_000.0
    assert metric_value("unneutralised_tco2e", rec, ["scope1", "scope2_market"]) == -3_000.0


def test_ceca_pack_shape(ceca):
    assert [a.id for a in ceca.areas] == AREAS
    assert [lv.stars for lv in ceca.levels] == [3, 4, 5, 6]
    assert {t.id for t in ceca.types} == {"I", "II"} and all(t.configurable for t in ceca.types)
    assert ceca.parameters["residual_neutralised_min"].value == 1.0
    assert not ceca.parameters["residual_neutralised_min"].configurable
    unknown = [n for n, p in ceca.parameters.items() if p.value is None]
    assert set(unknown) >= set(TEST_THRESHOLDS) | {"renewable_electricity_share_min"}
    assert all(ceca.parameters[n].configurable for n in unknown)


def test_ceca_without_thresholds_is_undetermined(ceca):
    a = assess(ceca, ceca_record())
    assert a.outcome == "undetermined" and a.level is None and a.score == 89
    assert any("not configured" in n for n in a.notes)
    assert next(i for i in a.items if i.id == "renewable_electricity_share").status == "unconfigured"


def test_ceca_rongsheng_case_reaches_four_stars_type_one(ceca):
    a = assess(configure(ceca, TEST_THRESHOLDS), ceca_record())
    assert a.achieved and a.level == "four_star" and a.stars == 4 and a.score == 89
    assert a.type == "I"       # Type II needs categories 3 and 4, which the record lacks
    assert {t["type"]: t["outcome"] for t in a.types} == {"I": "achieved", "II": "incomplete"}
    assert "score 1 more points to reach 'five-star'" in a.next_steps


def test_ceca_type_two_when_categories_3_4_neutralised(ceca):
    rec = ceca_record(scope3_cat3_tco2e=10.0, scope3_cat4_tco2e=4.26, offsets_retired_tco2e=60.0)
    a = assess(configure(ceca, TEST_THRESHOLDS), rec)
    assert a.type == "II" and a.residual_tco2e == pytest.approx(60.0)


def test_ceca_one_area_not_met_fails_with_area_named(ceca):
    rec = ceca_record(facts={f"{a}_met": a != "products" for a in AREAS})
    a = assess(configure(ceca, TEST_THRESHOLDS), rec)
    assert not a.achieved and a.outcome == "not_met" and a.level is None
    assert [m.split(":")[0] for m in a.missing] == ["products_met"]


def test_configured_re_share_becomes_a_prerequisite(ceca):
    pack = configure(ceca, TEST_THRESHOLDS | {"renewable_electricity_share_min": 1.0})
    a = assess(pack, ceca_record(renewable_electricity_mwh={"onsite_pv": 400.0},
                                 evidence=ceca_record().evidence | {"renewable_electricity_share": ["PV"]}))
    item = next(i for i in a.items if i.id == "renewable_electricity_share")
    assert item.status == "not_met" and item.shortfall == pytest.approx(100.0)
    assert not a.achieved


def test_configure_refuses_fixed_and_unknown_parameters(ceca):
    with pytest.raises(UserError, match="not configurable"):
        configure(ceca, {"residual_neutralised_min": 0.9})
    with pytest.raises(UserError, match="no parameter"):
        configure(ceca, {"min_score_7_star": 99})


def test_thresholds_contradicting_the_known_certificate_are_refused(ceca):
    with pytest.raises(UserError, match="known_cases") as exc:
        configure(ceca, TEST_THRESHOLDS | {"min_score_4_star": 85, "min_score_5_star": 88})
    assert "five_star" in str(exc.value) and "Rongsheng" in str(exc.value)


def test_area_score_above_maximum_is_refused(ceca):
    pack = configure(ceca, TEST_THRESHOLDS | {"area_points_max": 11})
    with pytest.raises(UserError, match="exceeds its maximum"):
        assess(pack, ceca_record())


def test_every_builtin_pack_loads_and_marks_unknowns():
    packs = builtin_packs()
    assert {p.id for p in packs} == {"RE100-OFFSET100", "T-CECA-G-0171-2022"}
    for p in packs:
        for name, prm in p.parameters.items():
            assert prm.value is not None or prm.configurable, name


def test_pack_error_names_file_line_and_field(tmp_path):
    data = yaml.safe_load(open(find_pack.__globals__["PACK_DIR"] / "re100-offset100.yaml", encoding="utf-8"))
    data["items"][1]["check"]["metric"] = "renewable_share_typo"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    line = next(i for i, t in enumerate(path.read_text().splitlines(), 1) if "renewable_share_typo" in t)
    with pytest.raises(UserError) as exc:
        load_pack(path)
    assert str(exc.value).startswith(f"{path}, line {line}, field 'metric': unknown metric")


def test_unconfigured_parameter_must_be_marked_configurable(tmp_path):
    data = yaml.safe_load(open(find_pack.__globals__["PACK_DIR"] / "re100-offset100.yaml", encoding="utf-8"))
    data["parameters"]["residual_neutralised_min"] = {"value": None, "unit": "fraction"}
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    with pytest.raises(UserError, match="field 'configurable'"):
        load_pack(path)


def test_record_rejects_negative_scope(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("plant: P\nyear: 2025\nscope1_tco2e: -5\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"line 3, field 'scope1_tco2e'"):
        load_record(path)


@settings(max_examples=200, deadline=None)
@given(s1=st.floats(0, 1e6), s2=st.floats(0, 1e6), off=st.floats(0, 2e6), rem=st.floats(0, 1e5))
def test_achieved_iff_neutralised_covers_residual(simple, s1, s2, off, rem):
    rec = simple_record(scope1_tco2e=s1, scope2_market_tco2e=s2, offsets_retired_tco2e=off, removals_tco2e=rem)
    a = assess(simple, rec)
    residual, neutralised = s1 + s2, off + rem
    covered = residual == 0 or neutralised / residual >= 1.0 or math.isclose(neutralised / residual, 1.0,
                                                                              rel_tol=1e-9)
    assert a.achieved == covered
    item = next(i for i in a.items if i.id == "residual_offset")
    if not a.achieved:
        assert item.shortfall == pytest.approx(residual - neutralised, rel=1e-9, abs=1e-6)
        assert item.shortfall > 0


def _run(monkeypatch, capsys, *argv):
    import ems.cli.main as cli

    code = cli.main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_assess_json_and_text(tmp_path, monkeypatch, capsys):
    path = tmp_path / "in.yaml"
    path.write_text(yaml.safe_dump(simple_record(offsets_retired_tco2e=1_500.0).model_dump()), encoding="utf-8")
    code, out, _ = _run(monkeypatch, capsys, "zerocarbon", "assess", "--pack", "RE100-OFFSET100",
                        "--input", path, "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["outcome"] == "not_met" and doc["residual_tco2e"] == 2000.0
    assert doc["missing"][0].startswith("residual_offset")
    code, out, _ = _run(monkeypatch, capsys, "zerocarbon", "assess", "--pack", "RE100-OFFSET100", "--input", path)
    assert code == 0 and "outcome: not_met" in out and "retire 500.000 tCO2e" in out


def test_cli_assess_with_set_thresholds(tmp_path, monkeypatch, capsys):
    path = tmp_path / "in.yaml"
    path.write_text(yaml.safe_dump(ceca_record().model_dump()), encoding="utf-8")
    sets = [x for k, v in TEST_THRESHOLDS.items() for x in ("--set", f"{k}={v}")]
    code, out, _ = _run(monkeypatch, capsys, "zerocarbon", "assess", "--pack", "T-CECA-G-0171-2022",
                        "--input", path, "--json", *sets)
    assert code == 0 and json.loads(out)["stars"] == 4


@pytest.mark.parametrize("argv, message", [
    (["--pack", "NO-SUCH-PACK"], "no criteria pack 'NO-SUCH-PACK'"),
    (["--pack", "RE100-OFFSET100", "--set", "residual_neutralised_min=0.5"], "not configurable"),
    (["--pack", "RE100-OFFSET100", "--set", "oops"], "expected NAME=VALUE"),
])
def test_cli_user_errors_exit_2_one_line(tmp_path, monkeypatch, capsys, argv, message):
    path = tmp_path / "in.yaml"
    path.write_text(yaml.safe_dump(simple_record().model_dump()), encoding="utf-8")
    code, _, err = _run(monkeypatch, capsys, "zerocarbon", "assess", "--input", path, *argv)
    assert code == 2 and message in err and err.count("\n") == 1
