"""Stream binary COPY payloads to the server from a background thread.

The parser and the checks run in the calling thread while the server digests the previous chunk on
the other core; a bounded queue gives back-pressure (at most ``depth`` chunks in flight). The
connection belongs to the writer thread between :meth:`CopyWriter.start` and :meth:`CopyWriter.close`;
the caller must not use it in between.
"""

from __future__ import annotations

import queue
import threading

import numpy as np
import psycopg

from ems.ingest.counterstream import Emitted
from ems.readings.pgcopy import HEADER, TRAILER, binary_copy_payload

_BLOCK = 1 << 20


def emitted_payload(rows: Emitted, batch_id: int) -> bytes:
    """Rows of ``reading`` (point_id, ts, value, delta, quality, batch_id) as a binary COPY body (no header)."""
    body = binary_copy_payload([
        ("int4", rows.point_id), ("timestamptz", rows.ts_ns), ("float8", rows.value), ("float8?", rows.delta),
        ("int2", rows.quality), ("int4", np.full(len(rows), batch_id, np.int32)),
    ])
    return body[len(HEADER):-len(TRAILER)]


class CopyWriter:
    """``COPY <table> (point_id, ts, value, delta, quality, batch_id) FROM STDIN (FORMAT BINARY)`` fed from a queue."""

    def __init__(self, conn: psycopg.Connection, table: str, depth: int = 3):
        if table not in ("reading", "stage_reading"):  # fixed names only; never user input
            raise ValueError(table)
        self.conn, self.table = conn, table
        self.rows = 0
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"copy-{table}", daemon=True)

    def start(self) -> CopyWriter:
        self._thread.start()
        return self

    def send(self, rows: Emitted, batch_id: int) -> None:
        if self._error is not None:
            raise self._error
        if len(rows):
            self.rows += len(rows)
            self._queue.put(emitted_payload(rows, batch_id))

    def close(self) -> int:
        """Finish the COPY; re-raise a server error (e.g. a unique violation). Returns rows sent."""
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self.rows

    def abort(self) -> None:
        """Stop without raising (the caller is already handling an error)."""
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._queue.put(None)
        self._thread.join(timeout=60)

    def _run(self) -> None:
        try:
            cols = "point_id, ts, value, delta, quality, batch_id"
            with self.conn.cursor().copy(f"COPY {self.table} ({cols}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.write(HEADER)
                while (payload := self._queue.get()) is not None:
                    view = memoryview(payload)
                    for i in range(0, len(view), _BLOCK):
                        copy.write(view[i:i + _BLOCK])
                copy.write(TRAILER)
        except BaseException as exc:  # handed to the caller's thread
            self._error = exc
            while True:  # unblock a producer waiting on a full queue
                try:
                    if self._queue.get_nowait() is None:
                        break
                except queue.Empty:
                    break
