"""Which metered points make up a node's energy per medium, and the unit factors.

A point counts toward a node when it lies in the node's subtree and its parent meter does not
(a sub-meter under the same node is already inside its parent). Only additive points (cumulative
or interval) of energy, volume, mass or count are members; virtual points (formulas) are members
like metered ones, so a virtual "rest of plant" meter rolls up too.
"""

from __future__ import annotations

import psycopg

from ems.units import conversion

CANONICAL_UNIT = {"energy": "kWh", "volume": "m3", "mass": "t", "count": "count"}


def refresh_membership(conn: psycopg.Connection) -> int:
    """Rebuild ``rollup_member`` from the asset model; returns the number of (node, point) pairs."""
    pairs = conn.execute(
        """WITH RECURSIVE anc AS (
               SELECT p.point_id, p.node_id AS anc_id FROM point p
               UNION ALL
               SELECT a.point_id, n.parent_id FROM anc a JOIN node n ON n.node_id = a.anc_id
               WHERE n.parent_id IS NOT NULL)
           SELECT a.anc_id, p.point_id, p.medium, p.quantity, p.unit
           FROM anc a JOIN point p USING (point_id)
           WHERE p.kind IN ('cumulative', 'interval') AND p.formula IS NULL AND p.quantity IN ('energy', 'volume', 'mass', 'count')
             AND NOT EXISTS (SELECT 1 FROM anc pa
                             WHERE pa.point_id = p.parent_point_id AND pa.anc_id = a.anc_id)""").fetchall()
    rows = []
    for node_id, point_id, medium, quantity, unit in pairs:
        target = CANONICAL_UNIT[quantity]
        scale, _ = conversion(unit, target)
        rows.append((node_id, point_id, medium, target, scale))
    conn.execute("DELETE FROM rollup_member")
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO rollup_member (node_id, point_id, medium, unit, factor) VALUES (%s, %s, %s, %s, %s)",
                        rows)
    return len(rows)
