"""Which meters count toward which node: sub-meters once, linear virtual meters in the meter tree
expanded, generation as supply, storage discharge negative."""

from __future__ import annotations

import pytest

from ems.rollups.membership import _Point, member_rows

# group 1 > plant 2 > {energy centre 3 > {PV 4, battery 5}, workshop 6}
NODES = {1: None, 2: 1, 3: 2, 4: 3, 5: 3, 6: 2}


def pt(pid, code, node, parent=None, formula=None, direction=None, unit="kWh", kind="cumulative"):
    return _Point(pid, code, node, parent, "electricity", "energy", unit, kind, formula, direction)


POINTS = [
    pt(1, "MAIN", 2, unit="MWh"),
    pt(2, "LOAD", 2, formula="MAIN + PV + DIS - CHG", kind="interval"),
    pt(3, "PV", 4, direction="generation"),
    pt(4, "CHG", 5, direction="charge"),
    pt(5, "DIS", 5, direction="discharge"),
    pt(6, "WS", 6, parent=2),
    pt(7, "REST", 6, formula="MAIN - WS", kind="interval"),   # free-standing analysis meter: never counts
]


def factors(rows, node):
    return {pid: pytest.approx(f) for n, pid, _m, _u, f, _via in rows if n == node}


def test_plant_total_is_the_virtual_site_meter_expanded():
    rows = member_rows(NODES, POINTS)
    # plant and group: grid import (MWh -> kWh) + PV + discharge - charge, each through LOAD
    for node in (1, 2):
        assert factors(rows, node) == {1: 1000.0, 3: 1.0, 5: 1.0, 4: -1.0}
        assert {via for n, *_rest, via in rows if n == node} == {2}
    # the energy centre: the battery's net use (charge - discharge); PV is a supply, not a use
    assert factors(rows, 3) == {4: 1.0, 5: -1.0}
    assert factors(rows, 4) == {}
    assert factors(rows, 5) == {4: 1.0, 5: -1.0}
    # the workshop's feeder counts for the workshop only (its parent LOAD contains it above)
    assert factors(rows, 6) == {6: 1.0}


def test_non_linear_virtual_meter_never_counts():
    points = [pt(1, "A", 2), pt(2, "B", 2, formula="A * A", kind="interval"), pt(3, "C", 6, parent=2)]
    rows = member_rows(NODES, points)
    assert factors(rows, 2) == {1: 1.0, 3: 1.0}
