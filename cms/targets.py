"""Emission targets: absolute and intensity, base year, milestones, breakdown to plants, trajectory and gap.

Pure functions over plain numbers and pandas frames (no database; storage is ``cms.targets_store``).

A target set belongs to a node (usually the group) and covers a scope (default Scope 1 + market-based
Scope 2). It lists its plants with their base-year emissions (tCO2e) and, for intensity lines, base-year
denominators (output value, units, floor area ... named per line). Each target line is absolute or
intensity and has milestones relative to the base year, e.g. peak by 2026, -40 % intensity by 2030,
-50 % absolute by 2040, net zero by 2050 (Hisense white paper §4.2).

Trajectory: the fraction of base-year emissions (or intensity) allowed, linear between the base year
(1.0) and each milestone with a value; flat after the last one. A ``peak`` milestone without a value
is not a point of the trajectory; ``peak_check`` tests it. ``net_zero`` is 0 *net* emissions: the gap
table reports gross emissions against the trajectory and, separately, net = gross - retired offsets;
offsets are never netted inside Scope 1 or 2.

Breakdown: absolute lines give each plant ``share x group trajectory``, with the share its part of
base-year emissions (``allocation: base_share``) or an explicit share (``allocation: explicit``, shares
summing to 1). Intensity lines give each plant the same relative cut of its own base-year intensity;
the group's allowed emissions are the sum of the plants'. Either way the group gap equals the sum of
the plant gaps.

A target-set file (``ems target set FILE``)::

    id: group-2023
    node: GROUP                      # owner node; plants below are node codes too
    base_year: 2023
    scope: [scope1, scope2_market]   # default
    allocation: base_share           # or explicit, with plants.X.share summing to 1
    plants:
      PLANT-A: {emissions_tco2e: 400000, denominators: {output_value: 2000000}}
      PLANT-B: {emissions_tco2e: 244534, denominators: {output_value: 1000000}}
    targets:
      - {id: absolute, metric: absolute, milestones: [{year: 2026, kind: peak},
         {year: 2040, reduction_pct: 50}, {year: 2050, kind: net_zero}]}
      - {id: intensity, metric: intensity, denominator: {name: output_value, unit: 10k CNY},
         milestones: [{year: 2030, reduction_pct: 40}]}
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from cms.zerocarbon_yaml import load_model

SHARE_TOLERANCE = 1e-9


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Milestone(_Strict):
    year: int = Field(ge=1990, le=2100)
    kind: Literal["reduction", "peak", "net_zero"] = "reduction"
    reduction_pct: float | None = Field(default=None, le=100)   # vs base year; negative = growth allowed

    @model_validator(mode="after")
    def _value(self):
        if self.kind == "reduction" and self.reduction_pct is None:
            raise ValueError("@reduction_pct: a reduction milestone needs reduction_pct (percent vs base year)")
        if self.kind == "net_zero" and self.reduction_pct not in (None, 100):
            raise ValueError("@reduction_pct: a net_zero milestone is 100 % (net); leave reduction_pct out")
        return self


class Denominator(_Strict):
    name: str           # e.g. output_value, units_produced, floor_area
    unit: str           # e.g. "10k CNY", "unit", "m2"


class TargetLine(_Strict):
    id: str
    metric: Literal["absolute", "intensity"]
    denominator: Denominator | None = None
    milestones: list[Milestone] = Field(min_length=1)

    @model_validator(mode="after")
    def _shape(self):
        if (self.metric == "intensity") != (self.denominator is not None):
            raise ValueError("@denominator: an intensity line needs a denominator; an absolute line has none")
        years = [m.year for m in self.milestones]
        if years != sorted(years) or len(set(years)) != len(years):
            raise ValueError("@milestones: milestone years must rise strictly")
        return self


class PlantBase(_Strict):
    emissions_tco2e: float = Field(ge=0)            # base-year emissions in the target scope
    denominators: dict[str, float] = {}             # base-year denominator by name (intensity lines)
    share: float | None = Field(default=None, ge=0, le=1)   # explicit allocation share


class TargetSet(_Strict):
    id: str
    name: str | None = None
    node: str
    scope: list[Literal["scope1", "scope2_market", "scope2_location"]] = ["scope1", "scope2_market"]
    base_year: int = Field(ge=1990, le=2100)
    allocation: Literal["base_share", "explicit"] = "base_share"
    plants: dict[str, PlantBase] = Field(min_length=1)
    targets: list[TargetLine] = Field(min_length=1)

    @model_validator(mode="after")
    def _cross(self):
        if "scope2_market" in self.scope and "scope2_location" in self.scope:
            raise ValueError("@scope: choose market- or location-based Scope 2, not both")
        ids = [t.id for t in self.targets]
        if len(set(ids)) != len(ids):
            raise ValueError("@targets: target line ids must be unique")
        shares = [p.share for p in self.plants.values()]
        if self.allocation == "explicit":
            if any(s is None for s in shares):
                raise ValueError("@plants: allocation 'explicit' needs a share for every plant")
            if abs(sum(shares) - 1.0) > SHARE_TOLERANCE:
                raise ValueError(f"@plants: explicit shares must sum to 1 (they sum to {sum(shares):.9g})")
        elif any(s is not None for s in shares):
            raise ValueError("@allocation: plant shares are given; set allocation: explicit")
        elif sum(p.emissions_tco2e for p in self.plants.values()) <= 0:
            raise ValueError("@plants: base-year emissions sum to 0; shares of base-year emissions are undefined")
        for line in self.targets:
            if line.milestones[0].year <= self.base_year:
                raise ValueError(f"@targets: line '{line.id}': milestones must come after base year {self.base_year}")
            if line.denominator:
                for code, p in self.plants.items():
                    if p.denominators.get(line.denominator.name, 0) <= 0:
                        raise ValueError(f"@plants: plant '{code}' needs a positive base-year denominator "
                                         f"'{line.denominator.name}' for intensity line '{line.id}'")
        return self

    def line(self, line_id: str) -> TargetLine:
        for t in self.targets:
            if t.id == line_id:
                return t
        raise KeyError(line_id)

    @property
    def base_tco2e(self) -> float:
        return float(math.fsum(p.emissions_tco2e for p in self.plants.values()))


def load_target_file(path: str | Path) -> TargetSet:
    ts, _ = load_model(path, TargetSet, "a target set mapping (id, node, base_year, plants, targets)")
    return ts


def plant_shares(ts: TargetSet) -> dict[str, float]:
    """Each plant's share of the group's absolute allowance (sums to 1)."""
    if ts.allocation == "explicit":
        return {code: float(p.share) for code, p in ts.plants.items()}
    total = ts.base_tco2e
    return {code: p.emissions_tco2e / total for code, p in ts.plants.items()}


def plant_base(ts: TargetSet, code: str) -> float:
    """The plant's part of base-year emissions under the allocation (its own base for 'base_share')."""
    if ts.allocation == "explicit":
        return float(ts.plants[code].share) * ts.base_tco2e
    return ts.plants[code].emissions_tco2e


def trajectory_points(line: TargetLine, base_year: int) -> list[tuple[int, float]]:
    """(year, fraction of base allowed): the base year at 1.0, then every milestone with a value."""
    points = [(base_year, 1.0)]
    for m in line.milestones:
        if m.kind == "net_zero":
            points.append((m.year, 0.0))
        elif m.reduction_pct is not None:
            points.append((m.year, 1.0 - m.reduction_pct / 100.0))
    return points


def fraction_at(points: list[tuple[int, float]], year: int) -> float | None:
    """Allowed fraction in ``year``: exact at the points, linear between, flat after; None before the base."""
    if year < points[0][0]:
        return None
    for (y0, v0), (y1, v1) in zip(points, points[1:]):
        if year == y1:
            return v1
        if y0 <= year < y1:
            return v0 * (y1 - year) / (y1 - y0) + v1 * (year - y0) / (y1 - y0)
    return points[-1][1] if year > points[0][0] else points[0][1]


def trajectory(ts: TargetSet, line_id: str, years: list[int]) -> pd.DataFrame:
    """Per plant and year: allowed fraction, target tCO2e (absolute) or target intensity (intensity lines).

    Group rows carry ``plant = ts.node``. Intensity is in tCO2e per denominator unit.
    """
    line = ts.line(line_id)
    pts = trajectory_points(line, ts.base_year)
    rows = []
    for year in years:
        f = fraction_at(pts, year)
        for code, p in ts.plants.items():
            row = {"line": line.id, "plant": code, "year": year, "fraction": f, "target_tco2e": math.nan,
                   "target_intensity": math.nan}
            if f is not None and line.metric == "absolute":
                row["target_tco2e"] = plant_base(ts, code) * f
            elif f is not None:
                row["target_intensity"] = p.emissions_tco2e / p.denominators[line.denominator.name] * f
            rows.append(row)
        group = {"line": line.id, "plant": ts.node, "year": year, "fraction": f, "target_tco2e": math.nan,
                 "target_intensity": math.nan}
        if f is not None and line.metric == "absolute":
            group["target_tco2e"] = ts.base_tco2e * f
        elif f is not None:
            base_d = math.fsum(p.denominators[line.denominator.name] for p in ts.plants.values())
            group["target_intensity"] = ts.base_tco2e / base_d * f   # headline; see gaps() for the mix effect
        rows.append(group)
    return pd.DataFrame(rows)


def gaps(ts: TargetSet, line_id: str, actuals: pd.DataFrame, offsets: pd.DataFrame | None = None) -> pd.DataFrame:
    """Gap per plant and year, plus group rows (``plant = ts.node``).

    ``actuals``: columns plant, year, emissions_tco2e (gross, in the target scope) and, for intensity
    lines, denominator. ``offsets``: plant, year, tco2e retired (optional). ``gap_tco2e`` = actual -
    allowed (positive: above the trajectory); ``net_gap_tco2e`` uses gross - retired offsets. A group row
    is complete only when every plant of the set has an actual for that year.
    """
    line = ts.line(line_id)
    pts = trajectory_points(line, ts.base_year)
    act = actuals.set_index(["plant", "year"])
    off = offsets.groupby(["plant", "year"])["tco2e"].sum() if offsets is not None and len(offsets) else None
    rows = []
    for year in sorted({int(y) for y in actuals["year"]}):
        f = fraction_at(pts, year)
        plant_rows = []
        for code, p in ts.plants.items():
            if (code, year) not in act.index or f is None:
                continue
            e = float(act.loc[(code, year), "emissions_tco2e"])
            r = {"line": line.id, "plant": code, "year": year, "actual_tco2e": e}
            if line.metric == "absolute":
                r["allowed_tco2e"] = plant_base(ts, code) * f
                r["target_intensity"] = r["actual_intensity"] = r["denominator"] = math.nan
            else:
                d = float(act.loc[(code, year), "denominator"])
                r["denominator"] = d
                r["target_intensity"] = p.emissions_tco2e / p.denominators[line.denominator.name] * f
                r["allowed_tco2e"] = r["target_intensity"] * d
                r["actual_intensity"] = e / d if d else math.nan
            r["gap_tco2e"] = e - r["allowed_tco2e"]
            r["offsets_retired_tco2e"] = float(off.get((code, year), 0.0)) if off is not None else 0.0
            r["net_tco2e"] = e - r["offsets_retired_tco2e"]
            r["net_gap_tco2e"] = r["net_tco2e"] - r["allowed_tco2e"]
            r["complete"] = True
            plant_rows.append(r)
        rows += plant_rows
        if not plant_rows:
            continue
        complete = len(plant_rows) == len(ts.plants)
        g = {"line": line.id, "plant": ts.node, "year": year, "complete": complete}
        for col in ("actual_tco2e", "gap_tco2e", "offsets_retired_tco2e", "net_tco2e", "net_gap_tco2e",
                    "denominator"):
            g[col] = math.fsum(r[col] for r in plant_rows) if complete else math.nan
        if line.metric == "absolute":
            g["allowed_tco2e"] = ts.base_tco2e * f if complete else math.nan
            g["gap_tco2e"] = g["actual_tco2e"] - g["allowed_tco2e"]
            g["net_gap_tco2e"] = g["net_tco2e"] - g["allowed_tco2e"]
            g["target_intensity"] = g["actual_intensity"] = math.nan
        else:
            g["allowed_tco2e"] = math.fsum(r["allowed_tco2e"] for r in plant_rows) if complete else math.nan
            g["target_intensity"] = g["allowed_tco2e"] / g["denominator"] if complete else math.nan
            g["actual_intensity"] = g["actual_tco2e"] / g["denominator"] if complete else math.nan
        rows.append(g)
    cols = ["line", "plant", "year", "allowed_tco2e", "actual_tco2e", "gap_tco2e", "target_intensity",
            "actual_intensity", "denominator", "offsets_retired_tco2e", "net_tco2e", "net_gap_tco2e", "complete"]
    return pd.DataFrame(rows, columns=cols)


def peak_check(actual_by_year: dict[int, float], peak_year: int) -> pd.DataFrame:
    """Whether emissions peaked by ``peak_year``: each later year against the highest year up to it.

    ``excess_tco2e`` > 0 means the year exceeds the peak reference (the peak milestone is missed).
    """
    before = [v for y, v in actual_by_year.items() if y <= peak_year]
    if not before:
        return pd.DataFrame(columns=["year", "actual_tco2e", "peak_reference_tco2e", "excess_tco2e"])
    ref = max(before)
    rows = [{"year": y, "actual_tco2e": v, "peak_reference_tco2e": ref, "excess_tco2e": v - ref}
            for y, v in sorted(actual_by_year.items()) if y > peak_year]
    return pd.DataFrame(rows, columns=["year", "actual_tco2e", "peak_reference_tco2e", "excess_tco2e"])
