"""Restatement (a newer factor gives a new revision with a line-by-line diff, with the locked settings) and
base-year recalculation after structural changes, with known answers (reference worked example 18)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal as D

import pytest

from cms import inventory_store, store
from cms.activities import ActivityDatum
from cms.engine import Settings
from cms.restate import restate
from cms.restate_base import recalculate

Y, Y1 = dt.date(2025, 1, 1), dt.date(2026, 1, 1)
B, B1 = dt.date(2024, 1, 1), dt.date(2025, 1, 1)


def nodes(conn, *plants: tuple[str, str, D]) -> None:
    conn.execute("INSERT INTO node (code, level, timezone) VALUES ('G', 'group', 'Asia/Shanghai')")
    for code, region, own in plants:
        conn.execute("""INSERT INTO node (code, parent_id, level, timezone, grid_region, ownership_share)
                        SELECT %s, node_id, 'plant', 'Asia/Shanghai', %s, %s FROM node WHERE code = 'G'""",
                     (code, region, own))


def lock(conn, node: str, start: dt.date, end: dt.date, approach: str = "operational_control") -> int:
    inv, _, _ = inventory_store.save_draft(conn, Settings(node, start, end, approach=approach, factor_year=2023),
                                           "preparer", year=start.year)
    inventory_store.review(conn, inventory_store.find(conn, node, start, end), "reviewer")
    inventory_store.lock(conn, inventory_store.find(conn, node, start, end), "approver")
    return inv


@pytest.fixture
def electricity(conn):
    """P1 (east grid): 10,000 MWh in 2025; P2 (north, 60 % equity): 1,000 MWh. Locked under equity share."""
    nodes(conn, ("P1", "east", D(1)), ("P2", "north", D("0.6")))
    store.insert_activity(conn, [ActivityDatum("P1", Y, Y1, "electricity_grid", D(10000), "MWh", "bills P1"),
                                 ActivityDatum("P2", Y, Y1, "electricity_grid", D(1000), "MWh", "bills P2")],
                          source="manual", entered_by="tester")
    lock(conn, "G", Y, Y1, "equity_share")
    return conn


def supersede_east(conn, tmp_path, value: str = "0.6000") -> None:
    f = tmp_path / "east.yaml"
    f.write_text("factors:\n  - {id: MEE-GRID-CN-EAST-2023, version: 2, kind: emission, family: mee_grid,"
                 " activity: electricity_grid, region: CN-EAST, gas: CO2, value: '" + value + "', unit: t/MWh,"
                 " series: location, data_year: 2023, source: MEE correction, firmness: S}\n", encoding="utf-8")
    store.import_factors(conn, f, "data.team", "MEE correction")


def test_restate_without_change_creates_nothing(electricity):
    out = restate(electricity, "G", Y, Y1, "preparer")
    assert out["created"] is False and out["diff"] == [] and out["inventory_id"] is None
    assert inventory_store.find(electricity, "G", Y, Y1)["revision"] == 1


def test_newer_factor_gives_a_restatement_with_a_line_diff(electricity, tmp_path, ems):
    supersede_east(electricity, tmp_path)
    code, out, err = ems("inventory", "restate", "--year", 2025, "--node", "G", "--json", "--by", "data.team")
    assert code == 0, err
    r = json.loads(out)
    assert r["created"] and r["revision"] == 2 and r["restates"] == 1
    row = electricity.execute("SELECT boundary, status, restates FROM inventory WHERE inventory_id = %s",
                              (r["inventory_id"],)).fetchone()
    assert row == ("equity_share", "draft", 1)                       # the locked settings, not the CLI defaults
    assert len(r["diff"]) == 1
    d = r["diff"][0]
    assert (d["entity"], d["scope_key"], d["before_kgco2e"], d["after_kgco2e"], d["change_kgco2e"]) == (
        "P1", "scope2_location", "5500000.000", "6000000.000", "500000.000")   # 10,000 MWh x (0.60 - 0.55) t
    assert d["reason"] == "factor MEE-GRID-CN-EAST-2023 v1 -> MEE-GRID-CN-EAST-2023 v2"
    assert r["after_kgco2e"]["scope2_location"] == str(D("6000000.000") + D("381660.000"))  # + P2 1,000 x 0.6361 x 0.6
    assert r["after_kgco2e"]["scope2_market"] == r["before_kgco2e"]["scope2_market"]
    # restating again while the draft restatement is open recomputes it in place: never a third revision
    code, out, _ = ems("inventory", "restate", "--year", 2025, "--node", "G")
    assert code == 0 and "rev 2 (draft)" in out and "+500000.000" in out
    assert inventory_store.find(electricity, "G", Y, Y1)["revision"] == 2
    # once locked, the export's change log carries the diff against revision 1
    inventory_store.lock(electricity, inventory_store.find(electricity, "G", Y, Y1), "approver")
    from cms.export_model import build_report

    rep = build_report(electricity, "G", Y, Y1, generated_at="x")
    assert [row[-1] for row in rep.table("changes_restatement").rows] == [D("500000.000")]
    assert [row[1] for row in rep.table("changes_revisions").rows] == [1, 2]


def test_restate_needs_a_locked_inventory(conn, ems):
    nodes(conn, ("P1", "east", D(1)))
    code, _, err = ems("inventory", "restate", "--year", 2025, "--node", "G")
    assert code == 2 and "no locked inventory" in err


@pytest.fixture
def base_year(conn):
    """Worked example 18: base year 2024 = 100,000 t (P1 88,000 t, P2 12,000 t of process CO2)."""
    nodes(conn, ("P1", "east", D(1)), ("P2", "east", D("0.6")))
    store.insert_activity(conn, [ActivityDatum("P1", B, B1, "process:CO2", D(88000), "t", "kiln mass balance"),
                                 ActivityDatum("P2", B, B1, "process:CO2", D(12000), "t", "kiln mass balance")],
                          source="manual", entered_by="tester")
    return conn


def test_divestment_above_threshold_recalculates_the_base_year(base_year):
    conn = base_year
    lock(conn, "G", B, B1)
    conn.execute("UPDATE node SET parent_id = NULL WHERE code = 'P2'")          # P2 sold
    below = recalculate(conn, "G", 2024, D("0.15"), actor="lead")
    assert below["significance"] == "0.120000" and below["significant"] is False and below["inventory_id"] is None
    assert inventory_store.find(conn, "G", B, B1)["revision"] == 1
    rec = recalculate(conn, "G", 2024, D("0.05"), actor="lead")
    assert rec["base_kgco2e"] == "100000000.000" and rec["significant"] is True
    assert rec["recalculated_kgco2e"] == "88000000.000"                        # 88,000 t
    assert [(c["plant"], c["basis_kgco2e"]) for c in rec["changes"]] == [("P2", "-12000000.000")]
    new = inventory_store.find(conn, "G", B, B1)
    assert (new["revision"], new["status"]) == (2, "draft")
    assert new["summary"]["scope1_tco2e"] == 88000.0 and new["summary"]["base_year_recalculation"]["significant"]
    assert {r["entity"] for r in inventory_store.lines(conn, new["inventory_id"])} == {"P1"}
    # the recalculated base year is an inventory like any other: review, lock (hash verifies), export
    inventory_store.lock(conn, new, "approver")
    from cms.export_model import build_report

    rep = build_report(conn, "G", B, B1, generated_at="x")
    assert rep.header["hash_verified"] is True and rep.totals_kg["scope1"] == D("88000000.000")
    items = dict(rep.table("changes_base_year").rows)
    assert items["significant"] == "yes" and items["recalculated_kgco2e"] == "88000000.000"
    assert "plant=P2" in items["changes 1"]


def test_acquisition_counts_only_with_base_year_data(base_year):
    conn = base_year
    lock(conn, "G", B, B1)
    conn.execute("UPDATE node SET parent_id = NULL WHERE code = 'P2'")
    nodes_sql = """INSERT INTO node (code, parent_id, level, timezone, grid_region)
                   SELECT %s, node_id, 'plant', 'Asia/Shanghai', 'east' FROM node WHERE code = 'G'"""
    conn.execute(nodes_sql, ("P3",))                                           # acquired, existed in 2024
    conn.execute(nodes_sql, ("P4",))                                           # new build, first data 2025
    store.insert_activity(conn, [ActivityDatum("P3", B, B1, "process:CO2", D(3000), "t", "seller's records"),
                                 ActivityDatum("P4", Y, Y1, "process:CO2", D(5000), "t", "new plant")],
                          source="manual", entered_by="tester")
    rec = recalculate(conn, "G", 2024, D("0.05"), dry_run=True)
    assert rec["significance"] == "0.150000" and rec["recalculated_kgco2e"] == "91000000.000"
    assert [c["plant"] for c in rec["changes"]] == ["P2", "P3"] and rec["inventory_id"] is None


def test_equity_share_change_rescales_the_plant(base_year, ems):
    conn = base_year
    lock(conn, "G", B, B1, "equity_share")                                     # 88,000 + 0.6 x 12,000 = 95,200 t
    conn.execute("UPDATE node SET ownership_share = 0.3 WHERE code = 'P2'")   # half of the stake sold
    code, out, err = ems("inventory", "base-year", "--node", "G", "--year", 2024, "--threshold", "0.05")
    assert code == 0, err
    assert "95,200.000 tCO2e" in out and "3.78 %" in out and "not recalculated" in out
    code, out, err = ems("inventory", "base-year", "--node", "G", "--year", 2024, "--threshold", "0.03", "--json")
    rec = json.loads(out)
    assert rec["significant"] and rec["recalculated_kgco2e"] == "91600000.000"           # 88,000 + 0.3 x 12,000
    assert rec["changes"][0]["change"] == "share 0.6 -> 0.3" and rec["revision"] == 2
    lines = inventory_store.lines(conn, rec["inventory_id"])
    p2 = next(x for x in lines if x["entity"] == "P2")
    assert p2["co2e_kg"] == "3600000.000" and "base_year_share_restated" in p2["flags"]
    code, _, err = ems("inventory", "base-year", "--node", "G", "--year", 2023)
    assert code == 2 and "no locked inventory of G for base year 2023" in err


def test_scheduled_job_restates_locked_inventories_with_superseded_factors(electricity, tmp_path):
    from cms.jobs import factor_restatements

    assert factor_restatements(electricity) == 0                      # nothing superseded yet
    supersede_east(electricity, tmp_path)
    assert factor_restatements(electricity) == 1
    latest = inventory_store.find(electricity, "G", Y, Y1)
    assert (latest["revision"], latest["status"]) == (2, "draft")
    assert factor_restatements(electricity) == 1                      # the open draft is recomputed, not duplicated
    assert inventory_store.find(electricity, "G", Y, Y1)["revision"] == 2
