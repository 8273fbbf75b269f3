"""HTTP side of the service: ``/healthz`` and ``/readyz`` in front of the cockpit, served by waitress.

* ``/healthz`` (liveness): 200 while every component of this process is alive (the scheduler running or
  standing by, the ingestion thread alive); 503 otherwise. It does not touch the database, so a database
  outage does not get the process restarted by an orchestrator.
* ``/readyz`` (readiness): 200 when the database answers within 2 s and every migration this code knows is
  applied, and the service is not shutting down; 503 with the reason otherwise.

Both answer JSON and are outside the cockpit's log-in gate. Every role serves them; the web role (and
``all``) also serves the cockpit on the same port.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable

from ems.db.connection import Database
from ems.db.migrate import discover

log = logging.getLogger(__name__)


def readiness(db: Database) -> tuple[bool, dict]:
    """(ready, detail): the database answers and is migrated to this code's schema."""
    try:
        with db.pool.connection(timeout=2.0) as conn:
            conn.execute("SET statement_timeout = 2000")
            applied = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
            conn.execute("RESET statement_timeout")
    except Exception as exc:
        return False, {"database": "unreachable", "error": f"{type(exc).__name__}: {exc}".strip()[:300]}
    known = {m.version for m in discover(db.backend)}
    missing = sorted(known - applied)
    detail = {"database": "ok", "backend": db.backend, "schema_version": max(applied) if applied else None}
    if missing:
        detail["missing_migrations"] = missing
        return False, detail
    return True, detail


class HealthMiddleware:
    """WSGI app answering the health endpoints and passing everything else to ``app`` (or 404)."""

    def __init__(self, app: Callable | None, health: Callable[[], tuple[bool, dict]],
                 ready: Callable[[], tuple[bool, dict]]):
        self.app, self.health, self.ready = app, health, ready

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path in ("/healthz", "/readyz"):
            ok, detail = (self.health if path == "/healthz" else self.ready)()
            body = json.dumps({"status": "ok" if ok else "fail", **detail}, default=str).encode()
            start_response("200 OK" if ok else "503 Service Unavailable",
                           [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                            ("Cache-Control", "no-store")])
            return [body]
        if self.app is None:
            body = b'{"error": "not found: this process has no cockpit (role worker/ingest)"}'
            start_response("404 Not Found", [("Content-Type", "application/json"),
                                             ("Content-Length", str(len(body)))])
            return [body]
        return self.app(environ, start_response)


class WebServer:
    """waitress in a background thread; :meth:`stop` stops accepting and waits for requests in flight."""

    def __init__(self, app, host: str, port: int, threads: int = 8):
        from waitress.server import create_server

        self.server = create_server(app, host=host, port=port, threads=threads, ident="carbon-cockpit",
                                    clear_untrusted_proxy_headers=True, channel_timeout=60)
        self.host = host
        self.port = int(self.server.effective_port)
        self._thread = threading.Thread(target=self._run, name="waitress", daemon=True)

    def _run(self) -> None:
        try:
            self.server.run()
        except OSError:   # the socket closed under select() while stopping
            pass

    def start(self) -> None:
        self._thread.start()
        log.info("serving on http://%s:%d", self.host, self.port,
                 extra={"event": "web_started", "host": self.host, "port": self.port})

    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop accepting, let requests in flight finish (up to ``timeout``), close every connection."""
        from waitress import wasyncore

        srv = self.server
        if self._thread.is_alive():
            srv.trigger.pull_trigger(lambda: wasyncore.dispatcher.close(srv))   # stop accepting (loop thread)
            srv.task_dispatcher.shutdown(cancel_pending=False, timeout=timeout)
            srv.trigger.pull_trigger(lambda: wasyncore.close_all(srv._map, ignore_all=True))
            self._thread.join(timeout)
        else:
            srv.close()
        log.info("web server stopped", extra={"event": "web_stopped"})
