"""Alarm rules as data: a YAML file of notifiers and rules, validated with pydantic; every error names the
file, the line and the field.

Every rule watches a value over time and has the same condition shape: ``above: X`` (raise when the value
exceeds X) or ``below: X``, an optional ``clear`` level for hysteresis (for ``above``, clear when the value
falls to ``clear`` or lower; defaults to the raise level), ``min_duration`` (the condition must hold this
long before the event is raised) and ``min_clear`` (the clear condition must hold this long before it
ends). Rule types and what they watch:

=====================  ====================================================================================
``threshold``          a point: raw value (instantaneous) or interval quantity (additive), or its
                       ``hour``/``day`` roll-up (``grain``)
``rate_of_change``     a point: |change of value| per hour (instantaneous) or consumption per hour (additive)
``forecast_deviation`` a point: |actual - forecast p50| / |p50| of its champion forecast (table
                       ``forecast_value``; no samples until forecasts exist)
``data_quality``       every point below ``node``: one ``check`` column of ``quality_day`` per local day
``meter_imbalance``    a parent meter: |unaccounted share| per ``hour`` or ``day`` (``quality_balance``)
``enpi``               a node: hourly ``chiller_kw_per_rt`` (roles chiller_plant_energy, cooling_energy) or
                       ``compressor_specific_power`` in kW/(m3/min) (roles air_station_energy, air_volume)
=====================  ====================================================================================
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Annotated, Literal

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ems.errors import UserError, location
from ems.yamlfile import line_map, nearest_line, read_yaml_mapping

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
QUALITY_CHECKS = ("completeness", "stale_intervals", "flatline_h", "frozen_h", "spikes", "out_of_range",
                  "negative", "off_grid", "future")


def _duration(v: str | int | float) -> str:
    try:
        td = pd.Timedelta(v if isinstance(v, str) else f"{v}s")
    except (ValueError, TypeError) as exc:
        raise ValueError(f"'{v}' is not a duration (e.g. 15min, 1h, 0s)") from exc
    if td < pd.Timedelta(0):
        raise ValueError("a duration cannot be negative")
    return str(v)


class Notifier(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    id: str
    type: Literal["webhook", "email"]
    url: str | None = None                       # webhook: POST target (http or https)
    headers: dict[str, str] = Field(default_factory=dict)
    timeout_s: float = 5.0
    smtp_host: str | None = None                 # email
    smtp_port: int = 25
    starttls: bool = False
    username: str | None = None
    password_env: str | None = None              # name of the environment variable holding the password
    sender: str | None = Field(default=None, alias="from")
    to: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _complete(self) -> Notifier:
        if self.type == "webhook" and not (self.url and re.match(r"^https?://", self.url)):
            raise ValueError("@url: a webhook needs an http:// or https:// url")
        if self.type == "email":
            if not self.smtp_host:
                raise ValueError("@smtp_host: an email notifier needs smtp_host")
            if not self.sender:
                raise ValueError("@from: an email notifier needs a from address")
            if not self.to:
                raise ValueError("@to: an email notifier needs at least one recipient")
        return self


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    description: str | None = None
    severity: Literal["info", "warning", "critical"] = "warning"
    enabled: bool = True
    above: float | None = None
    below: float | None = None
    clear: float | None = None
    min_duration: str = "0s"
    min_clear: str = "0s"
    lookback: str = "2D"                        # how far back the first evaluation starts
    notify: list[str] | None = None             # notifier ids; default: defaults.notify

    _dur = field_validator("min_duration", "min_clear", "lookback")(_duration)

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError("rule id may hold letters, digits, '_', '.', '-'")
        return v

    @model_validator(mode="after")
    def _condition(self):
        if (self.above is None) == (self.below is None):
            raise ValueError("@above: give exactly one of 'above' or 'below'")
        if self.clear is not None:
            if self.above is not None and self.clear > self.above:
                raise ValueError("@clear: with 'above', clear must not be higher than above")
            if self.below is not None and self.clear < self.below:
                raise ValueError("@clear: with 'below', clear must not be lower than below")
        return self

    @property
    def direction(self) -> str:
        return "above" if self.above is not None else "below"

    @property
    def on(self) -> float:
        return self.above if self.above is not None else self.below

    @property
    def off(self) -> float:
        return self.clear if self.clear is not None else self.on


class ThresholdRule(_Rule):
    type: Literal["threshold"]
    point: str
    grain: Literal["raw", "hour", "day"] = "raw"


class RateRule(_Rule):
    type: Literal["rate_of_change"]
    point: str


class ForecastRule(_Rule):
    type: Literal["forecast_deviation"]
    point: str


class QualityRule(_Rule):
    type: Literal["data_quality"]
    node: str
    check: Literal[QUALITY_CHECKS]  # type: ignore[valid-type]


class ImbalanceRule(_Rule):
    type: Literal["meter_imbalance"]
    parent: str
    grain: Literal["hour", "day"] = "hour"


class EnpiRule(_Rule):
    type: Literal["enpi"]
    node: str
    indicator: Literal["chiller_kw_per_rt", "compressor_specific_power"]
    min_load: float = 0.0                       # skip hours whose denominator (kW cooling, m3/min) is not above this


Rule = Annotated[ThresholdRule | RateRule | ForecastRule | QualityRule | ImbalanceRule | EnpiRule,
                 Field(discriminator="type")]


class Defaults(BaseModel):
    model_config = ConfigDict(extra="forbid")
    notify: list[str] = Field(default_factory=list)


class RuleFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: Literal[1] = 1
    defaults: Defaults = Field(default_factory=Defaults)
    notifiers: list[Notifier] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)

    def notifiers_of(self, rule: _Rule) -> list[Notifier]:
        by_id = {n.id: n for n in self.notifiers}
        return [by_id[i] for i in (rule.notify if rule.notify is not None else self.defaults.notify)]


def load_rules(path: str | Path) -> RuleFile:
    """Read and validate a rules file."""
    data, lines = read_yaml_mapping(path, "a mapping with 'rules' (and 'notifiers')")
    return validate_rules(data, lines, str(path))


def parse_rules(text: str, file: str) -> RuleFile:
    """Validate rules from YAML text (as stored in ``alarm_rule_set``); ``file`` names it in errors."""
    lines = line_map(text, file)
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise UserError("expected a mapping with 'rules' at the top", where=location(file, 1))
    return validate_rules(data, lines, file)


def validate_rules(data: dict, lines: dict[tuple, int], file: str) -> RuleFile:
    try:
        rules = RuleFile.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(k for k in err["loc"] if not (isinstance(k, str) and k in _TYPE_TAGS))
        msg = err["msg"].removeprefix("Value error, ")
        hint = re.match(r"@(\w+): ", msg)
        if hint:
            loc, msg = loc + (hint.group(1),), msg[hint.end():]
        field = next((str(k) for k in reversed(loc) if isinstance(k, str)), None)
        owner = _owner(data, loc)
        raise UserError(f"{owner}{msg}", where=location(file, nearest_line(lines, loc), field)) from exc
    seen: dict[str, int] = {}
    known = {n.id for n in rules.notifiers}
    for i, n in enumerate(rules.notifiers):
        if n.id in seen:
            raise UserError(f"notifier '{n.id}' is defined twice", where=location(file, lines.get(("notifiers", i)), "id"))
        seen[n.id] = i
    for i, name in enumerate(rules.defaults.notify):
        if name not in known:
            raise UserError(f"unknown notifier '{name}'", where=location(file, lines.get(("defaults", "notify", i)),
                                                                         "notify"))
    seen = {}
    for i, rule in enumerate(rules.rules):
        line = lines.get(("rules", i))
        if rule.id in seen:
            raise UserError(f"rule id '{rule.id}' is used twice (first on line {seen[rule.id]})",
                            where=location(file, line, "id"))
        seen[rule.id] = line
        for j, name in enumerate(rule.notify or []):
            if name not in known:
                raise UserError(f"rule '{rule.id}': unknown notifier '{name}'",
                                where=location(file, lines.get(("rules", i, "notify", j), line), "notify"))
    return rules


_TYPE_TAGS = {"threshold", "rate_of_change", "forecast_deviation", "data_quality", "meter_imbalance", "enpi"}


def _owner(data: dict, loc: tuple) -> str:
    if len(loc) >= 2 and loc[0] in ("rules", "notifiers") and isinstance(loc[1], int):
        try:
            ident = data[loc[0]][loc[1]].get("id")
        except (IndexError, AttributeError, KeyError):
            ident = None
        if ident:
            return f"{loc[0][:-1]} '{ident}': "
    return ""


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
