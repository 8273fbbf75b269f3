"""Electricity cost of a node and of its cost centres (child nodes) per day or month, with the
unmetered remainder, and its export as CSV and Excel. Pure over frames; writing files at the end."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ems.analytics.tariff_cost import cost_summary, site_energy_cost
from ems.errors import UserError

REMAINDER = "(unmetered remainder)"


@dataclass
class CostReport:
    node: str
    site: str
    by: str
    lines: pd.DataFrame              # centre, name, bucket, kwh, cost_cny, avg_price_cny_per_kwh
    tou: pd.DataFrame                # centre, bucket, tariff, TOU period, kwh, cost_cny
    tariffs: list[str]
    notes: list[str] = field(default_factory=list)
    generated_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC).replace(microsecond=0))


def cost_by_centre(kwh: dict[str, pd.Series], names: dict[str, str], parent: str | None, site: str,
                   assignments, tariffs, tz: str, by: str = "month", daily_max_temp_c: pd.Series | None = None
                   ) -> CostReport:
    """Price each centre's 15-min kWh (indexed by interval end) with the site's tariff in force.

    With ``parent`` (a key of ``kwh``), the other keys are its centres and the parent's energy not
    metered by them becomes a remainder line, so the lines of a bucket sum to the parent's cost.
    """
    lines, tou, notes, labels = [], [], [], set()
    for centre, s in kwh.items():
        if s.empty:
            continue
        costs = site_energy_cost(s, site, assignments, tariffs, tz, daily_max_temp_c)
        summary = cost_summary(costs, by)  # type: ignore[arg-type]
        labels.update(f"{a} {b}" for a, b in zip(summary["tariff_id"], summary["tariff_version"]))
        tou.append(summary.assign(centre=centre))
        totals = summary.groupby(by, as_index=False)[["kwh", "cost_cny"]].sum()
        totals["avg_price_cny_per_kwh"] = totals["cost_cny"] / totals["kwh"].where(totals["kwh"] > 0)
        lines.append(totals.assign(centre=centre, name=names.get(centre, "")))
        notes += [n for n in summary.attrs.get("assumptions", []) if n not in notes]
    if not lines:
        raise UserError("no electricity readings in this range")
    line_frame = pd.concat(lines, ignore_index=True)[["centre", "name", by, "kwh", "cost_cny", "avg_price_cny_per_kwh"]]
    if parent is not None:
        line_frame = _with_remainder(line_frame, parent, by)
        if (line_frame.loc[line_frame["centre"] == REMAINDER, "kwh"] < 0).any():
            notes.append("the remainder is negative in some periods: on-site generation or storage covered part "
                         "of the sub-metered use, or the sub-meters read more than the parent (check the meter tree)")
    return CostReport(parent or next(iter(kwh)), site, by, line_frame.sort_values([by, "centre"], ignore_index=True),
                      pd.concat(tou, ignore_index=True), sorted(labels), notes)


def _with_remainder(lines: pd.DataFrame, parent: str, by: str) -> pd.DataFrame:
    """Replace the parent's lines by the remainder (parent - centres, kWh and CNY) per bucket, so the
    lines of a bucket sum to the parent's cost exactly; each centre keeps its own TOU-priced cost."""
    top = lines[lines["centre"] == parent].set_index(by)
    kids = lines[lines["centre"] != parent]
    summed = kids.groupby(by)[["kwh", "cost_cny"]].sum().reindex(top.index).fillna(0.0)
    rest = (top[["kwh", "cost_cny"]] - summed).reset_index()
    rest["avg_price_cny_per_kwh"] = np.nan   # a difference of costs has no meaningful unit price
    rest["centre"], rest["name"] = REMAINDER, "未分表及自发电 / bill - sub-meters (losses, unmetered loads, on-site PV and storage benefit)"
    return pd.concat([kids, rest[kids.columns]], ignore_index=True)


def _about(report: CostReport) -> list[tuple[str, str]]:
    col = report.lines[report.by]
    return [("报表 Report", "电费按成本中心 Electricity cost by cost centre"),
            ("节点 Node", report.node), ("站点 Site (tariff owner)", report.site),
            ("期间 Period", f"{col.min():%Y-%m-%d} .. {col.max():%Y-%m-%d} (by {report.by})" if len(col) else ""),
            ("电价 Tariffs (id version)", ", ".join(report.tariffs)),
            ("计价 Pricing", "each 15-min interval at the TOU price in force; remainder = parent - sub-meters"),
            ("币种 Currency", "CNY, not rounded (round only for display)"),
            ("生成时间 Generated (UTC)", report.generated_at.isoformat())] + [("说明 Note", n) for n in report.notes]


def _dated(frame: pd.DataFrame, by: str) -> pd.DataFrame:
    out = frame.copy()
    out[by] = pd.to_datetime(out[by]).dt.strftime("%Y-%m-%d" if by == "day" else "%Y-%m")
    return out


def export_cost_report(report: CostReport, path: str | Path) -> list[Path]:
    """``.csv``, ``.xlsx`` (sheets About, Cost, TOU), or both when the path has neither suffix."""
    from ems.analytics.tablefiles import workbook, write_tables

    lines = _dated(report.lines, report.by)
    return write_tables(path, lines, lambda target: workbook(
        "About", _about(report), [("Cost", lines), ("TOU", _dated(report.tou, report.by))], target), "cost report")
