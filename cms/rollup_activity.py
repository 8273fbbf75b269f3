"""Metered activity data from the energy roll-ups (month grain), per plant and local month.

Rules (each datum's evidence names the roll-up rows and meters it came from):

- natural gas: ``rollup_node`` natural_gas of the plant (m3, sub-meters already excluded by the roll-up
  membership) -> ``natural_gas``;
- purchased steam: ``rollup_node`` steam of the plant (t, or GJ) -> ``steam_purchased``;
- grid electricity: the plant's grid-import meters, i.e. points tagged ``role: grid_import``,
  ``meter: revenue|grid`` or ``direction: import`` (``rollup_point`` month sums, kWh -> MWh). The plant's ``rollup_node``
  electricity is a site-use total (it may include on-site PV and storage) and is used only when a plant
  has no import meter; those data carry evidence "node total (no grid-import meter tagged)";
- purchased heat: only meters tagged ``purchased: true`` or ``meter: revenue`` (heat metered at an own
  boiler is not purchased: its fuel is already in Scope 1);
- refrigerant top-ups: mass meters of medium ``refrigerant`` with a ``gas`` tag (kg) ->
  ``refrigerant_topup:GAS``.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

import pandas as pd
import psycopg

from cms.activities import ActivityDatum
from cms.numbers import dec
from cms.quantities import scale

ENTERED_BY = "ems roll-ups"
_NODE_MEDIA = {"natural_gas": "natural_gas", "steam": "steam_purchased"}


def _month_bounds(bucket, tz: str) -> tuple[dt.date, dt.date]:
    start = pd.Timestamp(bucket).tz_convert(tz).date()
    end = (pd.Timestamp(start) + pd.offsets.MonthBegin(1)).date()
    return start, end


def rollup_activity(conn: psycopg.Connection, plants: list[str], start: dt.date, end: dt.date) -> list[ActivityDatum]:
    """Activity data of the given plant codes for the local months in [start, end)."""
    out: list[ActivityDatum] = []
    lo, hi = pd.Timestamp(start) - pd.Timedelta(days=1), pd.Timestamp(end) + pd.Timedelta(days=1)
    for plant in plants:
        node_id, tz = conn.execute("SELECT node_id, timezone FROM node WHERE code = %s", (plant,)).fetchone()
        rows = conn.execute(
            """SELECT medium, unit, bucket, value FROM rollup_node
               WHERE grain = 'month' AND node_id = %s AND bucket >= %s AND bucket < %s AND value IS NOT NULL""",
            (node_id, lo.tz_localize("UTC"), hi.tz_localize("UTC"))).fetchall()
        points = conn.execute(
            """WITH RECURSIVE sub AS (SELECT node_id FROM node WHERE node_id = %s
                                       UNION ALL SELECT n.node_id FROM node n JOIN sub s ON n.parent_id = s.node_id)
               SELECT p.code, p.medium, p.unit, p.tags, r.bucket, r.sum_delta
               FROM point p JOIN sub USING (node_id)
               JOIN rollup_point r ON r.point_id = p.point_id AND r.grain = 'month'
               WHERE p.kind IN ('cumulative', 'interval') AND p.formula IS NULL AND r.sum_delta IS NOT NULL
                 AND r.bucket >= %s AND r.bucket < %s""",
            (node_id, lo.tz_localize("UTC"), hi.tz_localize("UTC"))).fetchall()
        acc: dict[tuple, list] = defaultdict(lambda: [Decimal(0), set(), None])

        def add(activity, bucket, qty: Decimal, unit: str, evidence: str, tz=tz, acc=acc):
            s, e = _month_bounds(bucket, tz)
            if s < start or s >= end:
                return
            slot = acc[(activity, s, e, unit)]
            slot[0] += qty
            slot[1].add(evidence)

        has_import = any(m == "electricity" and _is_import(tags) for _, m, _, tags, _, _ in points)
        for code, medium, unit, tags, bucket, value in points:
            tags = tags or {}
            if medium == "electricity" and _is_import(tags):
                add("electricity_grid", bucket, dec(value) * scale(unit, "MWh"), "MWh", f"rollup_point month {code}")
            elif medium == "heat" and (str(tags.get("purchased", "")).lower() in ("true", "1", "yes")
                                       or tags.get("meter") == "revenue"):
                add("heat_purchased", bucket, dec(value) * scale(unit, "GJ"), "GJ", f"rollup_point month {code}")
            elif medium == "refrigerant" and tags.get("gas"):
                add(f"refrigerant_topup:{tags['gas']}", bucket, dec(value) * scale(unit, "kg"), "kg",
                    f"rollup_point month {code}")
        for medium, unit, bucket, value in rows:
            if medium in _NODE_MEDIA:
                add(_NODE_MEDIA[medium], bucket, dec(value), unit, f"rollup_node month {plant} {medium}")
            elif medium == "electricity" and not has_import:
                add("electricity_grid", bucket, dec(value) * scale(unit, "MWh"), "MWh",
                    f"rollup_node month {plant} electricity: node total (no grid-import meter tagged)")
        for (activity, s, e, unit), (qty, evidence, _) in sorted(acc.items()):
            out.append(ActivityDatum(node=plant, period_start=s, period_end=e, activity=activity, quantity=qty,
                                     unit=unit, evidence="; ".join(sorted(evidence)), source="rollup",
                                     entered_by=ENTERED_BY))
    return out


def _is_import(tags: dict) -> bool:
    return (tags.get("role") == "grid_import" or tags.get("meter") in ("revenue", "grid")
            or tags.get("direction") == "import")


def sync_rollup_activity(conn: psycopg.Connection, plants: list[str], start: dt.date, end: dt.date) -> dict[str, int]:
    """Upsert roll-up activity data. A datum used by a locked inventory is left as it is (counted as 'frozen')."""
    from cms import store

    data = rollup_activity(conn, plants, start, end)
    ids = store.node_ids(conn)
    stats = {"added": 0, "updated": 0, "unchanged": 0, "frozen": 0}
    new = []
    for d in data:
        row = conn.execute("""SELECT datum_id, quantity, unit, evidence FROM activity_datum WHERE source = 'rollup'
                              AND node_id = %s AND activity = %s AND period_start = %s AND period_end = %s""",
                           (ids[d.node], d.activity, d.period_start, d.period_end)).fetchone()
        if row is None:
            new.append(d)
        elif (row[1], row[2], row[3]) == (d.quantity, d.unit, d.evidence):
            stats["unchanged"] += 1
        else:
            try:
                with conn.transaction():
                    conn.execute("UPDATE activity_datum SET quantity = %s, unit = %s, evidence = %s, entered_at = now() "
                                 "WHERE datum_id = %s", (d.quantity, d.unit, d.evidence, row[0]))
                stats["updated"] += 1
            except psycopg.errors.IntegrityConstraintViolation:
                stats["frozen"] += 1
    if new:
        store.insert_activity(conn, new, source="rollup", entered_by=ENTERED_BY)
        stats["added"] = len(new)
    return stats
