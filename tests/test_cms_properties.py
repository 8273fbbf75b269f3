"""Accounting invariants, property-based: totals are sums of lines, a plant's share is applied once
whatever the depth of the data, and market-based allocation conserves MWh and never over-claims."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cms.activities import ActivityDatum
from cms.boundary import Node, Tree, share
from cms.engine import Settings, compute
from cms.factors import load_library
from cms.instruments import Instrument
from cms.ledger import totals_kg

LIB = load_library()
Y, Y1 = dt.date(2023, 1, 1), dt.date(2024, 1, 1)
ACTIVITIES = [("electricity_grid", "MWh"), ("natural_gas", "Nm3"), ("diesel", "t"), ("steam_purchased", "t"),
              ("refrigerant_topup:R-410A", "kg"), ("sf6_leak", "kg"), ("refrigerant_topup:R-22", "kg"),
              ("process:CO2", "t")]
quantities = st.decimals(min_value=0, max_value=10**6, places=3, allow_nan=False, allow_infinity=False)
shares = st.sampled_from([D("1"), D("0.6"), D("0.5"), D("0.333333"), D("0.25"), D("0")])


@st.composite
def group_tree(draw):
    """group -> 1..3 companies -> 1..3 plants -> 0..2 equipment. Shares are the group's effective equity
    (a plant's is its company's times the company's stake in it), inherited by equipment as the loader does."""
    nodes = [Node("G", None, "group")]
    for c in range(draw(st.integers(1, 3))):
        cs = draw(shares)
        nodes.append(Node(f"C{c}", "G", "company", cs, cs > 0, cs >= D("0.5")))
        for p in range(draw(st.integers(1, 3))):
            ps = cs * draw(shares)
            ctrl = draw(st.booleans())
            region = draw(st.sampled_from([None, "east", "south", "CN-GD"]))
            nodes.append(Node(f"C{c}P{p}", f"C{c}", "plant", ps, ctrl, not ctrl, region))
            for e in range(draw(st.integers(0, 2))):
                nodes.append(Node(f"C{c}P{p}E{e}", f"C{c}P{p}", "equipment", ps, ctrl, not ctrl, None))
    return Tree(nodes)


@st.composite
def inventory_case(draw):
    tree = draw(group_tree())
    codes = sorted(c for c, n in tree.nodes.items() if n.level in ("plant", "equipment"))
    data = []
    for i in range(draw(st.integers(1, 12))):
        act, unit = draw(st.sampled_from(ACTIVITIES))
        data.append(ActivityDatum(draw(st.sampled_from(codes)), Y, Y1, act, draw(quantities), unit, datum_id=i + 1))
    return tree, data


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inventory_case(), st.sampled_from(["operational_control", "financial_control", "equity_share"]),
       st.sampled_from(["AR4", "AR5", "AR6"]))
def test_totals_equal_sum_of_lines(case, approach, gwp_set):
    tree, data = case
    r = compute(data, tree, LIB, Settings("G", Y, Y1, approach, gwp_set))
    totals = totals_kg(r.lines)
    for key, scope, method in (("scope1", 1, None), ("scope2_location", 2, "location"), ("scope2_market", 2, "market")):
        assert totals[key] == sum((x.co2e_kg for x in r.lines if x.scope == scope and x.scope2_method == method), D(0))
    s = r.summary()
    for key in ("scope1", "scope2_location", "scope2_market"):
        by_plant = sum(D(str(v[f"{key}_tco2e"])) for v in s["by_plant"].values())
        assert abs(by_plant - D(str(s[f"{key}_tco2e"]))) <= D("0.001") * max(1, len(s["by_plant"]))
    # location and market are never added: each electricity datum has exactly one location line
    for d in data:
        if d.activity == "electricity_grid" and any(x.datum_id == d.datum_id for x in r.lines):
            assert sum(1 for x in r.lines if x.datum_id == d.datum_id and x.scope2_method == "location") == 1


@settings(max_examples=60, deadline=None)
@given(inventory_case())
def test_plant_share_is_applied_once(case):
    tree, data = case
    group = compute(data, tree, LIB, Settings("G", Y, Y1, "equity_share"))
    for line in group.lines:
        plant = tree[line.entity]
        assert line.share == plant.ownership_share                       # never share x share down the path
        assert abs(line.co2e_kg - line.gross_co2e_kg * plant.ownership_share) <= D("0.001")
    # the group equals the sum of its companies, each scaled by the group's equity in the company
    total = totals_kg(group.lines)["scope1"]
    by_company = D(0)
    n_lines = 0
    for comp in (c for c, n in tree.nodes.items() if n.level == "company"):
        if tree[comp].ownership_share == 0:
            assert all(x.co2e_kg == 0 for x in group.lines if comp in tree.ancestors(x.node))
            continue
        sub = compute(data, tree, LIB, Settings(comp, Y, Y1, "equity_share"))
        by_company += totals_kg(sub.lines)["scope1"] * share(tree, comp, "G", "equity_share")
        n_lines += len(sub.lines)
    assert abs(total - by_company) <= D("0.001") * (n_lines + len(group.lines) + 1)


@settings(max_examples=80, deadline=None)
@given(st.lists(quantities.filter(lambda q: q > 0), min_size=1, max_size=6),
       st.lists(st.tuples(st.sampled_from(["gec", "ppa", "irec", "green_power_trading", "onsite_pv"]),
                          st.decimals(min_value=1, max_value=5000, places=1), st.sampled_from([2022, 2023])),
                max_size=5))
def test_market_allocation_conserves_mwh_and_never_over_claims(mwhs, insts):
    tree = Tree([Node("G", None, "group"), Node("P", "G", "plant")])
    data = [ActivityDatum("P", dt.date(2023, m + 1, 1), dt.date(2023, m + 2, 1), "electricity_grid", q, "MWh",
                          datum_id=m + 1) for m, q in enumerate(mwhs)]
    instruments = [Instrument(f"I{i}", kind, "P", vol, vintage, Y, Y1) for i, (kind, vol, vintage) in enumerate(insts)]
    r = compute(data, tree, LIB, Settings("G", Y, Y1), instruments)
    market = [x for x in r.lines if x.scope2_method == "market"]
    assert sum(x.activity_quantity for x in market) == sum(mwhs)
    for inst in instruments:
        claimed = r.claims.get(inst.code, D(0))
        assert claimed <= inst.mwh
        assert claimed == sum((x.activity_quantity for x in market if x.instrument == inst.code), D(0))
    eligible = sum((i.mwh for i in instruments if not (i.kind == "irec" and i.vintage > 2024)), D(0))
    assert sum(r.claims.values(), D(0)) == min(eligible, sum(mwhs))
    covered = sum(r.claims.values(), D(0))
    assert totals_kg(r.lines)["scope2_market"] == sum(
        (x.co2e_kg for x in market if x.instrument is None), D(0))
    if covered == 0:
        assert totals_kg(r.lines)["scope2_market"] > totals_kg(r.lines)["scope2_location"] or sum(mwhs) < D("0.01")
