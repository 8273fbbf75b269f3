"""The service configuration: one YAML file plus environment variables, validated at start.

File (every section optional; see docker/service.yaml and docs/deployment.md)::

    version: 1
    role: all                       # all | web | worker | ingest
    web: {host: 0.0.0.0, port: 8050, threads: 8}
    ingest: {config: connectors.yaml}       # a connectors file (ems ingest serve); relative to this file
    logging: {level: INFO, format: json}    # json | text
    scheduler:
      timezone: UTC
      misfire_grace_s: 3600          # a run later than this is dropped (recorded 'missed')
      alarm_after_failures: 3        # consecutive failed runs that raise a job_alarm
      retry: {attempts: 3, backoff_s: 30, factor: 2, max_backoff_s: 600}
      jobs:                          # group-wide jobs (and defaults of per-site jobs)
        rollup_refresh: {every: 5min}
      sites:
        PLANT-A:
          timezone: Asia/Shanghai    # cron schedules of this site run on its clock
          jobs:
            forecast_2h: {cron: "*/15 * * * *"}

Environment variables override the file: ``EMS_SERVE__<SECTION>__<KEY>=value`` (any depth, case
insensitive, the value read as a YAML scalar), e.g. ``EMS_SERVE__WEB__PORT=9000``. The database and the data
folder stay where the rest of the product takes them from: ``EMS_DATABASE_URL`` and ``EMS_DATA_DIR``.
Every error names the file and line (or the variable) and the field.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ems.errors import UserError, location
from ems.yamlfile import nearest_line, read_yaml_mapping

ENV_PREFIX = "EMS_SERVE__"
_EVERY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|min|h|d)\s*$")
_UNIT_S = {"s": 1, "sec": 1, "min": 60, "h": 3600, "d": 86400}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def parse_every(text: str) -> timedelta:
    """'90s', '5min', '1h', '1d' -> timedelta (> 0)."""
    m = _EVERY.match(str(text))
    if not m or float(m.group(1)) <= 0:
        raise ValueError(f"'{text}' is not an interval such as 30s, 5min, 1h, 1d")
    return timedelta(seconds=float(m.group(1)) * _UNIT_S[m.group(2)])


def _check_tz(v: str | None) -> str | None:
    if v is None:
        return v
    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"'{v}' is not an IANA time zone (e.g. Asia/Shanghai)") from exc
    return v


class Retry(_Strict):
    attempts: int = Field(3, ge=1, le=20)           # attempts per run, the first included
    backoff_s: float = Field(30.0, ge=0)            # wait before the 2nd attempt
    factor: float = Field(2.0, ge=1)                # each further wait is this much longer
    max_backoff_s: float = Field(600.0, ge=0)

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based)."""
        return min(self.backoff_s * self.factor ** (attempt - 1), self.max_backoff_s)


class JobSchedule(_Strict):
    every: str | None = None                        # interval: 30s, 5min, 1h, 1d
    cron: str | None = None                         # crontab: minute hour day month day-of-week
    enabled: bool = True
    function: str | None = None                     # 'package.module:function' for a job not in the registry
    retry: Retry | None = None                      # overrides scheduler.retry for this job
    misfire_grace_s: float | None = Field(None, gt=0)

    @field_validator("every")
    @classmethod
    def _every(cls, v):
        if v is not None:
            parse_every(v)
        return v

    @field_validator("cron")
    @classmethod
    def _cron(cls, v):
        if v is not None:
            from apscheduler.triggers.cron import CronTrigger

            try:
                CronTrigger.from_crontab(v, timezone="UTC")
            except ValueError as exc:
                raise ValueError(f"'{v}' is not a crontab expression (minute hour day month day-of-week): {exc}") from exc
        return v

    @field_validator("function")
    @classmethod
    def _function(cls, v):
        if v is not None and not re.match(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$", v):
            raise ValueError(f"'{v}' is not 'package.module:function'")
        return v

    @model_validator(mode="after")
    def _one_trigger(self) -> JobSchedule:
        if self.enabled and (self.every is None) == (self.cron is None):
            raise ValueError("give exactly one of 'every' or 'cron'")
        return self


class SiteSchedule(_Strict):
    timezone: str | None = None
    jobs: dict[str, JobSchedule] = Field(default_factory=dict)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v):
        return _check_tz(v)


class SchedulerSettings(_Strict):
    enabled: bool = True
    timezone: str = "UTC"
    misfire_grace_s: float = Field(3600.0, gt=0)
    alarm_after_failures: int = Field(3, ge=1)
    retry: Retry = Field(default_factory=Retry)
    workers: int = Field(4, ge=1, le=64)            # thread pool of the scheduler
    standby_poll_s: float = Field(10.0, gt=0)       # a second worker waits this long between lock tries
    jobs: dict[str, JobSchedule] = Field(default_factory=lambda: {
        "rollup_refresh": JobSchedule(every="5min"), "data_quality": JobSchedule(every="15min"),
        "alarms": JobSchedule(every="5min"), "forecast_run": JobSchedule(every="15min"),
        "chw_recommend": JobSchedule(cron="2-59/15 * * * *"), "recommendation_expiry": JobSchedule(every="15min"),
        "forecast_retrain": JobSchedule(cron="0 1 * * 0"), "inventory_drafts": JobSchedule(cron="30 2 * * *"),
        "factor_restatements": JobSchedule(cron="45 2 * * *"), "job_run_prune": JobSchedule(cron="17 3 * * *")})
    sites: dict[str, SiteSchedule] = Field(default_factory=dict)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v):
        return _check_tz(v)


class WebSettings(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(8050, ge=0, le=65535)         # 0: any free port (tests)
    threads: int = Field(8, ge=1, le=256)


class IngestSettings(_Strict):
    config: str | None = None                       # connectors YAML; None: no live ingestion


class LoggingSettings(_Strict):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["json", "text"] = "json"

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, v):
        return v.upper() if isinstance(v, str) else v


class ServiceConfig(_Strict):
    version: Literal[1] = 1
    role: Literal["all", "web", "worker", "ingest"] = "all"
    web: WebSettings = Field(default_factory=WebSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    file: str | None = Field(None, exclude=True)    # where it came from (set by the loader)

    def ingest_path(self) -> Path | None:
        """The connectors file, relative paths taken from the service file's folder."""
        if not self.ingest.config:
            return None
        p = Path(self.ingest.config).expanduser()
        if not p.is_absolute() and self.file:
            p = Path(self.file).resolve().parent / p
        return p


def env_overrides(environ: dict[str, str] | None = None) -> dict[tuple[str, ...], tuple[str, object]]:
    """{path: (variable, value)} of the ``EMS_SERVE__...`` variables."""
    environ = os.environ if environ is None else environ
    out: dict[tuple[str, ...], tuple[str, object]] = {}
    for name, raw in environ.items():
        if not name.upper().startswith(ENV_PREFIX) or len(name) == len(ENV_PREFIX):
            continue
        path = tuple(part.lower() for part in name[len(ENV_PREFIX):].split("__") if part)
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            value = raw
        out[path] = (name, value)
    return out


def _set(data: dict, path: tuple[str, ...], value: object, var: str) -> None:
    cur = data
    for key in path[:-1]:
        nxt = cur.get(key)
        if nxt is None:
            nxt = cur[key] = {}
        if not isinstance(nxt, dict):
            raise UserError(f"cannot set '{'.'.join(path)}': '{key}' is not a section", where=f"environment {var}")
        cur = nxt
    cur[path[-1]] = value


def load_service_config(path: str | Path | None = None, environ: dict[str, str] | None = None) -> ServiceConfig:
    """Read the file (or defaults when ``path`` is None), apply environment overrides, validate."""
    file = str(path) if path else None
    data, lines = (read_yaml_mapping(path, "a mapping of service settings") if path else ({}, {}))
    overrides = env_overrides(environ)
    for p, (var, value) in overrides.items():
        _set(data, p, value, var)
    try:
        cfg = ServiceConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        field = next((str(k) for k in reversed(loc) if isinstance(k, str)), None)
        extra = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        var = next((v for p, (v, _) in overrides.items() if loc[:len(p)] == p), None)
        where = f"environment {var}, field '{field}'" if var else location(
            file or "service settings", nearest_line(lines, loc) if file else None, field)
        raise UserError(msg + extra, where=where) from exc
    cfg.file = file
    _check_jobs(cfg, lines, file)
    return cfg


def _check_jobs(cfg: ServiceConfig, lines: dict, file: str | None) -> None:
    """Every scheduled job is known (registry or 'function'); group-wide jobs are not scheduled per site."""
    from ems.service.registry import lookup

    def where(path: tuple) -> str:
        return location(file or "service settings", nearest_line(lines, path) if file else None, path[-1])

    for name, sched in cfg.scheduler.jobs.items():
        if sched.function is None and lookup(name) is None:
            raise UserError(f"unknown job '{name}' (known: {_known()}; or give 'function: module:callable')",
                            where=where(("scheduler", "jobs", name)))
    for site, s in cfg.scheduler.sites.items():
        for name, sched in s.jobs.items():
            spec = lookup(name)
            if spec is None and sched.function is None and name not in cfg.scheduler.jobs:
                raise UserError(f"unknown job '{name}' (known: {_known()})",
                                where=where(("scheduler", "sites", site, "jobs", name)))
            if spec is not None and not spec.per_site:
                raise UserError(f"job '{name}' covers every site at once; schedule it under scheduler.jobs",
                                where=where(("scheduler", "sites", site, "jobs", name)))


def _known() -> str:
    from ems.service.registry import registered

    return ", ".join(sorted(registered()))
