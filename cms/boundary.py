"""Organisational boundary: which share of each node's emissions a reporting node consolidates.

Node data (sql/001_core.sql): ``ownership_share``, ``operational_control``, ``financial_control``. The
asset loader gives children their parent's values unless overridden, so the values on a node are the
group's EFFECTIVE equity / control in that node, not a share relative to its parent. Consequently a share
is never multiplied along the path (equipment -> plant -> company -> group): the datum's own node value is
used once, relative to the reporting node:

- equity share: share = ownership(node) / ownership(reporting node);
- operational / financial control: 1 when the node is under that control (or when the reporting node
  itself is not, i.e. it reports its own operations standalone), else 0.

The consolidation entity of a datum is its nearest ancestor-or-self at level 'plant' (else the node).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from cms.numbers import div, mul
from ems.errors import UserError

APPROACHES = ("operational_control", "financial_control", "equity_share")


@dataclass(frozen=True)
class Node:
    code: str
    parent: str | None
    level: str
    ownership_share: Decimal = Decimal(1)
    operational_control: bool = True
    financial_control: bool = True
    grid_region: str | None = None


class Tree:
    def __init__(self, nodes: list[Node]):
        self.nodes = {n.code: n for n in nodes}

    def __getitem__(self, code: str) -> Node:
        try:
            return self.nodes[code]
        except KeyError as exc:
            raise UserError(f"no node with code '{code}' (see 'ems nodes')") from exc

    def ancestors(self, code: str) -> list[str]:
        """[code, parent, grandparent, ...]."""
        out = [code]
        while self[out[-1]].parent is not None and len(out) < 100:
            out.append(self[out[-1]].parent)
        return out

    def subtree(self, root: str) -> set[str]:
        return {c for c in self.nodes if root in self.ancestors(c)}

    def entity(self, code: str) -> str:
        for c in self.ancestors(code):
            if self[c].level == "plant":
                return c
        return code

    def region(self, code: str) -> str | None:
        for c in self.ancestors(code):
            if self[c].grid_region:
                return self[c].grid_region
        return None


def share(tree: Tree, node: str, root: str, approach: str) -> Decimal:
    """Share of ``node``'s emissions consolidated by ``root`` under ``approach`` (0 when outside root)."""
    if approach not in APPROACHES:
        raise UserError(f"boundary approach must be one of {', '.join(APPROACHES)}", where="--boundary")
    if root not in tree.ancestors(node):
        return Decimal(0)
    n, r = tree[node], tree[root]
    if approach == "equity_share":
        if r.ownership_share == 0:
            raise UserError(f"node {root} has ownership share 0: it cannot report under equity share")
        return div(mul(n.ownership_share), r.ownership_share)
    flag = "operational_control" if approach == "operational_control" else "financial_control"
    if getattr(n, flag) or not getattr(r, flag):
        return Decimal(1)
    return Decimal(0)
