"""Historian-style CSV exports: one wide file per plant, calendar month and resolution.

``DIR/<plant>/<plant>_<YYYY-MM>_<15min|1min>.csv``; first column ``Timestamp`` (UTF-8) or ``时间``
(GBK, the Chinese SCADA habit), local time ``YYYY-MM-DD HH:MM:SS`` interval-end labelled; one
column per point code; empty cells for gaps. A file holds the rows whose timestamp falls in the
month (so the 00:00 reading that closes a month's last interval opens the next file, as a
historian export by timestamp does).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def _format(df: pd.DataFrame, decimals: dict[str, int]) -> pd.DataFrame:
    out = df.copy()
    for c in out.columns:
        if decimals.get(c, 1) == 0:
            out[c] = out[c].round().astype("Int64")
    return out


def write_plant_csvs(out_dir: Path, plant_code: str, frames: dict[str, pd.DataFrame], time_header: str,
                     encoding: str, decimals: dict[str, int]) -> tuple[list[Path], int]:
    """Write every month/resolution file. Returns (paths, readings written = non-empty cells)."""
    pdir = Path(out_dir) / plant_code
    pdir.mkdir(parents=True, exist_ok=True)
    paths, readings = [], 0
    for res, df in frames.items():
        if df.empty or df.shape[1] == 0:
            continue
        months = df.index.to_period("M")
        for m in months.unique():
            part = df[months == m]
            readings += int(np.isfinite(part.to_numpy(dtype=float)).sum())
            part = _format(part, decimals)
            part.index = part.index.strftime("%Y-%m-%d %H:%M:%S")
            part.index.name = time_header
            path = pdir / f"{plant_code}_{m.strftime('%Y-%m')}_{res}.csv"
            part.to_csv(path, encoding=encoding, na_rep="", lineterminator="\n")
            paths.append(path)
    return paths, readings
