"""The zero-carbon assessment's input record of a plant and year, from stored data: electricity from
the energy roll-ups, on-site PV from the meters with role ``pv_generation``, contractual instruments
claimed for the plant in the year, Scope 1/2 from the plant's latest inventory (or its row in the
group's), offsets retired against the plant for the year. Missing inputs stay None (the assessment
reports them as missing, never as zero)."""

from __future__ import annotations

import datetime as dt

import psycopg

from cms.zerocarbon_pack import Record
from ems.errors import UserError

_KIND = {"gec": "gec", "green_power_trading": "green_power_trading", "ppa": "ppa", "irec": "i_rec",
         "onsite_pv": "onsite_pv"}


def _emissions(conn: psycopg.Connection, plant: str, year: int) -> dict:
    rows = conn.execute(
        """SELECT DISTINCT ON (i.node_id) n.code, n.level, i.summary FROM inventory i JOIN node n USING (node_id)
           WHERE i.year = %s ORDER BY i.node_id, i.revision DESC""", (year,)).fetchall()
    own = [s for code, _lvl, s in rows if code == plant]
    if own:
        return own[0]
    for _code, _lvl, s in rows:
        part = (s or {}).get("by_plant", {}).get(plant)
        if part:
            return part
    return {}


def plant_record(conn: psycopg.Connection, plant: str, year: int) -> Record:
    row = conn.execute("SELECT node_id, timezone FROM node WHERE code = %s", (plant,)).fetchone()
    if row is None:
        raise UserError(f"no node with code '{plant}' (see 'ems nodes')", where="--plant")
    node_id, tz = row
    lo, hi = dt.datetime(year, 1, 1), dt.datetime(year + 1, 1, 1)
    elec = conn.execute(
        """SELECT sum(value) / 1000.0 FROM rollup_node WHERE grain = 'month' AND node_id = %s
           AND medium = 'electricity' AND bucket >= (%s::timestamp AT TIME ZONE %s)
           AND bucket < (%s::timestamp AT TIME ZONE %s)""", (node_id, lo, tz, hi, tz)).fetchone()[0]
    pv = conn.execute(
        """WITH RECURSIVE sub AS (SELECT node_id FROM node WHERE node_id = %s
                                  UNION ALL SELECT n.node_id FROM node n JOIN sub ON n.parent_id = sub.node_id)
           SELECT sum(r.sum_delta) / 1000.0 FROM point p JOIN sub USING (node_id)
           JOIN rollup_point r ON r.point_id = p.point_id AND r.grain = 'month'
           WHERE p.tags->>'role' = 'pv_generation' AND p.unit = 'kWh'
             AND r.bucket >= (%s::timestamp AT TIME ZONE %s) AND r.bucket < (%s::timestamp AT TIME ZONE %s)""",
        (node_id, lo, tz, hi, tz)).fetchone()[0]
    renewable: dict[str, float] = {}
    for kind, mwh in conn.execute(
            """SELECT i.kind, sum(c.mwh) FROM instrument_claim c JOIN instrument i USING (instrument_id)
               WHERE c.node_id = %s AND c.period_start >= %s AND c.period_end <= %s GROUP BY i.kind""",
            (node_id, lo.date(), hi.date())):
        renewable[_KIND[kind]] = renewable.get(_KIND[kind], 0.0) + float(mwh)
    if pv and "onsite_pv" not in renewable:   # metered PV self-generation, unless registered as an instrument
        renewable["onsite_pv"] = float(pv)
    retired = conn.execute("SELECT sum(quantity_tco2e) FROM offset_retirement WHERE plant_code = %s AND year = %s",
                           (plant, year)).fetchone()[0]
    em = _emissions(conn, plant, year)
    return Record(plant=plant, year=year, energy_mwh={"electricity": float(elec)} if elec is not None else {},
                  renewable_electricity_mwh=renewable, scope1_tco2e=em.get("scope1_tco2e"),
                  scope2_market_tco2e=em.get("scope2_market_tco2e"),
                  scope2_location_tco2e=em.get("scope2_location_tco2e"),
                  offsets_retired_tco2e=float(retired) if retired is not None else 0.0)
