"""Sankey flows: plotly structure, unit conversion, and node balance (imbalances never dropped)."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ems.analytics import sankey


def _plant() -> pd.DataFrame:
    rows = [
        ("Grid", "Main substation", 900.0, "MWh"),
        ("PV", "Main substation", 100_000.0, "kWh"),
        ("Main substation", "Chiller plant", 300.0, "MWh"),
        ("Main substation", "Compressed air", 200.0, "MWh"),
        ("Main substation", "Process", 400.0, "MWh"),
        ("Main substation", "Lighting", 50.0, "MWh"),
        ("Chiller plant", "Workshop A", 180.0, "MWh"),
        ("Chiller plant", "Workshop B", 120.0, "MWh"),
        ("Compressed air", "Workshop A", 150.0, "MWh"),   # 50 MWh short: leaks/unmetered
        ("Process", "Workshop A", 250.0, "MWh"),
        ("Process", "Workshop B", 153.0, "MWh"),          # 3 MWh over: 0.75 %, within 1 %
    ]
    return pd.DataFrame(rows, columns=["source", "target", "value", "unit"])


def test_balanced_and_unbalanced_nodes_reported():
    sk = sankey.build_sankey(_plant())
    assert sk.unit == "MWh"
    bal = sk.balance.set_index("node")
    assert bal.loc["Main substation", "imbalance"] == pytest.approx(50.0)   # 1000 in, 950 out
    assert bal.loc["Compressed air", "imbalance"] == pytest.approx(50.0)
    assert bal.loc["Process", "imbalance"] == pytest.approx(-3.0) and bal.loc["Process", "within_tolerance"]
    assert bal.loc["Chiller plant", "imbalance"] == pytest.approx(0.0)
    assert set(sk.imbalanced_nodes) == {"Main substation", "Compressed air"}
    unmetered = sk.links[sk.links["kind"] == "unmetered"]
    assert set(zip(unmetered["source"], unmetered["target"])) == {
        ("Main substation", sankey.LOSSES), ("Compressed air", sankey.LOSSES)}
    assert unmetered["value"].sum() == pytest.approx(100.0)
    assert sk.levels["Grid"] == 0 and sk.levels["Workshop A"] == 3


def test_excess_outflow_gets_unmetered_supply_link():
    flows = pd.DataFrame([("Gas", "Boiler", 100.0, "GJ"), ("Boiler", "Workshop", 0.13, "TJ")],
                         columns=["source", "target", "value", "unit"])
    sk = sankey.build_sankey(flows)
    link = sk.links[sk.links["kind"] == "unmetered"].iloc[0]
    assert (link["source"], link["target"]) == (sankey.UNMETERED_SUPPLY, "Boiler")
    assert link["value"] == pytest.approx(30.0)


def test_plotly_structure():
    sk = sankey.build_sankey(_plant())
    fig = sk.to_plotly()
    assert fig["node"]["label"] == sk.nodes
    n = len(sk.nodes)
    assert all(0 <= i < n for i in fig["link"]["source"] + fig["link"]["target"])
    assert len(fig["link"]["value"]) == len(sk.links)
    import plotly.graph_objects as go

    go.Figure(go.Sankey(node=fig["node"], link=fig["link"]))  # accepted by plotly


def test_bad_input_raises():
    cols = ["source", "target", "value", "unit"]
    with pytest.raises(ValueError, match="cycle"):
        sankey.build_sankey(pd.DataFrame([("A", "B", 1.0, "kWh"), ("B", "A", 1.0, "kWh")], columns=cols))
    with pytest.raises(ValueError, match="non-negative"):
        sankey.build_sankey(pd.DataFrame([("A", "B", -1.0, "kWh")], columns=cols))
    with pytest.raises(ValueError, match="cannot be converted"):
        sankey.build_sankey(pd.DataFrame([("A", "B", 1.0, "kWh"), ("B", "C", 1.0, "m3")], columns=cols))
    with pytest.raises(ValueError, match="itself"):
        sankey.build_sankey(pd.DataFrame([("A", "A", 1.0, "kWh")], columns=cols))


node_names = st.sampled_from(["grid", "pv", "sub", "chiller", "air", "process", "ws_a", "ws_b"])
ORDER = {"grid": 0, "pv": 0, "sub": 1, "chiller": 2, "air": 2, "process": 2, "ws_a": 3, "ws_b": 3}


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(node_names, node_names, st.floats(0.0, 1e6, allow_nan=False)), min_size=1, max_size=25),
       st.floats(0.0, 0.2))
def test_property_every_node_balances_after_unmetered_links(raw, rel_tol):
    rows = [(s, t, v, "kWh") for s, t, v in raw if ORDER[s] < ORDER[t]]  # keep it a DAG
    if not rows:
        return
    flows = pd.DataFrame(rows, columns=["source", "target", "value", "unit"])
    sk = sankey.build_sankey(flows, rel_tol=rel_tol)
    bal = sankey.node_balance(sk.links).set_index("node")
    for node, row in sk.balance.set_index("node").iterrows():
        tol = 1e-9 + rel_tol * max(row["inflow"], row["outflow"])
        assert abs(bal.loc[node, "imbalance"]) <= tol + 1e-9 * max(row["inflow"], 1.0)
        if not row["within_tolerance"]:
            assert abs(row["imbalance"]) > tol
    # Total metered supply = total into final uses + unmetered losses - unmetered supply.
    supplies = set(sk.links["source"]) - set(sk.links["target"])
    sinks = set(sk.links["target"]) - set(sk.links["source"])
    supplied = sk.links[sk.links["source"].isin(supplies)]["value"].sum()
    consumed = sk.links[sk.links["target"].isin(sinks)]["value"].sum()
    residual = sk.balance.loc[sk.balance["within_tolerance"].astype(bool), "imbalance"].sum()
    assert supplied == pytest.approx(consumed + residual, rel=1e-9, abs=1e-6)
