"""The carbon CLI end to end on a real database: metered data from the roll-ups, CSV activity data and
instruments, compute (JSON), review, lock, immutability, factor supersession and restatement."""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
NG_T_PER_M3 = D("389.31") / 10000 * D("0.01530") * D("0.99") * 44 / 12   # China guideline, tCO2 per m3


@pytest.fixture
def group(ems, tmp_path):
    """plant_small.yaml: PA (north grid, 100 %, 9.6 MWh on 2025-01-15) and PB (south, 60 %, no financial
    control, 1,200 m3 of natural gas on 2025-01-15)."""
    assert ems("config", "load", DATA / "plant_small.yaml")[0] == 0
    pa = tmp_path / "pa.csv"
    rows = ["Timestamp,PA.MAIN.kWh,PA.CH1.kWh"]
    for i in range(0, 97):
        t = f"2025-01-15 {(i * 15) // 60:02d}:{(i * 15) % 60:02d}:00" if i < 96 else "2025-01-16 00:00:00"
        rows.append(f"{t},{1000 + 100 * i},{500 + 30 * i}")
    pa.write_text("\n".join(rows) + "\n", encoding="utf-8")
    pb = tmp_path / "pb.csv"
    pb.write_text("Timestamp,PB.GAS.m3\n" + "".join(f"2025-01-15 {h:02d}:00:00,50\n" for h in range(1, 24))
                  + "2025-01-16 00:00:00,50\n", encoding="utf-8")
    for f, site in ((pa, "PA"), (pb, "PB")):
        code, _, err = ems("ingest", "csv", f, "--site", site)
        assert code == 0, err
    assert ems("rollup", "refresh")[0] == 0
    return ems


def compute(ems, *extra):
    code, out, err = ems("inventory", "compute", "--year", 2025, "--node", "GRP", "--json", *extra)
    assert code == 0, err
    return json.loads(out)


def test_inventory_from_rollups_csv_and_instruments(group, tmp_path):
    ems = group
    r = compute(ems)
    assert r["scope2_location_tco2e"] == float(round(D("9.6") * D("0.6361"), 3))        # north grid 2023 factor
    assert r["scope2_market_tco2e"] == float(round(D("9.6") * D("0.6096"), 3))          # residual proxy 2023
    assert r["scope1_tco2e"] == float(round(1200 * NG_T_PER_M3, 3))
    assert r["by_plant"]["PB"]["share"] == 1.0 and r["status"] == "draft"
    # CSV activity data and a GEC for PA
    act = tmp_path / "activity.csv"
    act.write_text("node code,period start,period end,activity,quantity,unit,evidence\n"
                   "PA,2025-03-01,2025-04-01,diesel,10,t,INV-2025-031\n"
                   "PA.CHP,2025-06-01,2025-07-01,refrigerant_topup:R-410A,10,kg,service log 2025-06\n", encoding="utf-8")
    code, out, err = ems("activity", "import", act, "--by", "li.wei")
    assert code == 0, err and "2 rows imported" in out
    inst = tmp_path / "inst.csv"
    inst.write_text("code,kind,node code,mwh,vintage,period start,period end,registry,serials\n"
                    "GEC-A,gec,PA,5,2025,2025-01-01,2026-01-01,NEA GEC,1001-1005\n", encoding="utf-8")
    assert ems("instruments", "import", inst)[0] == 0
    r = compute(ems)
    assert r["scope2_market_tco2e"] == float(round(D("4.6") * D("0.6096"), 3))
    assert r["instrument_claims_mwh"] == {"GEC-A": "5"}
    diesel = D(10) * D("43.33") * D("0.02020") * D("0.98") * 44 / 12
    assert r["scope1_tco2e"] == float(round(1200 * NG_T_PER_M3 + diesel + D("19.24"), 3))
    assert set(r["by_gas"]["scope1"]) == {"CO2", "HFCs"}
    assert set(r["by_month"]) == {"2025-01", "2025-03", "2025-06"}
    # equity share and financial control
    eq = compute(ems, "--boundary", "equity_share")
    assert eq["by_plant"]["PB"]["share"] == 0.6
    assert eq["by_plant"]["PB"]["scope1_tco2e"] == float(round(D("0.6") * 1200 * NG_T_PER_M3, 3))
    fin = compute(ems, "--boundary", "financial_control")
    assert "PB" not in fin["by_plant"] and any("excluded" in n and "PB" in n for n in fin["notes"])


def test_review_lock_immutability_and_restatement(group, tmp_path, conn):
    ems = group
    first = compute(ems)
    assert ems("inventory", "review", "--year", 2025, "--node", "GRP", "--by", "auditor")[0] == 0
    code, out, err = ems("inventory", "lock", "--year", 2025, "--node", "GRP", "--by", "cfo")
    assert code == 0, err
    digest = out.split("sha256 ")[1].strip()
    again = compute(ems)                                   # a locked inventory is shown, never recomputed
    assert again["status"] == "locked" and again["content_hash"] == digest
    assert again["scope2_location_tco2e"] == first["scope2_location_tco2e"]
    code, _, err = ems("inventory", "lock", "--year", 2025, "--node", "GRP")
    assert code == 2 and "already locked" in err
    # the factor it used cannot be edited in place ...
    newer = tmp_path / "north.yaml"
    newer.write_text("factors:\n  - {id: MEE-GRID-CN-NORTH-2023, version: 1, kind: emission, family: mee_grid,"
                     " activity: electricity_grid, region: CN-NORTH, gas: CO2, value: '0.7000', unit: t/MWh,"
                     " series: location, data_year: 2023, source: corrected, firmness: S}\n", encoding="utf-8")
    code, _, err = ems("factors", "import", newer)
    assert code == 2 and "used by a locked inventory" in err and "version 2" in err
    # ... but can be superseded; the restatement shows the line-by-line diff
    newer.write_text(newer.read_text().replace("version: 1", "version: 2"), encoding="utf-8")
    code, out, err = ems("factors", "import", newer, "--by", "data.team", "--reason", "MEE correction")
    assert code == 0 and "1 added" in out, err
    restated = compute(ems, "--restate")
    assert restated["revision"] == 2 and restated["status"] == "draft"
    assert restated["scope2_location_tco2e"] == float(round(D("9.6") * D("0.7"), 3))
    changed = restated["restatement_diff"]
    assert len(changed) == 1 and D(changed[0]["change_kgco2e"]) == D("9.6") * (D("0.7") - D("0.6361")) * 1000
    audit = conn.execute("SELECT action, changed_by, reason FROM factor_audit WHERE factor_id = "
                         "'MEE-GRID-CN-NORTH-2023' ORDER BY audit_id").fetchall()
    assert ("insert", "data.team", "MEE correction") in audit
    assert audit[-1][0] == "update"          # version 1 marked superseded: the only change a used factor allows
    old = conn.execute("SELECT superseded_by IS NOT NULL FROM factor WHERE factor_id = 'MEE-GRID-CN-NORTH-2023' "
                       "AND version = 1").fetchone()[0]
    assert old is True


def test_csv_errors_name_file_line_and_field(group, tmp_path, conn):
    bad = tmp_path / "bad.csv"
    bad.write_text("node code,period start,period end,activity,quantity,unit,evidence\n"
                   "PA,2025-01-01,2025-02-01,natural_gas,100,m3,ok row\n"
                   "PA,2025-01-01,2025-02-01,natural_gas,abc,m3,bad quantity\n"
                   "NOPE,2025-01-01,2025-02-01,diesel,1,t,unknown node\n"
                   "PA,2025-02-01,2025-01-01,diesel,1,t,reversed period\n"
                   "PA,2025-01-01,2025-02-01,electricity_grid,1,kg,wrong unit\n", encoding="utf-8")
    code, out, err = group("activity", "import", bad)
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "4 row(s) rejected, nothing imported" in err
    assert f"{bad}, line 3, field 'quantity'" in err and f"{bad}, line 4, field 'node code'" in err
    assert "line 5, field 'period end'" in err and "line 6, field 'unit'" in err
    assert conn.execute("SELECT count(*) FROM activity_datum WHERE source = 'csv'").fetchone()[0] == 0
    missing = tmp_path / "missing.csv"
    missing.write_text("node,period start,activity,quantity,unit,evidence\nPA,2025-01-01,diesel,1,t,x\n")
    code, _, err = group("activity", "import", missing)
    assert code == 2 and "missing column 'period end'" in err


def test_factors_list_shows_the_seeded_library(ems):
    code, out, err = ems("factors", "list", "--activity", "electricity_grid")
    assert code == 0, err
    assert "MEE-GRID-CN-2023" in out and "0.5306" in out and "MEE-RESID-CN-2023" in out and "0.6096" in out
    code, out, _ = ems("factors", "list")
    assert "GWP-AR6-SF6" in out and "25200" in out and "CN-MEE-HEAT-DEFAULT" in out


def test_demo_plant_rollup_rules(ems, tmp_path, conn):
    """examples/plant.yaml: grid electricity comes from the revenue (grid-import) meter only, not PV or the
    battery; the own boiler's heat is not purchased heat; refrigerant top-ups carry the meter's gas tag;
    Foshan's purchased steam goes through the steam enthalpy default."""
    assert ems("config", "load", Path(__file__).parents[1] / "examples" / "plant.yaml")[0] == 0
    qd = tmp_path / "qd.csv"
    rows = ["Timestamp,QD.MAIN.kWh,QD.PV.kWh,QD.GAS.m3,QD.BLR.HEAT.GJ,QD.REF.kg"]
    for i in range(0, 5):      # four 15-min intervals on 2025-02-10
        rows.append(f"2025-02-10 10:{i * 15 % 60:02d}:00,{1000 + 250 * i},{100 + 50 * i},{10 + 5 * i},{1 + i},"
                    f"{'2' if i == 2 else '0'}" if i < 4 else "2025-02-10 11:00:00,2000,300,30,5,0")
    qd.write_text("\n".join(rows) + "\n", encoding="utf-8")
    fs = tmp_path / "fs.csv"
    fs.write_text("Timestamp,FS.STEAM.t\n2025-02-10 10:00:00,100\n2025-02-10 11:00:00,102\n", encoding="utf-8")
    for f, site in ((qd, "QD"), (fs, "FS")):
        code, _, err = ems("ingest", "csv", f, "--site", site)
        assert code == 0, err
    assert ems("rollup", "refresh")[0] == 0
    code, out, err = ems("inventory", "compute", "--year", 2025, "--node", "CCG", "--json")
    assert code == 0, err
    r = json.loads(out)
    data = {(n, a): (q, u, ev) for n, a, q, u, ev in conn.execute(
        "SELECT n.code, activity, quantity, unit, evidence FROM activity_datum JOIN node n USING (node_id)")}
    assert data[("QD", "electricity_grid")][:2] == (D("1.000"), "MWh")            # 1,000 kWh from the main meter
    assert "QD.MAIN.kWh" in data[("QD", "electricity_grid")][2]
    assert ("QD", "heat_purchased") not in data                                   # own boiler: not Scope 2
    assert data[("QD", "refrigerant_topup:R134a")][:2] == (D(2), "kg")
    assert data[("QD", "natural_gas")][:2] == (D(20), "m3")
    assert data[("FS", "steam_purchased")][:2] == (D(2), "t")
    north = D("0.6361")
    steam = D(2) * D("2.777") * D("0.11")
    assert r["by_plant"]["QD"]["scope2_location_tco2e"] == float(round(north, 3))
    assert r["by_plant"]["FS"]["scope2_location_tco2e"] == float(round(steam, 3))
    assert r["by_plant"]["QD"]["scope1_tco2e"] == float(round(20 * NG_T_PER_M3 + D("2.6"), 3))   # R-134a AR5 1,300
    assert r["scope2_location_tco2e"] == float(round(north + steam, 3))


def test_manual_entry(ems, conn):
    assert ems("config", "load", DATA / "plant_small.yaml")[0] == 0
    code, out, err = ems("activity", "add", "--node", "PA", "--from", "2025-05-01", "--to", "2025-06-01",
                         "--activity", "fire_suppression:CO2", "--quantity", "45", "--unit", "kg",
                         "--evidence", "discharge report FS-7", "--by", "safety.officer")
    assert code == 0, err
    assert conn.execute("SELECT source, entered_by, evidence, quantity FROM activity_datum").fetchall() == [
        ("manual", "safety.officer", "discharge report FS-7", D(45))]
    code, _, err = ems("activity", "add", "--node", "PA", "--from", "2025-05-01", "--to", "2025-06-01",
                       "--activity", "fire_suppression", "--quantity", "45", "--unit", "kg", "--evidence", "x")
    assert code == 2 and "field 'activity'" in err and "needs a gas" in err
    r = compute(ems, "--no-rollups")
    assert r["scope1_tco2e"] == 0.045 and r["by_category"]["scope1"] == {"fire_suppression": 0.045}
