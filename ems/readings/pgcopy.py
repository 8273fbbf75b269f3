"""Build a PostgreSQL binary COPY payload from numpy arrays (no per-row Python).

Format: PostgreSQL docs, "COPY - Binary Format": signature ``PGCOPY\\n\\377\\r\\n\\0``, int32 flags,
int32 header-extension length, then per tuple an int16 field count and, per field, an int32 byte
length followed by the big-endian value; trailer int16 -1. timestamptz is int64 microseconds since
2000-01-01 00:00 UTC. A NaN float8 is sent as NaN (PostgreSQL keeps it); callers turn it into NULL
in SQL where needed.
"""

from __future__ import annotations

import numpy as np

HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
TRAILER = (-1).to_bytes(2, "big", signed=True)
_PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 UTC in microseconds since 1970

_FIELD = {"int4": (">i4", 4), "int8": (">i8", 8), "float8": (">f8", 8), "int2": (">i2", 2), "timestamptz": (">i8", 8)}


def ns_to_pg_us(ts_ns: np.ndarray) -> np.ndarray:
    """int64 ns since 1970 UTC -> int64 us since 2000 UTC (PostgreSQL's binary timestamptz)."""
    return ts_ns // 1000 - _PG_EPOCH_US


def binary_copy_payload(columns: list[tuple[str, np.ndarray]]) -> bytes:
    """One COPY BINARY payload for equally long arrays, each given as (pg_type, array).

    Supported types: int2, int4, int8, float8, timestamptz (given as int64 ns since 1970 UTC).
    No NULLs (use NaN for float8).
    """
    n = len(columns[0][1])
    fields = [("count", ">i2")]
    for i, (pg_type, _) in enumerate(columns):
        fields += [(f"len{i}", ">i4"), (f"v{i}", _FIELD[pg_type][0])]
    rows = np.empty(n, dtype=np.dtype(fields))
    rows["count"] = len(columns)
    for i, (pg_type, arr) in enumerate(columns):
        if len(arr) != n:
            raise ValueError("all columns must have the same length")
        rows[f"len{i}"] = _FIELD[pg_type][1]
        rows[f"v{i}"] = ns_to_pg_us(arr) if pg_type == "timestamptz" else arr
    return HEADER + rows.tobytes() + TRAILER
