"""Energy-flow (Sankey) data: supply -> systems -> workshops, with a balance check per node.

Input is a table of flows with columns ``source``, ``target``, ``value``, ``unit`` (e.g. grid ->
chiller plant, 1200, MWh). Values in different units of the same dimension are converted with pint
to one unit. Nodes with no inflow are supplies (grid, PV, gas, steam), nodes with no outflow are
final uses; every other node must balance: inflow = outflow within a tolerance. An imbalance
beyond the tolerance is never dropped: the excess inflow becomes a link to an "Unmetered / losses"
node, and an excess outflow (children metered above their parent) becomes a link from an
"Unmetered supply / meter error" node. The per-node balance is returned for every through-node,
inside the tolerance or not.

Mixed media (kWh of electricity and m3 of gas) must be converted to one energy unit first, e.g.
with :mod:`ems.analytics.tce` (tce) or by heat content (GJ).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ems.units import conversion, same_dimension

LOSSES = "Unmetered / losses"
UNMETERED_SUPPLY = "Unmetered supply / meter error"


@dataclass
class SankeyData:
    """Nodes, links and balance of an energy-flow diagram, all values in ``unit``."""

    unit: str
    nodes: list[str]
    links: pd.DataFrame          # source, target, value, kind ('metered'|'unmetered'), source_index, target_index
    balance: pd.DataFrame        # node, inflow, outflow, imbalance, within_tolerance
    levels: dict[str, int] = field(default_factory=dict)  # longest path from a supply node

    @property
    def imbalanced_nodes(self) -> list[str]:
        return self.balance.loc[~self.balance["within_tolerance"].astype(bool), "node"].tolist()

    def to_plotly(self) -> dict[str, dict[str, list]]:
        """Arguments for ``plotly.graph_objects.Sankey(node=..., link=...)``."""
        links = self.links[self.links["value"] > 0]
        return {
            "node": {"label": list(self.nodes)},
            "link": {
                "source": links["source_index"].astype(int).tolist(),
                "target": links["target_index"].astype(int).tolist(),
                "value": links["value"].astype(float).tolist(),
                "label": [f"{k}: {v:.6g} {self.unit}" for k, v in zip(links["kind"], links["value"])],
            },
        }


def _to_unit(flows: pd.DataFrame, unit: str) -> pd.Series:
    out = np.empty(len(flows))
    for i, (v, u) in enumerate(zip(flows["value"].to_numpy(dtype=float), flows["unit"].astype(str))):
        if not same_dimension(u, unit):
            raise ValueError(f"flow row {i} ({flows['source'].iloc[i]} -> {flows['target'].iloc[i]}): "
                             f"unit '{u}' cannot be converted to '{unit}'")
        scale, offset = conversion(u, unit)
        out[i] = v * scale + offset
    return pd.Series(out, index=flows.index)


def _check_acyclic(edges: list[tuple[str, str]]) -> dict[str, int]:
    """Longest-path level of each node; raises ValueError on a cycle (Sankey must be a DAG)."""
    children: dict[str, list[str]] = {}
    indeg: dict[str, int] = {}
    for s, t in edges:
        children.setdefault(s, []).append(t)
        children.setdefault(t, [])
        indeg[t] = indeg.get(t, 0) + 1
        indeg.setdefault(s, 0)
    level = {n: 0 for n in children}
    queue = [n for n, d in indeg.items() if d == 0]
    seen = 0
    while queue:
        n = queue.pop()
        seen += 1
        for c in children[n]:
            level[c] = max(level[c], level[n] + 1)
            indeg[c] -= 1
            if indeg[c] == 0:
                queue.append(c)
    if seen != len(children):
        cyc = sorted(n for n, d in indeg.items() if d > 0)
        raise ValueError(f"energy flows contain a cycle through {cyc}")
    return level


def build_sankey(flows: pd.DataFrame, unit: str | None = None, *, abs_tol: float = 1e-9,
                 rel_tol: float = 0.01) -> SankeyData:
    """Build Sankey data from (source, target, value, unit) flows and check node balances.

    ``unit``: the output unit (default: the first row's unit). A through-node is balanced when
    ``|inflow - outflow| <= abs_tol + rel_tol * max(inflow, outflow)`` (default 1 %: the accuracy
    class of typical revenue meters is 0.5-1 %). Beyond the tolerance, the difference is added as an
    'unmetered' link (see module docstring). Duplicate (source, target) rows are summed. Negative or
    missing values and self-loops raise ValueError naming the row.
    """
    need = {"source", "target", "value", "unit"}
    if missing := need - set(flows.columns):
        raise ValueError(f"flow table lacks columns {sorted(missing)}")
    if flows.empty:
        return SankeyData(unit or "", [], _empty_links(), _empty_balance(), {})
    f = flows.reset_index(drop=True).copy()
    f["source"], f["target"] = f["source"].astype(str), f["target"].astype(str)
    for i, (s, t, v) in enumerate(zip(f["source"], f["target"], f["value"])):
        if s == t:
            raise ValueError(f"flow row {i}: '{s}' flows into itself")
        if v is None or pd.isna(v) or float(v) < 0:
            raise ValueError(f"flow row {i} ({s} -> {t}): value must be a non-negative number, got {v}")
        if s in (LOSSES, UNMETERED_SUPPLY) or t in (LOSSES, UNMETERED_SUPPLY):
            raise ValueError(f"flow row {i}: node names '{LOSSES}' and '{UNMETERED_SUPPLY}' are reserved")
    out_unit = unit or str(f["unit"].iloc[0])
    f["value"] = _to_unit(f, out_unit)
    metered = f.groupby(["source", "target"], sort=False, as_index=False)["value"].sum()
    metered["kind"] = "metered"
    levels = _check_acyclic(list(zip(metered["source"], metered["target"])))

    inflow = metered.groupby("target")["value"].sum()
    outflow = metered.groupby("source")["value"].sum()
    through = [n for n in levels if n in inflow.index and n in outflow.index]
    rows, extra = [], []
    for n in through:
        fin, fout = float(inflow[n]), float(outflow[n])
        diff = fin - fout
        ok = abs(diff) <= abs_tol + rel_tol * max(fin, fout)
        rows.append({"node": n, "inflow": fin, "outflow": fout, "imbalance": diff, "within_tolerance": ok})
        if not ok:
            if diff > 0:
                extra.append({"source": n, "target": LOSSES, "value": diff, "kind": "unmetered"})
            else:
                extra.append({"source": UNMETERED_SUPPLY, "target": n, "value": -diff, "kind": "unmetered"})
    links = pd.concat([metered, pd.DataFrame(extra, columns=metered.columns)], ignore_index=True) if extra \
        else metered
    nodes = list(dict.fromkeys([*levels, *links["source"], *links["target"]]))
    if extra:
        levels = _check_acyclic(list(zip(links["source"], links["target"])))
    index = {n: i for i, n in enumerate(nodes)}
    links = links.assign(source_index=links["source"].map(index), target_index=links["target"].map(index))
    balance = pd.DataFrame(rows, columns=_empty_balance().columns)
    return SankeyData(out_unit, nodes, links.reset_index(drop=True), balance, levels)


def node_balance(links: pd.DataFrame) -> pd.DataFrame:
    """Inflow, outflow and imbalance of every node that has both (for checks after editing links)."""
    inflow = links.groupby("target")["value"].sum()
    outflow = links.groupby("source")["value"].sum()
    both = inflow.index.intersection(outflow.index)
    return pd.DataFrame({"inflow": inflow[both], "outflow": outflow[both],
                         "imbalance": inflow[both] - outflow[both]}).rename_axis("node").reset_index()


def _empty_links() -> pd.DataFrame:
    return pd.DataFrame(columns=["source", "target", "value", "kind", "source_index", "target_index"])


def _empty_balance() -> pd.DataFrame:
    return pd.DataFrame(columns=["node", "inflow", "outflow", "imbalance", "within_tolerance"])
