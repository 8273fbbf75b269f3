"""``ems db backup`` / ``ems db restore`` against the real server (embedded PostgreSQL 18; with
EMS_TEST_DATABASE_URL the PostgreSQL 15 service), with the pg_dump / pg_restore of the server's major version."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from ems.service.backup import find_tool

DATA = Path(__file__).parent / "data"


def load_group(ems, tmp_path) -> None:
    assert ems("config", "load", DATA / "plant_small.yaml")[0] == 0
    csv = tmp_path / "pa.csv"
    rows = ["Timestamp,PA.MAIN.kWh,PA.CH1.kWh"]
    for i in range(97):
        t = f"2025-01-15 {(i * 15) // 60:02d}:{(i * 15) % 60:02d}:00" if i < 96 else "2025-01-16 00:00:00"
        rows.append(f"{t},{1000 + 100 * i},{500 + 30 * i}")
    csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    code, _, err = ems("ingest", "csv", csv, "--site", "PA")
    assert code == 0, err
    assert ems("rollup", "refresh")[0] == 0
    assert ems("jobs", "run", "noop")[0] == 0


def fingerprint(url: str) -> dict:
    with psycopg.connect(url) as conn:
        q = {
            "reading": "SELECT count(*), md5(string_agg(point_id || '@' || ts || '=' || coalesce(value::text, '-') "
                       "|| '/' || coalesce(delta::text, '-'), ',' ORDER BY point_id, ts)) FROM reading",
            "node": "SELECT count(*), md5(string_agg(code || level || timezone, ',' ORDER BY code)) FROM node",
            "rollup_point": "SELECT count(*), round(sum(sum_delta)::numeric, 6) FROM rollup_point",
            "schema": "SELECT max(version), count(*) FROM schema_migrations",
            "job_run": "SELECT count(*) FROM job_run",
        }
        return {k: conn.execute(v).fetchone() for k, v in q.items()}


@pytest.fixture
def empty_db(pg_server):
    name = f"ems_restore_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield make_conninfo(pg_server, dbname=name)
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_tools_match_the_server_major(db_url):
    with psycopg.connect(db_url) as conn:
        major = conn.info.server_version // 10000
    for name in ("pg_dump", "pg_restore"):
        tool = find_tool(name, major)
        assert tool.major == major and tool.path.name == name


def test_backup_then_restore_into_an_empty_database(ems, ems_env, empty_db, tmp_path, monkeypatch):
    load_group(ems, tmp_path)
    before = fingerprint(ems_env)
    assert before["reading"][0] == 194 and before["rollup_point"][0] > 0
    file = tmp_path / "ems.dump"
    code, out, err = ems("db", "backup", file)
    assert code == 0, err
    assert out.startswith(f"backup written: {file}") and file.stat().st_size > 10_000
    assert not file.with_name(file.name + ".partial").exists()
    with psycopg.connect(ems_env) as conn:
        major = conn.info.server_version // 10000
    assert f"pg_dump (PostgreSQL) {major}." in out

    monkeypatch.setenv("EMS_DATABASE_URL", empty_db)
    code, out, err = ems("db", "restore", file)
    assert code == 0, err
    assert "reading 194" in out
    assert fingerprint(empty_db) == before
    # the restored database is a working one: the scheduler's job store and the run records came along
    code, out, _ = ems("jobs", "runs")
    assert code == 0 and "noop" in out


def test_restore_refuses_a_database_with_data_unless_replace(ems, ems_env, tmp_path):
    load_group(ems, tmp_path)
    file = tmp_path / "ems.dump"
    assert ems("db", "backup", file)[0] == 0
    before = fingerprint(ems_env)
    with psycopg.connect(ems_env, autocommit=True) as conn:
        conn.execute("DELETE FROM reading WHERE ts >= '2025-01-15 12:00+08'")
        conn.execute("INSERT INTO job_run (job, job_key, status) VALUES ('x', 'x', 'ok')")
    assert fingerprint(ems_env) != before
    code, _, err = ems("db", "restore", file)
    assert code == 2 and "holds data" in err and "--replace" in err and len(err.strip().splitlines()) == 1
    code, out, err = ems("db", "restore", file, "--replace")
    assert code == 0, err
    assert fingerprint(ems_env) == before


def test_an_older_backup_is_migrated_on_restore(ems, ems_env, empty_db, tmp_path, monkeypatch):
    # a backup from before migration 010: no job tables
    with psycopg.connect(ems_env, autocommit=True) as conn:
        conn.execute("DROP TABLE job_run, job_alarm, scheduler_job")
        conn.execute("DELETE FROM schema_migrations WHERE version = 10")
    file = tmp_path / "old.dump"
    assert ems("db", "backup", file)[0] == 0
    monkeypatch.setenv("EMS_DATABASE_URL", empty_db)
    code, out, err = ems("db", "restore", file)
    assert code == 0, err
    assert "migrations applied after restore: 010_job_runs.sql" in out
    with psycopg.connect(empty_db) as conn:
        assert conn.execute("SELECT to_regclass('job_run') IS NOT NULL").fetchone()[0]


def test_restore_rejects_a_file_that_is_not_a_backup(ems, tmp_path):
    bogus = tmp_path / "x.dump"
    bogus.write_bytes(b"not a dump")
    code, _, err = ems("db", "restore", bogus)
    assert code == 2 and "x.dump" in err
    code, _, err = ems("db", "restore", tmp_path / "missing.dump")
    assert code == 2 and "no such backup file" in err


def test_backup_and_restore_on_the_embedded_default_server(monkeypatch, capsys, tmp_path):
    """No EMS_DATABASE_URL: the commands start the embedded server in EMS_DATA_DIR themselves."""
    from ems.cli.main import main
    from ems.db.embedded import stop_embedded

    root = Path("/tmp") / f"ems-bk-{uuid.uuid4().hex[:8]}"   # short: Unix socket paths are limited
    monkeypatch.delenv("EMS_DATABASE_URL", raising=False)
    monkeypatch.setenv("EMS_DATA_DIR", str(root))
    try:
        assert main(["config", "load", str(DATA / "plant_small.yaml")]) == 0
        file = tmp_path / "embedded.dump"
        assert main(["db", "backup", str(file)]) == 0
        assert "pg_dump (PostgreSQL) 18." in capsys.readouterr().out
        assert main(["db", "restore", str(file)]) == 2           # it holds the plant
        assert main(["db", "restore", str(file), "--replace"]) == 0
        assert "node " in capsys.readouterr().out
    finally:
        stop_embedded(root / "pgdata")
        shutil.rmtree(root, ignore_errors=True)
