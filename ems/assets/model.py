"""The plant description (YAML) as pydantic models, with cross-checks.

A file holds a tree of nodes (levels are data: group, company, park, site, plant, workshop, line,
equipment ...). Each node may list its points. Time zone, grid region, ownership share and control
flags are inherited down the tree when a node does not set them.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ems.units import parse_unit

Medium = Literal[
    "electricity", "water", "natural_gas", "steam", "heat", "compressed_air", "chilled_water",
    "diesel", "gasoline", "lpg", "coal", "refrigerant", "production", "weather", "none",
]
Quantity = Literal[
    "energy", "volume", "mass", "power", "flow", "temperature", "humidity", "pressure", "status",
    "count", "irradiance", "speed", "frequency", "current", "voltage", "ratio", "dew_point",
]
Kind = Literal["cumulative", "interval", "instantaneous"]

# The pint dimensionality a quantity's unit must have.
_DIMENSION_OF = {
    "energy": "kWh", "volume": "m**3", "mass": "kg", "power": "kW", "temperature": "degC",
    "dew_point": "degC", "pressure": "kPa", "irradiance": "W/m**2", "speed": "m/s", "frequency": "Hz",
    "current": "A", "voltage": "V",
}
_ADDITIVE = {"energy", "volume", "mass", "count"}
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


class Names(BaseModel):
    model_config = ConfigDict(extra="forbid")
    zh: str | None = None
    en: str | None = None


# Errors found across fields start with '@field:' so the loader can point at that field's line.


class PointSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str
    name: Names = Field(default_factory=Names)
    medium: Medium
    quantity: Quantity
    unit: str
    kind: Kind
    interval: str | None = None          # expected sampling interval, e.g. '1min', '15min'
    parent: str | None = None            # parent meter (point code) for meter-tree balance
    formula: str | None = None           # virtual meter over other point codes, e.g. "MAIN.kWh - CH1.kWh"
    min: float | None = None
    max: float | None = None
    max_rate_per_h: float | None = None  # plausible increase per hour, canonical unit per hour
    register_max: float | None = None    # cumulative register wraps to 0 after this
    tags: dict[str, str | int | float | bool] = Field(default_factory=dict)

    @field_validator("code")
    @classmethod
    def _code(cls, v: str) -> str:
        if not _CODE.match(v):
            raise ValueError(f"'{v}' is not a valid code (letters, digits, '_', '.', '-')")
        return v

    @field_validator("unit")
    @classmethod
    def _unit(cls, v: str) -> str:
        parse_unit(v)  # raises ValueError("unknown unit ...")
        return v.strip()

    @field_validator("interval")
    @classmethod
    def _interval(cls, v: str | None) -> str | None:
        if v is None:
            return v
        try:
            td = pd.Timedelta(v)
        except ValueError as exc:
            raise ValueError(f"'{v}' is not a duration such as '15min'") from exc
        if td <= pd.Timedelta(0):
            raise ValueError("interval must be positive")
        return v

    @property
    def interval_s(self) -> int | None:
        return int(pd.Timedelta(self.interval).total_seconds()) if self.interval else None

    @model_validator(mode="after")
    def _consistent(self) -> PointSpec:
        dim = _DIMENSION_OF.get(self.quantity)
        if dim and parse_unit(self.unit).dimensionality != parse_unit(dim).dimensionality:
            raise ValueError(f"@unit: unit '{self.unit}' does not measure {self.quantity}")
        if self.kind != "instantaneous" and self.quantity not in _ADDITIVE:
            raise ValueError(f"@kind: kind '{self.kind}' needs an additive quantity (energy, volume, mass, count)")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("@max: min is greater than max")
        if self.register_max is not None and self.kind != "cumulative":
            raise ValueError("@register_max: register_max applies only to cumulative points")
        return self


class TariffRef(BaseModel):
    """The electricity tariff of a site from a date on (its id; the version follows the tariff's dates)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    tariff: str
    valid_from: dt.date = Field(alias="from")


class NodeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str
    level: str
    name: Names = Field(default_factory=Names)
    timezone: str | None = None
    grid_region: str | None = None
    ownership_share: float | None = Field(default=None, ge=0, le=1)
    operational_control: bool | None = None
    financial_control: bool | None = None
    attrs: dict[str, str | int | float | bool | None] = Field(default_factory=dict)
    tariffs: list[TariffRef] = Field(default_factory=list)   # sites: electricity tariff assignments
    points: list[PointSpec] = Field(default_factory=list)
    children: list[NodeSpec] = Field(default_factory=list)

    @field_validator("code")
    @classmethod
    def _code(cls, v: str) -> str:
        if not _CODE.match(v):
            raise ValueError(f"'{v}' is not a valid code (letters, digits, '_', '.', '-')")
        return v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str | None) -> str | None:
        if v is None:
            return v
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"'{v}' is not an IANA time zone such as 'Asia/Shanghai'") from exc
        return v


class PlantFile(BaseModel):
    """Top level of a plant YAML file."""

    model_config = ConfigDict(extra="forbid")
    version: Literal[1] = 1
    nodes: list[NodeSpec]
