"""``ems serve``: one process running live ingestion, the scheduler and the cockpit, or one role of them.

Roles: ``all`` (everything this configuration has), ``web`` (cockpit), ``worker`` (scheduler), ``ingest``
(live connectors). Every role answers ``/healthz`` and ``/readyz`` on its port.

Shutdown (SIGTERM, SIGINT, or :meth:`Service.request_stop`): readiness turns 503 at once; the web server
stops accepting and finishes requests in flight; the scheduler stops firing, lets running jobs end (their
retries are cut short) and releases its lock; ingestion stops its connectors and flushes its buffer to the
database (what cannot be written in ``buffer.drain_timeout_s`` stays on disk for the next start); then the
database pool closes. A second signal while stopping exits at once with status 1.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time
from pathlib import Path

from ems.db.connection import Database, open_database
from ems.errors import UserError
from ems.service.config import ServiceConfig
from ems.service.web import HealthMiddleware, WebServer, readiness
from ems.settings import load_settings

log = logging.getLogger(__name__)
ROLES = ("all", "web", "worker", "ingest")


class IngestRunner:
    """The live ingestion service (``ems.connectors``) in its own thread with its own event loop."""

    def __init__(self, config_file: Path, db: Database):
        from ems.connectors.config import load_connectors_file
        from ems.connectors.service import LiveService

        cfg = load_connectors_file(config_file)
        with db.connection() as conn:
            if conn.execute("SELECT 1 FROM node WHERE code = %s", (cfg.site,)).fetchone() is None:
                raise UserError(f"site '{cfg.site}' is not in the asset model (load it: ems config load FILE)",
                                where=str(config_file))
        self.service = LiveService(cfg, db.url, base_dir=config_file.parent)
        self._thread = threading.Thread(target=self._run, name="ingest", daemon=True)
        self.error: str | None = None

    def _run(self) -> None:
        try:
            asyncio.run(self.service.run())
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            log.exception("ingestion stopped with an error")

    def start(self) -> None:
        self._thread.start()
        while self.service._stop is None and self._thread.is_alive():   # run() has set up its loop
            time.sleep(0.01)
        log.info("ingestion running: %d connector(s) for site %s", len(self.service.connectors),
                 self.service.cfg.site, extra={"event": "ingest_started", "site": self.service.cfg.site})

    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self.service.request_stop()
        self._thread.join(self.service.cfg.buffer.drain_timeout_s + 15)
        s = self.service.forwarder.stats
        log.info("ingestion stopped: received %d, stored %d, left in buffer %d", s.received, s.written,
                 self.service.left_in_buffer,
                 extra={"event": "ingest_stopped", "received": s.received, "stored": s.written,
                        "duplicates": s.duplicates, "quarantined": s.quarantined,
                        "left_in_buffer": self.service.left_in_buffer})

    def health(self) -> dict:
        s = self.service.forwarder.stats
        return {"state": "running" if self.alive() else "stopped", "received": s.received, "stored": s.written,
                "db_failures": s.db_failures, "error": self.error}


class Service:
    def __init__(self, cfg: ServiceConfig, *, role: str | None = None, host: str | None = None,
                 port: int | None = None, data_dir: Path | None = None):
        self.cfg = cfg
        self.role = role or cfg.role
        if self.role not in ROLES:
            raise UserError(f"role must be one of {', '.join(ROLES)}", where="--role")
        self.host = host or cfg.web.host
        self.port = cfg.web.port if port is None else port
        self.data_dir = data_dir or load_settings().data_dir
        self.db: Database | None = None
        self.scheduler = None
        self.ingest: IngestRunner | None = None
        self.web: WebServer | None = None
        self.stopping = threading.Event()
        self._stopped = threading.Event()
        self.started_at: float | None = None

    # components by role
    @property
    def runs_scheduler(self) -> bool:
        return self.role in ("all", "worker") and self.cfg.scheduler.enabled

    @property
    def runs_web(self) -> bool:
        return self.role in ("all", "web")

    def start(self) -> None:
        ingest_file = self.cfg.ingest_path()
        if self.role == "ingest" and ingest_file is None:
            raise UserError("role 'ingest' needs a connectors file: set ingest.config in the service file "
                            "(or EMS_SERVE__INGEST__CONFIG)", where=self.cfg.file or "--role")
        if ingest_file is not None and not ingest_file.exists() and self.role in ("all", "ingest"):
            raise UserError(f"connectors file {ingest_file} does not exist", where=f"{self.cfg.file}, field 'config'")
        pool = self.cfg.web.threads + self.cfg.scheduler.workers + 4
        self.db = open_database(max_size=pool)
        log.info("database ready: back-end %s%s", self.db.backend, " (embedded)" if self.db.embedded else "",
                 extra={"event": "database_ready", "backend": self.db.backend,
                        "migrations_applied": self.db.applied_migrations})
        try:
            if self.role in ("all", "ingest") and ingest_file is not None:
                self.ingest = IngestRunner(ingest_file, self.db)
                self.ingest.start()
            if self.runs_scheduler:
                from ems.service.scheduler import JobScheduler

                self.scheduler = JobScheduler(self.db, self.cfg)
                self.scheduler.start()
            app = None
            if self.runs_web:
                from dashboards.serve import wsgi_app

                app = wsgi_app(self.db, data_dir=self.data_dir)
            self.web = WebServer(HealthMiddleware(app, self.health, self.ready), self.host, self.port,
                                 self.cfg.web.threads)
            self.port = self.web.port
            self.web.start()
        except BaseException:
            self.stop()
            raise
        self.started_at = time.time()
        log.info("service started: role %s, http://%s:%d", self.role, self.host, self.port,
                 extra={"event": "service_started", "role": self.role, "port": self.port,
                        "components": self.components()})

    def components(self) -> list[str]:
        return [n for n, c in (("web" if self.runs_web else "health", self.web), ("scheduler", self.scheduler),
                               ("ingest", self.ingest)) if c is not None]

    # health
    def health(self) -> tuple[bool, dict]:
        detail: dict = {"role": self.role, "pid": os.getpid(),
                        "uptime_s": round(time.time() - self.started_at, 1) if self.started_at else 0.0}
        ok = True
        if self.scheduler is not None:
            detail["scheduler"] = self.scheduler.health()
            ok &= self.scheduler.state in ("running", "standby") or self.stopping.is_set()
        if self.ingest is not None:
            detail["ingest"] = self.ingest.health()
            ok &= self.ingest.alive() or self.stopping.is_set()
        return bool(ok), detail

    def ready(self) -> tuple[bool, dict]:
        if self.stopping.is_set():
            return False, {"role": self.role, "reason": "shutting down"}
        assert self.db is not None
        ok, detail = readiness(self.db)
        return ok, {"role": self.role, **detail}

    # running and stopping
    def request_stop(self, *_args) -> None:
        """Thread- and signal-safe."""
        if self.stopping.is_set() and _args:      # a second signal: give up waiting
            os._exit(1)
        self.stopping.set()

    def run(self, duration: float | None = None) -> int:
        """Start, wait for a signal (or ``duration`` seconds), stop cleanly. Exit status."""
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, self.request_stop)
        self.start()
        self.stopping.wait(duration)
        log.info("stopping", extra={"event": "service_stopping"})
        return self.stop()

    def stop(self) -> int:
        """Stop every component in order; 0, or 4 when ingestion left items in its buffer."""
        self.stopping.set()
        if self._stopped.is_set():
            return 0
        self._stopped.set()
        left = 0
        if self.web is not None:
            self.web.stop()
        if self.scheduler is not None:
            self.scheduler.stop()
        if self.ingest is not None:
            self.ingest.stop()
            left = self.ingest.service.left_in_buffer
        if self.db is not None:
            self.db.close()
        log.info("service stopped", extra={"event": "service_stopped", "left_in_buffer": left})
        return 4 if left else 0
