"""``ems db``: create or upgrade the database, show its status, stop the embedded server."""

from __future__ import annotations

from ems.cli.common import database
from ems.settings import load_settings


def register(sub) -> None:
    p = sub.add_parser("db", help="database: init, status, stop, backup, restore")
    dsub = p.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    init = dsub.add_parser("init", help="start the embedded server if needed and apply migrations")
    init.set_defaults(handler=cmd_init)
    status = dsub.add_parser("status", help="server, back-end, migrations and row counts")
    status.set_defaults(handler=cmd_status)
    stop = dsub.add_parser("stop", help="stop the embedded server (no-op with EMS_DATABASE_URL)")
    stop.set_defaults(handler=cmd_stop)
    from ems.cli.serve_cmd import add_db_actions  # backup, restore

    add_db_actions(dsub)


def cmd_init(args) -> int:
    with database() as db:
        with db.connection() as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]
        where = f"embedded PostgreSQL {version} in {load_settings().pgdata}" if db.embedded else f"PostgreSQL {version}"
        print(f"database ready: {where}; back-end {db.backend}")
        print("migrations applied now: " + (", ".join(db.applied_migrations) or "none (up to date)"))
    return 0


def cmd_status(args) -> int:
    with database() as db, db.connection() as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
        migs = conn.execute("SELECT version, name, applied_at FROM schema_migrations ORDER BY version").fetchall()
        counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # fixed table names, no user input
                  for t in ("node", "point", "reading", "quarantine", "ingest_batch")}
        print(f"server: PostgreSQL {version} ({'embedded' if db.embedded else 'external'}), back-end {db.backend}")
        for v, name, at in migs:
            print(f"migration {v:03d} {name} applied {at:%Y-%m-%d %H:%M:%S}")
        print("rows: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


def cmd_stop(args) -> int:
    from ems.db.embedded import stop_embedded

    settings = load_settings()
    if settings.database_url:
        print("EMS_DATABASE_URL is set; nothing to stop")
        return 0
    print("stopped" if stop_embedded(settings.pgdata) else "not running")
    return 0
