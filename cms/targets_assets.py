"""Reduction projects and carbon assets (offset credits) as plain data models and pure functions.

Projects: status, expected and realised savings (in an energy unit, e.g. MWh, from the analytics
baselines later) and tCO2e avoided (given, or savings x a factor in tCO2e per unit taken from the factor
library by the caller).

Offsets (CCER, VER, ...): lots bought and held, retirements against one plant and year. They form a
separate ledger and are never netted inside Scope 1 or 2: they are used only for the neutralisation side
of the zero-carbon ledger (``cms.zerocarbon``) and the *net* columns of the target gap (``cms.targets``).
"""

from __future__ import annotations

import math
from datetime import date
from typing import Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from ems.errors import UserError

ProjectStatus = Literal["proposed", "approved", "in_progress", "completed", "cancelled"]
OffsetStandard = Literal["CCER", "VER", "GS", "VCS", "other"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Project(_Strict):
    id: str
    node: str
    name: str
    status: ProjectStatus = "proposed"
    medium: str = "electricity"
    unit: str = "MWh"
    expected_saving: float | None = Field(default=None, ge=0)      # per year, in ``unit``
    realised_saving: float | None = None                         # measured (may be negative)
    factor_tco2e_per_unit: float | None = Field(default=None, ge=0)
    expected_tco2e: float | None = None                          # given directly; else saving x factor
    realised_tco2e: float | None = None
    start: date | None = None
    end: date | None = None


def avoided_tco2e(p: Project) -> tuple[float | None, float | None]:
    """(expected, realised) tCO2e avoided per year; a given figure wins over saving x factor."""
    def one(given, saving):
        if given is not None:
            return float(given)
        if saving is not None and p.factor_tco2e_per_unit is not None:
            return saving * p.factor_tco2e_per_unit
        return None
    return one(p.expected_tco2e, p.expected_saving), one(p.realised_tco2e, p.realised_saving)


def projects_summary(projects: list[Project]) -> pd.DataFrame:
    """Totals per node and status: count, expected and realised tCO2e avoided (cancelled ones included)."""
    rows = []
    for p in projects:
        exp, real = avoided_tco2e(p)
        rows.append({"node": p.node, "status": p.status, "expected_tco2e": exp, "realised_tco2e": real})
    frame = pd.DataFrame(rows, columns=["node", "status", "expected_tco2e", "realised_tco2e"])
    return (frame.groupby(["node", "status"], as_index=False)
            .agg(projects=("status", "size"), expected_tco2e=("expected_tco2e", "sum"),
                 realised_tco2e=("realised_tco2e", "sum")))


class OffsetLot(_Strict):
    id: str
    standard: OffsetStandard
    quantity_tco2e: float = Field(gt=0)
    vintage: int = Field(ge=2000, le=2100)
    project: str | None = None
    registry: str | None = None
    serial: str | None = None
    bought_on: date | None = None
    price_cny_per_t: float | None = Field(default=None, ge=0)


class Retirement(_Strict):
    lot_id: str
    plant: str
    year: int = Field(ge=1990, le=2100)
    quantity_tco2e: float = Field(gt=0)
    retired_on: date | None = None
    serial: str | None = None
    note: str | None = None


def offset_ledger(lots: list[OffsetLot], retirements: list[Retirement]) -> pd.DataFrame:
    """Per lot: bought, retired and held tCO2e. Raises UserError for an unknown lot or over-retirement."""
    by_id = {lot.id: lot for lot in lots}
    retired: dict[str, list[float]] = {lot.id: [] for lot in lots}
    for r in retirements:
        if r.lot_id not in by_id:
            raise UserError(f"retirement against unknown offset lot '{r.lot_id}'", where="lot_id")
        retired[r.lot_id].append(r.quantity_tco2e)
    rows = []
    for lot in lots:
        done = math.fsum(retired[lot.id])
        if done > lot.quantity_tco2e + 1e-9:
            raise UserError(f"offset lot '{lot.id}': {done:,.3f} tCO2e retired but only "
                            f"{lot.quantity_tco2e:,.3f} bought", where="quantity_tco2e")
        rows.append({"lot": lot.id, "standard": lot.standard, "vintage": lot.vintage,
                     "bought_tco2e": lot.quantity_tco2e, "retired_tco2e": done,
                     "held_tco2e": lot.quantity_tco2e - done})
    return pd.DataFrame(rows, columns=["lot", "standard", "vintage", "bought_tco2e", "retired_tco2e", "held_tco2e"])


def retired_for(retirements: list[Retirement], plant: str, year: int) -> float:
    """tCO2e retired against one plant and year (the zero-carbon record's offsets_retired_tco2e)."""
    return math.fsum(r.quantity_tco2e for r in retirements if r.plant == plant and r.year == year)


def retired_frame(retirements: list[Retirement]) -> pd.DataFrame:
    """plant, year, tco2e: the ``offsets`` argument of ``cms.targets.gaps``."""
    frame = pd.DataFrame([{"plant": r.plant, "year": r.year, "tco2e": r.quantity_tco2e} for r in retirements],
                         columns=["plant", "year", "tco2e"])
    return frame.groupby(["plant", "year"], as_index=False)["tco2e"].sum()
