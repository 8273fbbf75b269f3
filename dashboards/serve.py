"""Serve the cockpit: ``serve(db, host, port, data_dir)``.

This runs Flask's built-in (werkzeug) server, threaded, which is fine for ``ems demo`` and for a
single user on one machine. Production runs the same WSGI app (:func:`wsgi_app`) under waitress:
``ems serve`` (ems/service), behind TLS at a reverse proxy.
"""

from __future__ import annotations

from pathlib import Path

from dashboards.app import create_app
from ems.db.connection import Database


def serve(db: Database, host: str = "127.0.0.1", port: int = 8050, *, data_dir: Path | str) -> None:
    """Run the cockpit at http://host:port until interrupted (blocks)."""
    app = create_app(db, data_dir=data_dir)
    app.server.run(host=host, port=port, debug=False, threaded=True, use_reloader=False)


def wsgi_app(db: Database, *, data_dir: Path | str):
    """The cockpit as a WSGI application (for a production WSGI server)."""
    return create_app(db, data_dir=data_dir).server
