"""Turning a user's table into the regular frame the forecasters want (edges: CSV reading)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ems.errors import UserError


def parse_freq(text: str, where: str = "--freq") -> pd.Timedelta:
    try:
        freq = pd.Timedelta(text)
    except ValueError as exc:
        raise UserError(f"'{text}' is not a step such as 15min or 1h", where=where) from exc
    if freq <= pd.Timedelta(0) or pd.Timedelta("1D") % freq != pd.Timedelta(0):
        raise UserError(f"the step '{text}' must divide a day (e.g. 5min, 15min, 1h)", where=where)
    return freq


def horizon_steps(text: str, freq: pd.Timedelta, where: str = "--horizon") -> int:
    """'1d' / '2h' / '96' (steps) -> number of steps."""
    if text.strip().isdigit():
        return int(text)
    try:
        span = pd.Timedelta(text.replace("d", "D") if text.endswith("d") else text)
    except ValueError as exc:
        raise UserError(f"'{text}' is not a horizon such as 2h, 1d or a number of steps", where=where) from exc
    if span < freq or span % freq != pd.Timedelta(0):
        raise UserError(f"the horizon {text} is not a whole number of {freq} steps", where=where)
    return int(span / freq)


def regularise(frame: pd.DataFrame, freq: pd.Timedelta, where: str = "data") -> pd.DataFrame:
    """Sort, check duplicates and put the frame on a regular grid (missing steps become NaN)."""
    frame = frame.sort_index()
    if frame.index.has_duplicates:
        dup = frame.index[frame.index.duplicated()][0]
        raise UserError(f"duplicate time stamp {dup}", where=where)
    off = frame.index[(frame.index - frame.index[0]) % freq != pd.Timedelta(0)]
    if len(off):
        raise UserError(f"time stamp {off[0]} is not on the {freq} grid that starts at {frame.index[0]}", where=where)
    grid = pd.date_range(frame.index[0], frame.index[-1], freq=freq)
    return frame.reindex(grid)


def read_csv_series(path: str | Path, time_col: str, target_col: str, feature_cols: list[str],
                    freq: pd.Timedelta, tz: str = "UTC") -> pd.DataFrame:
    """Read a CSV into a regular, UTC-indexed frame of the target and feature columns.

    Naive time stamps are local times in ``tz``; time stamps with an offset are converted.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError("no such file", where=str(path))
    try:
        raw = pd.read_csv(path)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise UserError(f"cannot read the CSV: {exc}", where=str(path)) from exc
    if time_col == "" and raw.columns[0].startswith("Unnamed"):
        time_col = raw.columns[0]
    for col in [time_col, target_col, *feature_cols]:
        if col not in raw.columns:
            raise UserError(f"no column '{col}'; columns: {', '.join(map(str, raw.columns))}", where=str(path))
    try:
        ts = pd.to_datetime(raw[time_col], format="mixed")
    except (ValueError, TypeError) as exc:
        raise UserError(f"column '{time_col}' holds a value that is not a time: {exc}", where=str(path)) from exc
    if ts.dt.tz is None:
        try:
            ts = ts.dt.tz_localize(tz, ambiguous="raise", nonexistent="raise")
        except Exception as exc:  # noqa: BLE001 - pytz/zoneinfo raise various types
            raise UserError(f"local time stamps in '{time_col}' are not valid in {tz}: {exc}", where=str(path)) from exc
    frame = raw[[target_col, *feature_cols]].apply(pd.to_numeric, errors="coerce")
    for col in [target_col, *feature_cols]:
        bad = raw[col].notna() & frame[col].isna()
        if bad.any():
            line = int(np.flatnonzero(bad.to_numpy())[0]) + 2
            raise UserError(f"'{raw[col][bad].iloc[0]}' is not a number", where=f"{path}, line {line}, field '{col}'")
    frame.index = pd.DatetimeIndex(ts).tz_convert("UTC")
    return regularise(frame, freq, where=str(path))
