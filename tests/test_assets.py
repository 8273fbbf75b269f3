"""Asset model: YAML validation with file/line/field errors, load, reload no-op, update in place."""

from __future__ import annotations

from pathlib import Path

import pytest

from ems.assets.loader import load_asset_file
from ems.assets.store import load_asset_model, node_tree, points_frame
from ems.errors import UserError

SMALL = Path(__file__).parent / "data" / "plant_small.yaml"


def test_small_file_flattens_with_inheritance():
    model = load_asset_file(SMALL)
    nodes = {n.code: n for n in model.nodes}
    assert [n.code for n in model.nodes] == ["GRP", "PA", "PA.CHP", "PB"]
    assert nodes["PA.CHP"].timezone == "Asia/Shanghai"          # inherited from the root
    assert nodes["PA.CHP"].grid_region == "north"               # inherited from the plant
    assert nodes["PB"].ownership_share == 0.6 and nodes["PB"].financial_control is False
    assert {p.spec.code: p.node_code for p in model.points}["PA.CH1.kWh"] == "PA.CHP"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "plant.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _bad(tmp_path, old: str, new: str) -> UserError:
    text = SMALL.read_text(encoding="utf-8").replace(old, new, 1)
    assert text != SMALL.read_text(encoding="utf-8")
    with pytest.raises(UserError) as info:
        load_asset_file(_write(tmp_path, text))
    return info.value


def _line_of(text: str) -> int:
    for i, line in enumerate(SMALL.read_text(encoding="utf-8").splitlines(), start=1):
        if text in line:
            return i
    raise AssertionError(text)


def test_unknown_unit_names_file_line_and_field(tmp_path):
    err = _bad(tmp_path, "unit: degC", "unit: degCC")
    assert "plant.yaml" in str(err) and f"line {_line_of('unit: degC')}" in str(err)
    assert "field 'unit'" in str(err) and "unknown unit 'degCC'" in str(err)


def test_bad_timezone_and_kind(tmp_path):
    err = _bad(tmp_path, "timezone: Asia/Shanghai", "timezone: Asia/Qingdao")
    assert "field 'timezone'" in str(err) and f"line {_line_of('timezone: Asia/Shanghai')}" in str(err)
    err = _bad(tmp_path, "kind: instantaneous", "kind: sometimes")
    assert "field 'kind'" in str(err)


def test_unit_must_fit_the_quantity(tmp_path):
    err = _bad(tmp_path, "unit: m3", "unit: kWh")
    assert "does not measure volume" in str(err) and "PB.GAS.m3" in str(err)
    assert f"line {_line_of('unit: m3')}" in str(err) and "field 'unit'" in str(err)


def test_parent_meter_and_formula_must_exist(tmp_path):
    err = _bad(tmp_path, "parent: PA.MAIN.kWh", "parent: PA.NOPE.kWh")
    assert "parent meter 'PA.NOPE.kWh'" in str(err) and f"line {_line_of('- code: PA.CH1.kWh')}" in str(err)
    err = _bad(tmp_path, "formula: PA.MAIN.kWh - PA.CH1.kWh", "formula: PA.MAIN.kWh - PA.CH9.kWh")
    assert "unknown point 'PA.CH9.kWh'" in str(err) and "field 'formula'" in str(err)


def test_duplicate_code_and_malformed_yaml(tmp_path):
    err = _bad(tmp_path, "- code: PA.CH1.kWh", "- code: PA.MAIN.kWh")
    assert "used twice" in str(err)
    err = _bad(tmp_path, "name: {zh: 测试集团, en: Test Group}", "name: {zh: 测试集团, en: Test Group")
    assert "not valid YAML" in str(err) and "line" in str(err)


def test_unknown_field_is_named(tmp_path):
    err = _bad(tmp_path, "grid_region: south", "grid_regoin: south")
    assert "grid_regoin" in str(err) and f"line {_line_of('grid_region: south')}" in str(err)


def test_not_utf8(tmp_path):
    path = tmp_path / "plant.yaml"
    path.write_bytes(SMALL.read_text(encoding="utf-8").encode("gbk"))
    with pytest.raises(UserError, match="not UTF-8"):
        load_asset_file(path)


def test_load_reload_update(conn, tmp_path):
    model = load_asset_file(SMALL)
    first = load_asset_model(conn, model)
    assert len(first.nodes_added) == 4 and len(first.points_added) == 5
    again = load_asset_model(conn, load_asset_file(SMALL))
    assert not again.changed
    assert conn.execute("SELECT count(*) FROM config_load").fetchone()[0] == 1
    ids_before = {p["code"]: p["point_id"] for p in points_frame(conn)}

    changed = _write(tmp_path, SMALL.read_text(encoding="utf-8").replace("max_rate_per_h: 1000", "max_rate_per_h: 1200")
                     .replace("en: Foshan Plant", "en: Foshan Works"))
    report = load_asset_model(conn, load_asset_file(changed))
    assert report.points_updated == ["PA.CH1.kWh"] and report.nodes_updated == ["PB"]
    assert {p["code"]: p["point_id"] for p in points_frame(conn)} == ids_before
    tree = node_tree(conn)
    assert [(r["code"], r["depth"]) for r in tree] == [("GRP", 0), ("PA", 1), ("PA.CHP", 2), ("PB", 1)]
    assert [p["code"] for p in points_frame(conn, "PA.CHP")] == ["PA.CH1.kWh", "PA.REST.kWh"]
    assert {p["parent"] for p in points_frame(conn, "PA.CHP")} == {"PA.MAIN.kWh", None}


def test_unit_change_refused_once_readings_exist(conn, tmp_path):
    load_asset_model(conn, load_asset_file(SMALL))
    pid = conn.execute("SELECT point_id FROM point WHERE code = 'PB.GAS.m3'").fetchone()[0]
    conn.execute("SELECT ems_ensure_reading_partitions('2025-01-01', '2025-01-02')")
    conn.execute("INSERT INTO reading (point_id, ts, value) VALUES (%s, '2025-01-01 01:00+00', 10)", (pid,))
    conn.commit()
    changed = _write(tmp_path, SMALL.read_text(encoding="utf-8").replace("unit: m3", "unit: Nm3"))
    with pytest.raises(UserError, match="unit changed"):
        load_asset_model(conn, load_asset_file(changed))
