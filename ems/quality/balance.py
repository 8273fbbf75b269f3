"""Meter-tree balance: a parent meter against the sum of its child meters. Pure, no I/O.

For each bucket: ``unaccounted = parent - sum(children)`` (children converted to the parent's unit) and
``share = unaccounted / parent``. A positive share is consumption the sub-meters do not see (losses,
unmetered loads, a child meter reading low); a negative share means the children add up to more than the
parent (a child reading high, a double-counted meter). A bucket is comparable only when the parent and
every child have a value; otherwise its share stays NaN and ``ok`` is None (missing data is reported by
the completeness check, not hidden in the balance). A virtual parent (e.g. site use = grid + PV +
discharge - charge) is compared through its own roll-up, computed from its formula.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

COLUMNS = ["bucket", "parent_value", "children_value", "n_children", "children_with_data", "unaccounted", "share",
           "ok"]


def balance(parent: pd.Series, children: pd.DataFrame, tolerance: float) -> pd.DataFrame:
    """Balance per bucket. ``parent``: values per bucket; ``children``: one column per child meter in the
    parent's unit, same bucket index (missing buckets NaN). Returns :data:`COLUMNS`."""
    index = parent.index.union(children.index)
    p = parent.reindex(index).astype(float)
    c = children.reindex(index).astype(float)
    anything = p.notna() | c.notna().any(axis=1)     # buckets where no meter has a value are left out
    index, p, c = index[anything.to_numpy()], p[anything], c[anything]
    n_children = c.shape[1]
    with_data = c.notna().sum(axis=1)
    complete = p.notna() & (with_data == n_children) & (n_children > 0)
    kids = c.sum(axis=1, min_count=1).where(complete)
    unaccounted = (p - kids).where(complete)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = (unaccounted / p).where(complete & (p != 0))
    ok = share.abs().le(tolerance).astype(object).where(share.notna(), None)
    return pd.DataFrame({"bucket": index, "parent_value": p.to_numpy(), "children_value": kids.to_numpy(),
                         "n_children": n_children, "children_with_data": with_data.to_numpy(),
                         "unaccounted": unaccounted.to_numpy(), "share": share.to_numpy(), "ok": ok.to_numpy()})


def unaccounted_share(frame: pd.DataFrame) -> float | None:
    """Unaccounted share over a period: sum of unaccounted / sum of parent over the comparable buckets."""
    comparable = frame[frame["unaccounted"].notna()]
    total = comparable["parent_value"].sum()
    if comparable.empty or total == 0:
        return None
    return float(comparable["unaccounted"].sum() / total)
