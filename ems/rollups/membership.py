"""Which meters make up a node's energy per medium, with their signed unit factors.

Rules, applied to additive points (cumulative or interval) of energy, volume, mass or count:

* A point counts toward every node above it unless its parent meter also lies in that node's
  subtree (a sub-meter is already inside its parent).
* A virtual meter that is part of the meter tree (it is some meter's parent, or has a parent) and
  whose formula is linear in its points (``A + B - C``, ``0.5 * A``) counts like a metered one,
  expanded into its references with their coefficients; the references then do not count again on
  their own at that node. So a plant whose "site use" is ``grid + PV + discharge - charge`` (the
  parent of its feeder meters) totals exactly that. Free-standing virtual meters (analysis views
  such as "rest of plant = main - chillers") and non-linear ones (products, ratios) never count.
* Generation and export meters (tag ``direction: generation|export``) are supplies, not uses: they
  count only through a virtual meter. A storage discharge meter (``direction: discharge``) counts
  negatively, so a battery's own total is its losses (charge - discharge).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import psycopg

from ems.rollups.virtual import linear_terms, parse_formula
from ems.units import conversion

CANONICAL_UNIT = {"energy": "kWh", "volume": "m3", "mass": "t", "count": "count"}
HEAT_MEDIA = {"heat", "steam", "hot_water"}   # energy of these media rolls up in GJ, as heat is billed
SUPPLY_DIRECTIONS = {"generation", "export"}


def canonical_unit(medium: str, quantity: str) -> str:
    """The unit a node's roll-up of this medium and quantity is kept in."""
    return "GJ" if quantity == "energy" and medium in HEAT_MEDIA else CANONICAL_UNIT[quantity]


@dataclass(frozen=True)
class _Point:
    point_id: int
    code: str
    node_id: int
    parent_point_id: int | None
    medium: str
    quantity: str
    unit: str
    kind: str
    formula: str | None
    direction: str | None


def _expand(point: _Point, by_code: dict[str, _Point], depth: int = 0) -> dict[int, float] | None:
    """A point as {metered point id: factor into this point's unit}; None if not linear or unresolved."""
    if point.formula is None:
        return {point.point_id: 1.0}
    terms = linear_terms(parse_formula(point.formula))
    if terms is None or depth > 10:
        return None
    out: dict[int, float] = defaultdict(float)
    for code, coef in terms.items():
        ref = by_code.get(code)
        if ref is None:
            return None
        inner = _expand(ref, by_code, depth + 1)
        if inner is None:
            return None
        scale, _ = conversion(ref.unit, point.unit)
        for pid, f in inner.items():
            out[pid] += coef * scale * f
    return dict(out)


def member_rows(nodes: dict[int, int | None], points: list[_Point]) -> list[tuple]:
    """Pure: (node_id, point_id, medium, unit, factor, via_point_id) rows from the asset model.

    ``nodes`` maps node id -> parent id.
    """
    def ancestors(node_id: int) -> list[int]:
        chain = []
        n: int | None = node_id
        while n is not None:
            chain.append(n)
            n = nodes.get(n)
        return chain

    anc = {nid: set(ancestors(nid)) for nid in nodes}
    by_id = {p.point_id: p for p in points}
    by_code = {p.code: p for p in points}
    additive = [p for p in points if p.kind in ("cumulative", "interval") and p.quantity in CANONICAL_UNIT]

    in_tree = {p.parent_point_id for p in points if p.parent_point_id is not None}
    expansions = {p.point_id: _expand(p, by_code) for p in additive
                  if p.formula and (p.point_id in in_tree or p.parent_point_id is not None)}

    def counting_parent(p: _Point) -> _Point | None:
        """The nearest meter up the parent chain that itself counts (skips non-counting virtual ones)."""
        seen = set()
        parent = by_id.get(p.parent_point_id) if p.parent_point_id is not None else None
        while parent is not None and parent.formula and not expansions.get(parent.point_id):
            if parent.point_id in seen:
                return None
            seen.add(parent.point_id)
            parent = by_id.get(parent.parent_point_id) if parent.parent_point_id is not None else None
        return parent

    def counts_at(p: _Point, node_id: int) -> bool:
        parent = counting_parent(p)
        return not (parent is not None and node_id in anc[parent.node_id])
    # a metered point inside a counting virtual meter does not count again at that node
    covered: dict[int, set[int]] = defaultdict(set)   # node -> point ids covered by a virtual member
    for p in additive:
        terms = expansions.get(p.point_id)
        if not terms:
            continue
        for node_id in anc[p.node_id]:
            if counts_at(p, node_id):
                covered[node_id].update(terms)
    rows: dict[tuple[int, int], list] = {}

    def add(node_id: int, pid: int, medium: str, unit: str, factor: float, via: int | None) -> None:
        key = (node_id, pid)
        if key in rows:
            rows[key][4] += factor
        else:
            rows[key] = [node_id, pid, medium, unit, factor, via]

    for p in additive:
        target = canonical_unit(p.medium, p.quantity)
        to_canonical, _ = conversion(p.unit, target)
        if p.formula:
            terms = expansions.get(p.point_id)
            if not terms:
                continue
            for node_id in anc[p.node_id]:
                if counts_at(p, node_id):
                    for pid, f in terms.items():
                        add(node_id, pid, p.medium, target, f * to_canonical, p.point_id)
            continue
        if p.direction in SUPPLY_DIRECTIONS:
            continue
        sign = -1.0 if p.direction == "discharge" else 1.0
        for node_id in anc[p.node_id]:
            if counts_at(p, node_id) and p.point_id not in covered[node_id]:
                add(node_id, p.point_id, p.medium, target, sign * to_canonical, None)
    return [tuple(r) for r in rows.values() if r[4] != 0.0]


def refresh_membership(conn: psycopg.Connection) -> int:
    """Rebuild ``rollup_member`` from the asset model; returns the number of (node, point) pairs."""
    nodes = dict(conn.execute("SELECT node_id, parent_id FROM node").fetchall())
    points = [_Point(*row) for row in conn.execute(
        """SELECT point_id, code, node_id, parent_point_id, medium, quantity, unit, kind, formula,
                  tags->>'direction' FROM point ORDER BY point_id""")]
    rows = member_rows(nodes, points)
    conn.execute("DELETE FROM rollup_member")
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO rollup_member (node_id, point_id, medium, unit, factor, via_point_id) "
                        "VALUES (%s, %s, %s, %s, %s, %s)", rows)
    return len(rows)
