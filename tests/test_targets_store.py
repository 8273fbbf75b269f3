"""Storage of target sets, projects and offsets (sql/007_targets.sql) and the ``ems target`` CLI, on PostgreSQL."""

from __future__ import annotations

import json

import psycopg
import pytest
import yaml

from cms.targets import TargetSet
from cms.targets_assets import OffsetLot, Project, Retirement
from cms.targets_store import (
    add_offset_lot,
    list_projects,
    load_target_set,
    offset_lots,
    retire_offsets,
    retirements,
    save_project,
    save_target_set,
    target_sets_for_node,
)
from ems.errors import UserError

TARGETS = {
    "id": "group-2023", "node": "GROUP", "base_year": 2023,
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


def _nodes(conn, *codes):
    conn.execute("INSERT INTO node (code, level, timezone) VALUES ('GROUP', 'group', 'Asia/Shanghai')")
    for code in codes:
        conn.execute("INSERT INTO node (code, parent_id, level, timezone) "
                     "SELECT %s, node_id, 'plant', 'Asia/Shanghai' FROM node WHERE code = 'GROUP'", (code,))


@pytest.fixture
def plants(conn):
    _nodes(conn, "PLANT-A", "PLANT-B")
    return conn


def test_target_set_round_trip_and_versions(plants):
    conn = plants
    ts = TargetSet.model_validate(TARGETS)
    assert save_target_set(conn, ts) == (1, True)
    assert save_target_set(conn, ts) == (1, False)             # same definition: nothing changes
    assert load_target_set(conn, "group-2023") == ts
    changed = TargetSet.model_validate(TARGETS | {"base_year": 2022})
    assert save_target_set(conn, changed) == (2, True)
    assert load_target_set(conn, "group-2023").base_year == 2022
    rows = conn.execute("SELECT line_id, year, kind, reduction_pct FROM target_milestone "
                        "ORDER BY line_id, year").fetchall()
    assert rows == [("absolute", 2026, "peak", None), ("absolute", 2040, "reduction", 50.0),
                    ("absolute", 2050, "net_zero", None), ("intensity", 2030, "reduction", 40.0)]
    assert [t.id for t in target_sets_for_node(conn, "PLANT-B")] == ["group-2023"]
    assert target_sets_for_node(conn, "NOPE") == []


def test_target_set_with_unknown_plant_is_refused(conn):
    _nodes(conn, "PLANT-A")
    with pytest.raises(UserError, match="unknown node code.*PLANT-B"):
        save_target_set(conn, TargetSet.model_validate(TARGETS))
    assert conn.execute("SELECT count(*) FROM target_set").fetchone()[0] == 0


def test_projects_upsert_and_list(plants):
    conn = plants
    p = Project(id="AC-1", node="PLANT-A", name="chiller reset", status="in_progress", expected_saving=880.0,
                factor_tco2e_per_unit=0.5306)
    save_project(conn, p)
    save_project(conn, p.model_copy(update={"status": "completed", "realised_saving": 905.0}))
    got = list_projects(conn, "PLANT-A")
    assert len(got) == 1 and got[0].status == "completed" and got[0].realised_saving == 905.0
    assert list_projects(conn, "PLANT-B") == []
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("UPDATE reduction_project SET status = 'dreaming'")


def test_offsets_retire_within_lot_only(plants):
    conn = plants
    add_offset_lot(conn, OffsetLot(id="CCER-1", standard="CCER", quantity_tco2e=1_000.0, vintage=2024,
                                   serial="CCER-2024-000123"))
    with pytest.raises(UserError, match="exists already"):
        add_offset_lot(conn, OffsetLot(id="CCER-1", standard="CCER", quantity_tco2e=1.0, vintage=2024))
    retire_offsets(conn, Retirement(lot_id="CCER-1", plant="PLANT-A", year=2025, quantity_tco2e=600.0))
    retire_offsets(conn, Retirement(lot_id="CCER-1", plant="PLANT-B", year=2025, quantity_tco2e=400.0))
    with pytest.raises(UserError, match="over-retired"):
        retire_offsets(conn, Retirement(lot_id="CCER-1", plant="PLANT-A", year=2025, quantity_tco2e=0.001))
    with pytest.raises(UserError, match="no offset lot"):
        retire_offsets(conn, Retirement(lot_id="NOPE", plant="PLANT-A", year=2025, quantity_tco2e=1.0))
    with pytest.raises(psycopg.errors.CheckViolation):      # the database itself refuses, whoever writes
        conn.execute("UPDATE offset_lot SET quantity_tco2e = 999 WHERE lot_id = 'CCER-1'")
    assert [r.quantity_tco2e for r in retirements(conn, plant="PLANT-A", year=2025)] == [600.0]
    assert sum(r.quantity_tco2e for r in retirements(conn, year=2025)) == 1_000.0
    assert offset_lots(conn)[0].quantity_tco2e == 1_000.0


@pytest.fixture
def ems_t(ems):
    return ems


def test_cli_target_set_and_show(ems_t, conn, tmp_path):
    _nodes(conn, "PLANT-A", "PLANT-B")
    path = tmp_path / "targets.yaml"
    path.write_text(yaml.safe_dump(TARGETS, sort_keys=False), encoding="utf-8")
    code, out, err = ems_t("target", "set", path)
    assert code == 0, err
    assert "version 1 stored" in out
    code, out, _ = ems_t("target", "set", path)
    assert code == 0 and "version 1 unchanged" in out

    code, out, _ = ems_t("target", "show", "--node", "GROUP", "--year", 2040, "--json")
    assert code == 0
    blocks = {b["line"]: b for b in json.loads(out)}
    rows = {r["plant"]: r for r in blocks["absolute"]["rows"]}
    assert rows["GROUP"]["target_tco2e"] == 322_267.0 and rows["PLANT-A"]["target_tco2e"] == 200_000.0

    add_offset_lot(conn, OffsetLot(id="L1", standard="CCER", quantity_tco2e=50_000.0, vintage=2039))
    retire_offsets(conn, Retirement(lot_id="L1", plant="PLANT-A", year=2040, quantity_tco2e=10_000.0))
    actuals = tmp_path / "actuals.csv"
    actuals.write_text("plant,year,emissions_tco2e,denominator\nPLANT-A,2040,210000,2500000\n"
                       "PLANT-B,2040,100000,1100000\n", encoding="utf-8")
    code, out, _ = ems_t("target", "show", "--node", "PLANT-A", "--year", 2040, "--actuals", actuals, "--json")
    assert code == 0
    rows = {b["line"]: b["rows"] for b in json.loads(out)}
    assert [r["plant"] for r in rows["absolute"]] == ["PLANT-A"]
    assert rows["absolute"][0]["gap_tco2e"] == 10_000.0 and rows["absolute"][0]["net_gap_tco2e"] == 0.0
    code, out, _ = ems_t("target", "show", "--node", "GROUP", "--year", 2040, "--actuals", actuals)
    assert code == 0 and "group-2023 / absolute" in out and "-12,267.000" in out


@pytest.mark.parametrize("argv, message", [
    (["target", "show", "--node", "NOBODY", "--year", "2030"], "no target set covers node 'NOBODY'"),
    (["target", "set", "missing.yaml"], "cannot read file"),
])
def test_cli_target_user_errors(ems_t, argv, message):
    code, _, err = ems_t(*argv)
    assert code == 2 and message in err and err.count("\n") == 1


def test_cli_bad_actuals_names_line_and_column(ems_t, conn, tmp_path):
    _nodes(conn, "PLANT-A", "PLANT-B")
    path = tmp_path / "targets.yaml"
    path.write_text(yaml.safe_dump(TARGETS), encoding="utf-8")
    assert ems_t("target", "set", path)[0] == 0
    actuals = tmp_path / "a.csv"
    actuals.write_text("plant,year,emissions_tco2e\nPLANT-A,2030,12x\n", encoding="utf-8")
    code, _, err = ems_t("target", "show", "--node", "GROUP", "--year", 2030, "--actuals", actuals)
    assert code == 2 and "line 2, field 'emissions_tco2e'" in err
