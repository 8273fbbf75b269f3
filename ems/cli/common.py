"""Shared helpers of the CLI commands."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ems.db import Database, open_database


@contextmanager
def database() -> Iterator[Database]:
    db = open_database()
    try:
        yield db
    finally:
        db.close()
