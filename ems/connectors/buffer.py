"""The durable on-disk buffer of store-and-forward: an SQLite file in the data folder.

Every received item is appended here (one transaction per spool, ``synchronous=FULL`` in WAL mode, so
a committed append survives a crash or power loss) before it is written to the database; the writer
reads the oldest items in sequence order and deletes them only after the database transaction that
stored them has committed. So readings reach the database in the order they were received, and a
reading is lost neither when the database is down nor when the service is killed.

Items the database refused for a reason other than being unreachable (a bug, a constraint) are moved
to the ``dead`` table with the error, never dropped: ``ems connectors dead FILE`` lists them.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from ems.connectors.items import Item

_COLUMNS = ("site", "source", "origin", "tag", "ts_ns", "naive", "value", "unit", "reason", "raw", "ts_text", "detail")
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS item (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    site TEXT NOT NULL, source TEXT NOT NULL, origin TEXT NOT NULL, tag TEXT, ts_ns INTEGER, naive INTEGER,
    value REAL, unit TEXT, reason TEXT, raw TEXT, ts_text TEXT, detail TEXT);
CREATE TABLE IF NOT EXISTS dead (
    seq INTEGER PRIMARY KEY, {"".join(c + ", " for c in _COLUMNS)}error TEXT NOT NULL,
    failed_at TEXT NOT NULL DEFAULT (datetime('now')));
"""


class DiskBuffer:
    """Append / peek / delete over one SQLite file; safe to use from several threads (one connection each)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        db = self._db()
        db.executescript(_SCHEMA)

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            self._local.db = db
            with self._lock:
                self._all.append(db)
        return db

    def append(self, items: list[Item]) -> int:
        """Append items durably (committed when this returns). Returns the newest sequence number."""
        if not items:
            return 0
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany(f"INSERT INTO item ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
                           items)
            last = db.execute("SELECT max(seq) FROM item").fetchone()[0]
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return last

    def peek(self, limit: int) -> list[tuple[int, Item]]:
        """The oldest ``limit`` items with their sequence numbers, oldest first."""
        rows = self._db().execute(f"SELECT seq, {', '.join(_COLUMNS)} FROM item ORDER BY seq LIMIT ?",
                                  (limit,)).fetchall()
        return [(r[0], Item(*r[1:6], bool(r[6]), *r[7:])) for r in rows]

    def delete_through(self, seq: int) -> int:
        """Forget every item up to and including ``seq`` (they are stored in the database)."""
        return self._db().execute("DELETE FROM item WHERE seq <= ?", (seq,)).rowcount

    def move_to_dead(self, first: int, last: int, error: str) -> int:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            cols = ", ".join(_COLUMNS)
            db.execute(f"INSERT OR REPLACE INTO dead (seq, {cols}, error) SELECT seq, {cols}, ? FROM item "
                       "WHERE seq BETWEEN ? AND ?", (error[:2000], first, last))
            n = db.execute("DELETE FROM item WHERE seq BETWEEN ? AND ?", (first, last)).rowcount
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return n

    def count(self) -> int:
        return self._db().execute("SELECT count(*) FROM item").fetchone()[0]

    def dead(self) -> list[tuple]:
        return self._db().execute(f"SELECT seq, {', '.join(_COLUMNS)}, error, failed_at FROM dead ORDER BY seq"
                                  ).fetchall()

    def close(self) -> None:
        with self._lock:
            for db in self._all:
                try:
                    db.close()
                except sqlite3.ProgrammingError:  # closed from another thread already
                    pass
            self._all.clear()
        self._local = threading.local()
