"""Open the product's database: the server named by EMS_DATABASE_URL, else the embedded one.

``open_database()`` returns a :class:`Database` with a psycopg 3 connection pool and the storage
back-end ('timescale' when the extension is usable with its community licence, else 'plain').
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import psycopg
from psycopg_pool import ConnectionPool

from ems.db.embedded import start_embedded
from ems.db.migrate import apply_migrations
from ems.errors import UserError
from ems.settings import Settings, load_settings

log = logging.getLogger(__name__)


def detect_backend(conn: psycopg.Connection) -> str:
    """'timescale' if TimescaleDB is installed (or installable) with compression available, else 'plain'."""
    row = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
    if row is None:
        avail = conn.execute("SELECT count(*) FROM pg_available_extensions WHERE name = 'timescaledb'").fetchone()
        if not avail[0]:
            return "plain"
        conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    licence = conn.execute("SELECT current_setting('timescaledb.license', true)").fetchone()[0]
    return "plain" if licence == "apache" else "timescale"


@dataclass
class Database:
    url: str
    pool: ConnectionPool
    backend: str = "plain"
    embedded: bool = False
    applied_migrations: list[str] = field(default_factory=list)

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        with self.pool.connection() as conn:
            yield conn

    def close(self) -> None:
        self.pool.close()


def open_database(
    settings: Settings | None = None, *, url: str | None = None, migrate: bool = True, max_size: int = 4
) -> Database:
    """Connect (starting the embedded server if needed), detect the back-end, apply migrations."""
    settings = settings or load_settings()
    url = url or settings.database_url
    embedded = url is None
    if embedded:
        url = start_embedded(settings.pgdata)
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
            backend = detect_backend(conn)
            applied = apply_migrations(conn, backend) if migrate else []
    except psycopg.OperationalError as exc:
        raise UserError(f"cannot connect to the database: {str(exc).strip()}", where=_redact(url)) from exc
    # autocommit: every unit of work that must be atomic says so with conn.transaction(), so a read never
    # leaves a connection idle in a transaction holding locks, and a transaction block is never a savepoint
    pool = ConnectionPool(url, min_size=1, max_size=max_size, open=True, kwargs={"autocommit": True})
    return Database(url=url, pool=pool, backend=backend, embedded=embedded, applied_migrations=applied)


def _redact(url: str) -> str:
    """Hide a password in a URL for messages."""
    import re

    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)
