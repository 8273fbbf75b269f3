"""Database rules of the carbon core: locked inventories are immutable, a factor in use is frozen (only
superseded), an instrument's MWh is claimed once, and the audit log records factor changes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cms import inventory_store, store
from cms.activities import ActivityDatum
from cms.engine import Settings

Y, Y1 = dt.date(2025, 1, 1), dt.date(2026, 1, 1)


@pytest.fixture
def plant(conn):
    conn.execute("INSERT INTO node (code, level, timezone) VALUES ('G', 'group', 'Asia/Shanghai')")
    conn.execute("""INSERT INTO node (code, parent_id, level, timezone, grid_region)
                    SELECT 'P1', node_id, 'plant', 'Asia/Shanghai', 'east' FROM node WHERE code = 'G'""")
    conn.execute("""INSERT INTO node (code, parent_id, level, timezone, grid_region)
                    SELECT 'P2', node_id, 'plant', 'Asia/Shanghai', 'east' FROM node WHERE code = 'G'""")
    store.insert_activity(conn, [ActivityDatum("P1", Y, Y1, "electricity_grid", D(10000), "MWh", "bill 2025"),
                                 ActivityDatum("P1", Y, Y1, "natural_gas", D(1000000), "Nm3", "gas invoices")],
                          source="manual", entered_by="tester")
    conn.execute("""INSERT INTO instrument (code, kind, node_id, mwh, vintage, period_start, period_end, entered_by)
                    SELECT 'GEC-1', 'gec', node_id, 3000, 2025, '2025-01-01', '2026-01-01', 'tester'
                    FROM node WHERE code = 'P1'""")
    return conn


def locked(conn, node="G") -> int:
    inv, result, _ = inventory_store.save_draft(conn, Settings(node, Y, Y1, factor_year=2023), "preparer")
    row = inventory_store.find(conn, node, Y, Y1)
    inventory_store.review(conn, row, "reviewer")
    inventory_store.lock(conn, inventory_store.find(conn, node, Y, Y1), "approver")
    return inv


def test_draft_numbers_claims_and_lock(plant):
    inv, result, _ = inventory_store.save_draft(plant, Settings("G", Y, Y1, factor_year=2023), "preparer")
    s = result.summary()
    assert s["scope2_location_tco2e"] == 5500.0                        # east grid 2023
    assert s["scope2_market_tco2e"] == 4267.2                          # 7,000 MWh x 0.6096
    assert s["scope1_tco2e"] == 2162.189
    claims = plant.execute("""SELECT c.mwh, x.mwh FROM instrument_claim c JOIN inventory_claim x USING (claim_id)
                              WHERE x.inventory_id = %s""", (inv,)).fetchall()
    assert claims == [(D(3000), D(3000))]
    used = {r[0] for r in plant.execute("""SELECT f.factor_id FROM inventory_factor x JOIN factor f USING (factor_pk)
                                          WHERE inventory_id = %s""", (inv,))}
    assert {"MEE-GRID-CN-EAST-2023", "MEE-RESID-CN-2023", "CN-GUIDE-NG-NCV", "GWP-AR5-CO2"} <= used
    # recomputing the draft replaces its claims instead of claiming again
    inventory_store.save_draft(plant, Settings("G", Y, Y1, factor_year=2023), "preparer")
    assert plant.execute("SELECT count(*), sum(mwh) FROM instrument_claim").fetchone() == (1, D(3000))
    row = inventory_store.find(plant, "G", Y, Y1)
    inventory_store.review(plant, row, "reviewer")
    digest = inventory_store.lock(plant, inventory_store.find(plant, "G", Y, Y1), "approver")
    assert digest == inventory_store.content_hash(plant, inv) and len(digest) == 64


@pytest.mark.parametrize("sql", [
    "UPDATE inventory SET boundary = 'equity_share' WHERE inventory_id = %s",
    "UPDATE inventory SET status = 'draft' WHERE inventory_id = %s",
    "DELETE FROM inventory WHERE inventory_id = %s",
    "UPDATE inventory_line SET co2e_kg = 0 WHERE inventory_id = %s",
    "DELETE FROM inventory_line WHERE inventory_id = %s",
    "INSERT INTO inventory_factor (inventory_id, factor_pk) SELECT %s, max(factor_pk) FROM factor",
    "DELETE FROM inventory_claim WHERE inventory_id = %s",
    "UPDATE instrument_claim SET mwh = 1 WHERE claim_id IN (SELECT claim_id FROM inventory_claim WHERE inventory_id = %s)",
])
def test_locked_inventory_refuses_changes(plant, sql):
    inv = locked(plant)
    with pytest.raises(psycopg.errors.IntegrityConstraintViolation, match="locked"):
        plant.execute(sql, (inv,))
    assert plant.execute("SELECT status FROM inventory WHERE inventory_id = %s", (inv,)).fetchone()[0] == "locked"


def test_factor_in_use_cannot_change_only_be_superseded(plant):
    locked(plant)
    pk = plant.execute("SELECT factor_pk FROM factor WHERE factor_id = 'MEE-GRID-CN-EAST-2023'").fetchone()[0]
    for sql in ("UPDATE factor SET value = 0.6 WHERE factor_pk = %s", "DELETE FROM factor WHERE factor_pk = %s"):
        with pytest.raises(psycopg.errors.IntegrityConstraintViolation, match="supersede"):
            plant.execute(sql, (pk,))
    new_pk = plant.execute("""INSERT INTO factor (factor_id, version, kind, family, activity, region, gas, value, unit,
                                                  series, data_year, source, firmness)
                              VALUES ('MEE-GRID-CN-EAST-2023', 2, 'emission', 'mee_grid', 'electricity_grid', 'CN-EAST',
                                      'CO2', 0.6, 't/MWh', 'location', 2023, 'test', 'S') RETURNING factor_pk""").fetchone()[0]
    plant.execute("UPDATE factor SET superseded_by = %s WHERE factor_pk = %s", (new_pk, pk))
    assert plant.execute("SELECT value FROM factor WHERE factor_pk = %s", (pk,)).fetchone()[0] == D("0.5500")
    # an unused factor may still be corrected (and the change is audited)
    unused = plant.execute("SELECT factor_pk FROM factor WHERE factor_id = 'MEE-GRID-CN-SOUTH-2021'").fetchone()[0]
    plant.execute("UPDATE factor SET notes = 'checked' WHERE factor_pk = %s", (unused,))
    audit = plant.execute("SELECT action, old_row->>'notes', new_row->>'notes' FROM factor_audit WHERE factor_pk = %s "
                          "ORDER BY audit_id DESC LIMIT 1", (unused,)).fetchone()
    assert audit == ("update", None, "checked")


def test_activity_datum_used_by_locked_inventory_is_frozen(plant):
    locked(plant)
    with pytest.raises(psycopg.errors.IntegrityConstraintViolation, match="locked"):
        plant.execute("UPDATE activity_datum SET quantity = 1 WHERE activity = 'natural_gas'")


def test_instrument_mwh_claimed_once(plant):
    locked(plant, "G")                  # the group inventory claims all 3,000 MWh of GEC-1 for P1 in 2025
    # the plant's own inventory of the same period shares that claim (same plant, same period): no double claim
    _, result, _ = inventory_store.save_draft(plant, Settings("P1", Y, Y1, factor_year=2023), "preparer")
    assert result.claims == {"GEC-1": D(3000)} and result.summary()["scope2_market_tco2e"] == 4267.2
    assert plant.execute("SELECT count(*), sum(mwh) FROM instrument_claim").fetchone() == (1, D(3000))
    # a claim for another period (the volume is used up) or another plant is refused by the database
    with pytest.raises(psycopg.errors.CheckViolation, match="over-claimed"):
        plant.execute("""INSERT INTO instrument_claim (instrument_id, node_id, period_start, period_end, mwh)
                         SELECT instrument_id, node_id, '2025-07-01', '2026-01-01', 1 FROM instrument""")
    with pytest.raises(psycopg.errors.CheckViolation, match="another plant"):
        plant.execute("""INSERT INTO instrument_claim (instrument_id, node_id, period_start, period_end, mwh)
                         SELECT i.instrument_id, n.node_id, '2026-01-01', '2027-01-01', 1
                         FROM instrument i, node n WHERE n.code = 'P2'""")
    with pytest.raises(psycopg.errors.CheckViolation):
        plant.execute("UPDATE instrument SET mwh = 100")        # below what is already claimed
    # a monthly inventory of P1 overlaps the claimed year: nothing is left for it
    _, monthly, _ = inventory_store.save_draft(plant, Settings("P1", Y, dt.date(2025, 2, 1), factor_year=2023), "p")
    assert monthly.claims == {}


def test_same_instrument_plant_and_period_is_one_claim(plant):
    claim = """INSERT INTO instrument_claim (instrument_id, node_id, period_start, period_end, mwh)
               SELECT instrument_id, node_id, '2025-01-01', '2026-01-01', 1000 FROM instrument"""
    plant.execute(claim)
    with pytest.raises(psycopg.errors.UniqueViolation):
        plant.execute(claim)


def test_read_inventory_gives_the_export_everything(plant):
    from cms.inventory_read import read_inventory

    inv = locked(plant)
    doc = read_inventory(plant, "G", Y, Y1)
    h = doc["header"]
    assert h["inventory_id"] == inv and h["status"] == "locked" and h["hash_verified"] is True
    assert (h["reviewed_by"], h["locked_by"]) == ("reviewer", "approver")
    assert sum(D(x["co2e_kg"]) for x in doc["lines"] if x["scope"] == 1) == D(doc["summary"]["totals_kgco2e"]["scope1"])
    ng = next(x for x in doc["lines"] if x["activity"] == "natural_gas")
    assert ng["evidence"] == "gas invoices" and ng["entered_by"] == "tester" and ng["batch_id"] is not None
    assert {r["id"] for r in ng["factor_refs"]} == {"CN-GUIDE-NG-NCV", "CN-GUIDE-NG-CC", "CN-GUIDE-NG-OF", "GWP-AR5-CO2"}
    east = next(f for f in doc["factors"] if f["factor_id"] == "MEE-GRID-CN-EAST-2023")
    assert east["value"] == D("0.5500") and east["firmness"] == "S" and east["source"]
    assert doc["instruments"] == [dict(doc["instruments"][0], code="GEC-1", claimed_mwh=D(3000), applied_mwh=D(3000))]
    assert [b["code"] for b in doc["boundary"]] == ["G", "P1", "P2"]
    assert doc["change_log"]["revisions"][0]["content_hash"] == h["content_hash"]
    # tampering is detectable even by a superuser who disables the triggers
    plant.execute("ALTER TABLE inventory_line DISABLE TRIGGER inventory_line_guard")
    plant.execute("UPDATE inventory_line SET record = jsonb_set(record, '{co2e_kg}', '\"1\"') WHERE line_no = 1")
    plant.execute("ALTER TABLE inventory_line ENABLE TRIGGER inventory_line_guard")
    assert read_inventory(plant, "G", Y, Y1)["header"]["hash_verified"] is False


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["P1", "P2"]), st.integers(0, 3), st.integers(1, 2000)), min_size=1,
                max_size=8))
def test_claims_never_exceed_volume_whatever_the_order(plant, attempts):
    """Random claims on GEC-1 (3,000 MWh, plant P1): the database accepts one exactly when it is for P1, its
    (plant, period) is new and the running total stays within the volume; otherwise it refuses it."""
    with plant.transaction(force_rollback=True):
        total, keys = 0, set()
        for node, quarter, mwh in attempts:
            start = dt.date(2025, 1 + 3 * quarter, 1)
            end = dt.date(2025, 4 + 3 * quarter, 1) if quarter < 3 else dt.date(2026, 1, 1)
            ok = node == "P1" and (node, start) not in keys and total + mwh <= 3000
            try:
                with plant.transaction():
                    plant.execute("""INSERT INTO instrument_claim (instrument_id, node_id, period_start, period_end, mwh)
                                     SELECT i.instrument_id, n.node_id, %s, %s, %s FROM instrument i, node n
                                     WHERE n.code = %s""", (start, end, mwh, node))
                accepted = True
            except (psycopg.errors.CheckViolation, psycopg.errors.UniqueViolation):
                accepted = False
            assert accepted == ok
            if accepted:
                total += mwh
                keys.add((node, start))
        assert plant.execute("SELECT coalesce(sum(mwh), 0) FROM instrument_claim").fetchone()[0] == total <= 3000
