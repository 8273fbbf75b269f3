"""Schema migrations: ``sql/NNN_name.sql`` applied in order, once, recorded in ``schema_migrations``.

A migration that differs between back-ends comes as two files, ``NNN_name.plain.sql`` and
``NNN_name.timescale.sql``; the runner applies the one for the server's back-end. Each migration
runs in its own transaction under an advisory lock, so two processes starting together apply it once.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"
_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+?)(?:\.(plain|timescale))?\.sql$")
_LOCK_KEY = 0x454D53  # 'EMS'


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def discover(backend: str, sql_dir: Path = SQL_DIR) -> list[Migration]:
    """The migrations for ``backend`` ('plain' or 'timescale'), in version order."""
    found: dict[int, Migration] = {}
    for path in sorted(sql_dir.glob("*.sql")):
        m = _NAME.match(path.name)
        if not m:
            continue
        version, name, variant = int(m.group(1)), m.group(2), m.group(3)
        if variant and variant != backend:
            continue
        if version in found:
            raise RuntimeError(f"two migrations with number {version:03d}: {found[version].path.name}, {path.name}")
        found[version] = Migration(version, name, path)
    return [found[v] for v in sorted(found)]


def apply_migrations(conn: psycopg.Connection, backend: str, sql_dir: Path = SQL_DIR) -> list[str]:
    """Apply pending migrations; return the names applied. ``conn`` must be in autocommit mode."""
    applied: list[str] = []
    conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
    try:
        conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version integer PRIMARY KEY, name text NOT NULL, backend text NOT NULL,
                   checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        for mig in discover(backend, sql_dir):
            if mig.version in done:
                continue
            with conn.transaction():
                conn.execute(mig.path.read_text(encoding="utf-8"))
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, backend, checksum) VALUES (%s, %s, %s, %s)",
                    (mig.version, mig.name, backend, mig.checksum),
                )
            applied.append(mig.path.name)
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return applied
