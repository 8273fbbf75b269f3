"""Build a PostgreSQL binary COPY payload from numpy arrays (no per-row Python).

Format: PostgreSQL docs, "COPY - Binary Format": signature ``PGCOPY\\n\\377\\r\\n\\0``, int32 flags,
int32 header-extension length, then per tuple an int16 field count and, per field, an int32 byte
length followed by the big-endian value (length -1 and no value for NULL); trailer int16 -1.
timestamptz is int64 microseconds since 2000-01-01 00:00 UTC.

Column types: int2, int4, int8, float8, timestamptz (given as int64 ns since 1970 UTC), and
``float8?``: a float8 whose NaN values are sent as NULL. Rows are grouped by their NULL pattern
(row order in a COPY does not matter), so each group is one fixed-layout numpy record array.
"""

from __future__ import annotations

import numpy as np

HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
TRAILER = (-1).to_bytes(2, "big", signed=True)
_PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 UTC in microseconds since 1970

_FIELD = {"int4": (">i4", 4), "int8": (">i8", 8), "float8": (">f8", 8), "float8?": (">f8", 8), "int2": (">i2", 2),
          "timestamptz": (">i8", 8)}


def ns_to_pg_us(ts_ns: np.ndarray) -> np.ndarray:
    """int64 ns since 1970 UTC -> int64 us since 2000 UTC (PostgreSQL's binary timestamptz)."""
    return ts_ns // 1000 - _PG_EPOCH_US


def _records(columns: list[tuple[str, np.ndarray]], rows: np.ndarray | slice, null: tuple[bool, ...]) -> bytes:
    fields = [("count", ">i2")]
    for i, (pg_type, _) in enumerate(columns):
        fields.append((f"len{i}", ">i4"))
        if not null[i]:
            fields.append((f"v{i}", _FIELD[pg_type][0]))
    first = columns[0][1][rows]
    out = np.empty(len(first), dtype=np.dtype(fields))
    out["count"] = len(columns)
    for i, (pg_type, arr) in enumerate(columns):
        if null[i]:
            out[f"len{i}"] = -1
            continue
        out[f"len{i}"] = _FIELD[pg_type][1]
        part = arr[rows]
        out[f"v{i}"] = ns_to_pg_us(part) if pg_type == "timestamptz" else part
    return out.tobytes()


def binary_copy_payload(columns: list[tuple[str, np.ndarray]]) -> bytes:
    """One COPY BINARY payload (header, tuples, trailer) for equally long arrays given as (pg_type, array)."""
    n = len(columns[0][1])
    for _, arr in columns:
        if len(arr) != n:
            raise ValueError("all columns must have the same length")
    nullable = [i for i, (t, _) in enumerate(columns) if t == "float8?"]
    no_nulls = tuple(False for _ in columns)
    if not nullable:
        return HEADER + _records(columns, slice(None), no_nulls) + TRAILER
    masks = np.stack([np.isnan(columns[i][1]) for i in nullable], axis=1)
    code = (masks * (1 << np.arange(len(nullable)))).sum(axis=1)
    parts = []
    for c in np.unique(code):
        null = [False] * len(columns)
        for bit, i in enumerate(nullable):
            null[i] = bool(c >> bit & 1)
        parts.append(_records(columns, code == c, tuple(null)))
    return HEADER + b"".join(parts) + TRAILER
