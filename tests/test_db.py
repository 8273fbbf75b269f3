"""Database layer: migrations applied once, back-end detection, partitions, embedded server life cycle."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from ems.db import open_database
from ems.db.migrate import SQL_DIR, discover


def test_migrations_are_recorded_and_applied_once(db, db_url):
    with db.connection() as conn:
        rows = conn.execute("SELECT version, name, backend FROM schema_migrations ORDER BY version").fetchall()
    assert [r[0] for r in rows] == [m.version for m in discover("plain")]
    assert all(r[2] == "plain" for r in rows)
    again = open_database(url=db_url)
    try:
        assert again.applied_migrations == [] and again.backend == "plain"
    finally:
        again.close()


def test_each_backend_has_one_file_per_version():
    plain = {m.version: m.path.name for m in discover("plain")}
    timescale = {m.version: m.path.name for m in discover("timescale")}
    assert plain.keys() == timescale.keys()
    assert plain[2] == "002_readings.plain.sql" and timescale[2] == "002_readings.timescale.sql"
    text = (SQL_DIR / "002_readings.timescale.sql").read_text()
    for needle in ("create_hypertable", "add_compression_policy", "add_retention_policy"):
        assert needle in text


def test_monthly_partitions_created_on_demand(conn):
    made = conn.execute("SELECT ems_ensure_reading_partitions('2024-12-15', '2025-02-01')").fetchone()[0]
    assert made == 3
    assert conn.execute("SELECT ems_ensure_reading_partitions('2024-12-15', '2025-02-01')").fetchone()[0] == 0
    conn.commit()
    names = {r[0] for r in conn.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'reading'::regclass")}
    assert {"reading_y2024m12", "reading_y2025m01", "reading_y2025m02"} <= names
    with pytest.raises(psycopg.errors.CheckViolation):  # no DEFAULT partition: a row with no partition fails
        conn.execute("INSERT INTO reading (point_id, ts, value) VALUES (1, '1999-01-01', 1)")
    conn.rollback()
    brin = conn.execute("SELECT count(*) FROM pg_indexes WHERE tablename = 'reading_y2025m01' "
                        "AND indexdef LIKE '%%brin%%'").fetchone()[0]
    assert brin == 1


@pytest.mark.skipif(bool(os.environ.get("EMS_TEST_DATABASE_URL")), reason="embedded server only")
def test_embedded_server_survives_a_killed_previous_run(tmp_path):
    """Kill -9 the embedded server, leave its pid file behind: the next command starts it again."""
    data = Path("/tmp") / f"ems-crash-{os.getpid()}"
    env = {**os.environ, "EMS_DATA_DIR": str(data)}
    env.pop("EMS_DATABASE_URL", None)
    try:
        out = subprocess.run([sys.executable, "-m", "ems.cli.main", "db", "init"], env=env, capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        assert "back-end plain" in out.stdout
        # start it again and keep it running in a child process, then kill the server hard
        holder = subprocess.Popen([sys.executable, "-c",
                                   "from ems.db import open_database; import time; db = open_database(); "
                                   "print('up', flush=True); time.sleep(60)"], env=env, stdout=subprocess.PIPE, text=True)
        assert holder.stdout.readline().strip() == "up"
        pid = int((data / "pgdata" / "postmaster.pid").read_text().splitlines()[0])
        os.kill(pid, signal.SIGKILL)
        holder.kill()
        holder.wait()
        time.sleep(0.5)
        assert (data / "pgdata" / "postmaster.pid").exists()  # stale
        out = subprocess.run([sys.executable, "-m", "ems.cli.main", "db", "status"], env=env, capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        assert "migration 001 core" in out.stdout
    finally:
        subprocess.run([sys.executable, "-m", "ems.cli.main", "db", "stop"], env=env, capture_output=True, timeout=60)
        subprocess.run(["rm", "-rf", str(data)])
