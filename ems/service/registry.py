"""The job registry: scheduled work by name.

A job is a plain function ``job(conn) -> rows touched`` (``job(conn, site=CODE)`` for a per-site job) over an
autocommit psycopg connection; it manages its own transactions. It may return an int, an object with
``rows_touched`` / ``rows_written`` / ``rows``, or None. Jobs are referenced by a dotted path
('package.module:function') and imported when they first run, so the registry imports nothing heavy and a
package that is not installed only fails the jobs that need it.

Other packages plug in either by calling :func:`register_job` at import time of a module listed in
:data:`PLUGIN_MODULES` (imported when present), or, without any code here, by naming the function in the
service file (``scheduler.jobs.NAME.function: package.module:function``).
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class JobSpec:
    name: str
    target: str                 # 'package.module:function'
    per_site: bool = False      # called once per configured site, with site=CODE
    description: str = ""

    def resolve(self) -> Callable:
        return resolve(self.target)


_REGISTRY: dict[str, JobSpec] = {}

# Modules that register their jobs (register_job calls at import); imported when they exist.
PLUGIN_MODULES = ("forecasting.jobs", "cms.jobs", "ems.optimize.jobs", "ems.analytics.jobs", "ems.quality.jobs")
_plugins_loaded = False


def register_job(name: str, target: str, *, per_site: bool = False, description: str = "") -> JobSpec:
    """Add (or replace) a job under ``name``; ``target`` is 'package.module:function'."""
    if ":" not in target:
        raise ValueError(f"job target '{target}' is not 'package.module:function'")
    spec = JobSpec(name, target, per_site, description)
    _REGISTRY[name] = spec
    return spec


def resolve(target: str) -> Callable:
    module, _, attr = target.partition(":")
    fn = getattr(importlib.import_module(module), attr, None)
    if not callable(fn):
        raise LookupError(f"'{target}' is not a function")
    return fn


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for name in PLUGIN_MODULES:
        try:
            present = importlib.util.find_spec(name) is not None
        except ModuleNotFoundError:
            present = False
        if present:
            importlib.import_module(name)


def lookup(name: str) -> JobSpec | None:
    _load_plugins()
    return _REGISTRY.get(name)


def registered() -> dict[str, JobSpec]:
    _load_plugins()
    return dict(_REGISTRY)


# The jobs that exist now. Data-quality, forecast, optimiser and inventory jobs register themselves
# (PLUGIN_MODULES) or are named in the service file.
register_job("rollup_refresh", "ems.service.jobs:rollup_refresh",
             description="recompute the roll-up buckets that new, late or corrected readings touched")
register_job("job_run_prune", "ems.service.jobs:job_run_prune",
             description="delete job_run rows older than 90 days")
register_job("noop", "ems.service.jobs:noop", description="does nothing; for checking a deployment's scheduler")
