"""Internal settlement: allocate a parent meter's energy cost to cost centres (workshops) from sub-meters.

Per interval, each sub-meter pays the parent's price in that interval for its own energy, so a workshop
that runs at night pays the valley price and one that runs in the afternoon pays the peak (its own
time-of-use mix). The unmetered remainder (parent minus the sum of the sub-meters) and its cost are
allocated by a stated rule:

* ``proportional``: to the cost centres in proportion to their metered energy in the same interval
  (intervals without metered energy: in proportion to metered energy over the whole settlement);
* ``fixed_shares``: in given shares (which may name centres without a meter, e.g. common areas);
* ``to_centre``: all to one named cost centre.

A negative remainder (sub-meters above the parent) is a meter-tree imbalance: it is flagged, the
parent's cost in that interval is shared by sub-meter energy, and no cost is ever negative. Costs are
rounded to the fen (0.01 CNY) per day or month with largest-remainder rounding, so the rounded lines of a
bucket sum exactly to the parent's rounded cost of that bucket.

Pure computation over pandas, plus :func:`export_settlement` (CSV with BOM, Excel via openpyxl).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from ems.errors import UserError

RuleKind = Literal["proportional", "fixed_shares", "to_centre"]
_EPS = pd.Timedelta(microseconds=1)
_KWH_TOL = 1e-9


@dataclass(frozen=True)
class AllocationRule:
    """How the unmetered remainder is allocated (see module docstring)."""

    kind: RuleKind
    shares: Mapping[str, float] | None = None   # fixed_shares: cost centre -> share (sum 1)
    centre: str | None = None                   # to_centre: the cost centre that takes it all

    def __post_init__(self) -> None:
        if self.kind == "fixed_shares":
            if not self.shares:
                raise UserError("allocation rule 'fixed_shares' needs shares (cost centre -> share)")
            if any(v < 0 or not math.isfinite(v) for v in self.shares.values()):
                raise UserError("allocation shares must be finite and not negative")
            if abs(sum(self.shares.values()) - 1.0) > 1e-6:
                raise UserError(f"allocation shares must sum to 1, they sum to {sum(self.shares.values()):g}")
        elif self.kind == "to_centre":
            if not self.centre:
                raise UserError("allocation rule 'to_centre' needs the cost centre's name")
        elif self.kind != "proportional":
            raise UserError(f"unknown allocation rule '{self.kind}' (proportional, fixed_shares, to_centre)")

    def text(self) -> str:
        """The rule in words, printed on every settlement line and export."""
        head = "Unmetered remainder (parent minus the sum of sub-meters, per interval) allocated "
        if self.kind == "proportional":
            return (head + "to cost centres in proportion to their metered energy in the same interval "
                    "(intervals without metered energy: in proportion to metered energy over the whole period).")
        if self.kind == "fixed_shares":
            parts = ", ".join(f"{k} {100 * v:.2f} %" for k, v in self.shares.items())  # type: ignore[union-attr]
            return head + f"in fixed shares: {parts}."
        return head + f"entirely to cost centre '{self.centre}'."


@dataclass
class SettlementResult:
    """Settlement lines per bucket (day or month) and cost centre, with the meter-tree balance."""

    lines: pd.DataFrame
    balance: pd.DataFrame
    rule: AllocationRule
    by: Literal["day", "month"]
    parent_code: str
    tariffs: list[str]
    period_first_day: dt.date | None
    period_last_day: dt.date | None
    generated_at: dt.datetime
    notes: list[str] = field(default_factory=list)

    @property
    def imbalanced(self) -> bool:
        return bool((self.balance["imbalance_intervals"] > 0).any()) if len(self.balance) else False


def largest_remainder_fen(values_cny: np.ndarray, total_cny: float) -> np.ndarray:
    """Round non-negative amounts (CNY) to whole fen so that they sum to ``total_cny`` rounded half up.

    The fen left over after rounding every amount down go one each to the largest fractional parts.
    Returns integer fen.
    """
    x = np.round(np.asarray(values_cny, dtype=float) * 100.0, 6)   # strip float noise before flooring
    fen = np.floor(x).astype(np.int64)
    target = math.floor(round(total_cny * 100.0, 6) + 0.5)
    short = int(target - fen.sum())
    if len(fen) == 0:
        return fen
    order = np.argsort(-(x - fen), kind="stable")
    q, r = divmod(short, len(fen))
    fen += q
    fen[order[:r]] += 1
    return fen


def extra_centres_of(rule: AllocationRule) -> list[str]:
    """Cost centres the rule itself names (fixed shares, or the receiving centre)."""
    if rule.kind == "fixed_shares":
        return list(rule.shares or {})
    return [rule.centre] if rule.kind == "to_centre" and rule.centre else []


def _buckets(index: pd.DatetimeIndex, tz: str, by: str) -> pd.DatetimeIndex:
    if index.tz is None:
        raise UserError("settlement timestamps must be time-zone aware interval ends")
    day = (index.tz_convert(tz).tz_localize(None) - _EPS).normalize()
    if by == "day":
        return day
    if by == "month":
        return day.to_period("M").to_timestamp()
    raise ValueError(f"by must be 'day' or 'month', not {by!r}")


def settle(parent: pd.DataFrame, children_kwh: pd.DataFrame, rule: AllocationRule, tz: str,
           by: Literal["day", "month"] = "month", centre_of: Mapping[str, str] | None = None,
           parent_code: str = "parent") -> SettlementResult:
    """Allocate the parent meter's cost to cost centres.

    ``parent``: per interval (tz-aware interval ends) at least ``kwh`` and ``cost_cny``, e.g. the output
    of :func:`ems.analytics.tariff_cost.energy_cost` (its ``tariff_id``/``tariff_version`` and
    ``attrs['assumptions']`` are carried into the result). ``children_kwh``: sub-meter energy (kWh), one
    column per sub-meter, on the parent's timestamps (missing values count as zero and are reported).
    ``centre_of`` maps sub-meter -> cost centre (default: the sub-meter code is the centre).
    Returns lines per ``by`` bucket and cost centre: ``kwh_metered``, ``kwh_allocated``, ``kwh``,
    ``cost_metered_cny``, ``cost_allocated_cny``, ``cost_cny`` (fen-rounded), ``cost_share``,
    ``avg_price_cny_per_kwh``, ``rule``; and the balance per bucket.
    """
    for col in ("kwh", "cost_cny"):
        if col not in parent.columns:
            raise UserError(f"parent frame needs a '{col}' column")
    index = parent.index
    extra = children_kwh.index.difference(index)
    if len(extra):
        raise UserError(f"{len(extra)} sub-meter interval(s) are not in the parent's data (first {extra[0]})")
    kids = children_kwh.reindex(index)
    if (kids < 0).any().any() or (parent["kwh"] < 0).any():
        bad = [c for c in kids.columns if (kids[c] < 0).any()] or [parent_code]
        raise UserError(f"negative interval energy on meter(s) {bad}; settlement needs consumption >= 0")
    centre_of = dict(centre_of or {})
    meter_centre = [centre_of.get(c, c) for c in kids.columns]
    centres = list(dict.fromkeys(meter_centre))
    misnamed = [c for c in extra_centres_of(rule) if c in centre_of and centre_of[c] != c]
    if misnamed:
        raise UserError(f"the allocation rule names sub-meter(s) {misnamed}; name their cost centres "
                        f"({[centre_of[c] for c in misnamed]}) instead")
    extra_centres = extra_centres_of(rule)
    all_centres = centres + [c for c in extra_centres if c not in centres]
    k = len(all_centres)

    p_missing = parent["kwh"].isna().to_numpy() | parent["cost_cny"].isna().to_numpy()
    p_kwh = np.where(p_missing, 0.0, parent["kwh"].to_numpy(dtype=float))
    p_cost = np.where(p_missing, 0.0, parent["cost_cny"].to_numpy(dtype=float))
    k_missing = kids.isna().sum(axis=1).to_numpy()
    meters = np.nan_to_num(kids.to_numpy(dtype=float))
    m = np.zeros((len(index), k))
    for j, c in enumerate(meter_centre):
        m[:, all_centres.index(c)] += meters[:, j]
    s = m.sum(axis=1)
    over = s > p_kwh + _KWH_TOL
    price = np.divide(p_cost, p_kwh, out=np.zeros_like(p_cost), where=p_kwh > 0)
    share_of_s = np.divide(m, s[:, None], out=np.zeros_like(m), where=s[:, None] > 0)
    cost_metered = np.where(over[:, None], p_cost[:, None] * share_of_s, price[:, None] * m)
    rem_kwh = np.clip(p_kwh - s, 0.0, None)
    rem_cost = np.clip(p_cost - cost_metered.sum(axis=1), 0.0, None)
    imbalance_kwh = np.clip(s - p_kwh, 0.0, None) * over

    if rule.kind == "proportional":
        if k == 0:
            raise UserError("rule 'proportional' needs at least one sub-meter")
        totals = m.sum(axis=0)
        fallback = totals / totals.sum() if totals.sum() > 0 else np.full(k, 1.0 / k)
        w = np.where((s > 0)[:, None], share_of_s, fallback[None, :])
    elif rule.kind == "fixed_shares":
        w = np.tile([rule.shares.get(c, 0.0) for c in all_centres], (len(index), 1))  # type: ignore[union-attr]
    else:
        w = np.tile([1.0 if c == rule.centre else 0.0 for c in all_centres], (len(index), 1))
    alloc_kwh = rem_kwh[:, None] * w
    alloc_cost = rem_cost[:, None] * w

    bucket = _buckets(index, tz, by)  # type: ignore[arg-type]
    keys = pd.DatetimeIndex(bucket.unique()).sort_values()
    pos = keys.get_indexer(bucket)
    n_b = len(keys)

    def per_bucket(a: np.ndarray) -> np.ndarray:
        out = np.zeros((n_b,) + a.shape[1:])
        np.add.at(out, pos, a)
        return out

    b_m_kwh, b_a_kwh = per_bucket(m), per_bucket(alloc_kwh)
    b_m_cost, b_a_cost = per_bucket(cost_metered), per_bucket(alloc_cost)
    b_p_cost, b_p_kwh = per_bucket(p_cost), per_bucket(p_kwh)
    rule_text = rule.text()
    rows = []
    for b in range(n_b):
        fen = largest_remainder_fen(np.r_[b_m_cost[b], b_a_cost[b]], b_p_cost[b])
        total_fen = int(fen.sum())
        for j, c in enumerate(all_centres):
            kwh = b_m_kwh[b, j] + b_a_kwh[b, j]
            cost_fen = int(fen[j] + fen[k + j])
            rows.append({by: keys[b], "cost_centre": c, "kwh_metered": b_m_kwh[b, j],
                         "kwh_allocated": b_a_kwh[b, j], "kwh": kwh,
                         "cost_metered_cny": fen[j] / 100, "cost_allocated_cny": fen[k + j] / 100,
                         "cost_cny": cost_fen / 100,
                         "cost_share": cost_fen / total_fen if total_fen else np.nan,
                         "avg_price_cny_per_kwh": cost_fen / 100 / kwh if kwh > 0 else np.nan,
                         "rule": rule_text})
    lines = pd.DataFrame(rows, columns=[by, "cost_centre", "kwh_metered", "kwh_allocated", "kwh",
                                        "cost_metered_cny", "cost_allocated_cny", "cost_cny", "cost_share",
                                        "avg_price_cny_per_kwh", "rule"])
    b_over = per_bucket(over.astype(float)).astype(int)
    b_imb = per_bucket(imbalance_kwh)
    balance = pd.DataFrame({
        by: keys, "parent_kwh": b_p_kwh,
        "parent_cost_cny": [largest_remainder_fen(np.array([v]), v)[0] / 100 for v in b_p_cost],
        "metered_kwh": b_m_kwh.sum(axis=1), "remainder_kwh": per_bucket(rem_kwh),
        "imbalance_kwh": b_imb, "imbalance_intervals": b_over,
        "parent_missing_intervals": per_bucket(p_missing.astype(float)).astype(int),
        "submeter_missing_values": per_bucket(k_missing.astype(float)).astype(int),
    })
    balance["flag"] = [
        f"meter-tree imbalance: sub-meters exceed the parent in {n} interval(s) by {x:.3f} kWh" if n else "ok"
        for n, x in zip(b_over, b_imb)]
    tariffs = []
    if {"tariff_id", "tariff_version"} <= set(parent.columns):
        pairs = parent[["tariff_id", "tariff_version"]].drop_duplicates().itertuples(index=False)
        tariffs = [f"{t} v{v}" for t, v in pairs]
    notes = list(parent.attrs.get("assumptions", []))
    if p_missing.any():
        notes.append(f"{int(p_missing.sum())} parent interval(s) without energy or cost were left out")
    if k_missing.any():
        notes.append(f"{int(k_missing.sum())} missing sub-meter value(s) counted as zero "
                     "(their energy falls into the unmetered remainder)")
    days = (index.tz_convert(tz).tz_localize(None) - _EPS).normalize() if len(index) else None
    return SettlementResult(
        lines=lines, balance=balance, rule=rule, by=by, parent_code=parent_code, tariffs=tariffs,
        period_first_day=days.min().date() if days is not None else None,
        period_last_day=days.max().date() if days is not None else None,
        generated_at=dt.datetime.now(dt.UTC).replace(microsecond=0), notes=notes)


def _header_rows(result: SettlementResult) -> list[tuple[str, str]]:
    period = (f"{result.period_first_day.isoformat()} .. {result.period_last_day.isoformat()}"
              if result.period_first_day and result.period_last_day else "")
    imbalanced = int((result.balance["imbalance_intervals"] > 0).sum()) if len(result.balance) else 0
    return [
        ("报表 Report", "内部结算 Internal energy cost settlement"),
        ("结算期 Period (local dates)", period),
        ("汇总 Grouped by", result.by),
        ("总表 Parent meter", result.parent_code),
        ("电价 Tariff (id and version)", ", ".join(result.tariffs) or "not stated"),
        ("分摊规则 Allocation rule", result.rule.text()),
        ("计价 Pricing", "Each sub-meter pays the parent's price in each interval for its own energy."),
        ("舍入 Rounding", "0.01 CNY, largest remainder: each bucket's lines sum to the parent's rounded cost."),
        ("币种 Currency", "CNY"),
        ("计量平衡 Meter-tree balance",
         f"imbalance in {imbalanced} bucket(s), see sheet Balance" if imbalanced else "ok"),
        ("生成时间 Generated (UTC)", result.generated_at.isoformat()),
    ] + [("说明 Note", n) for n in result.notes]


def _for_file(frame: pd.DataFrame, by: str) -> pd.DataFrame:
    out = frame.copy()
    if by in out.columns:
        out[by] = out[by].dt.strftime("%Y-%m-%d" if by == "day" else "%Y-%m")
    return out


def export_settlement(result: SettlementResult, path: str | Path) -> list[Path]:
    """Write the settlement: ``.csv`` (UTF-8 with BOM, so Excel reads Chinese names), ``.xlsx`` (sheets
    说明 About with period, tariff, rule and generation time; Settlement; Balance), or both when the path
    has neither suffix (``path.csv`` and ``path.xlsx``). Returns the files written."""
    from ems.analytics.tablefiles import workbook, write_tables

    lines = _for_file(result.lines, result.by)
    return write_tables(path, lines, lambda target: workbook(
        "说明 About", _header_rows(result),
        [("Settlement", lines), ("Balance", _for_file(result.balance, result.by))], target), "settlement file")
