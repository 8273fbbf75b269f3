"""Write rejected values to the quarantine table (raw text, source, file, line, reason)."""

from __future__ import annotations

import pandas as pd
import psycopg

QUARANTINE_COLUMNS = ("line", "tag", "raw", "ts_text", "reason", "detail")


def write_quarantine(conn: psycopg.Connection, rejects: pd.DataFrame, *, batch_id: int | None, source: str,
                     file: str | None) -> int:
    """COPY the rejects (columns QUARANTINE_COLUMNS) into ``quarantine``; returns rows written."""
    if rejects.empty:
        return 0
    frame = rejects.reindex(columns=list(QUARANTINE_COLUMNS))
    with conn.cursor().copy(
        "COPY quarantine (batch_id, source, file, line, field, raw, ts_text, reason, detail) FROM STDIN"
    ) as copy:
        for line, tag, raw, ts_text, reason, detail in frame.itertuples(index=False, name=None):
            copy.write_row((batch_id, source, file, None if pd.isna(line) else int(line), _text(tag), _text(raw),
                            _text(ts_text), reason, _text(detail)))
    return len(frame)


def _text(x: object) -> str | None:
    if x is None or (isinstance(x, float) and pd.isna(x)):
        return None
    return str(x)
