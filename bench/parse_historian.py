"""Benchmark: parse a wide historian CSV (100 tags x 20,000 rows = 2,000,000 readings).

Generates its own synthetic export in a temp dir (UTF-8, '2025-07-01 08:15:00' timestamps, a few
markers and gaps), then times ``open_export`` + consuming every chunk. The baseline measured in the
same run is a bare ``pandas.read_csv`` of the same file (no time parsing, no melt, no checks), so
the ratio shows what the parser adds on top of reading the bytes.

    python bench/parse_historian.py [--rows 20000] [--tags 100]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

from ems.ingest.historian import open_export


def make_export(path: Path, rows: int, tags: int, seed: int = 0) -> int:
    """Write the synthetic wide export; returns the number of non-empty value cells."""
    rng = np.random.default_rng(seed)
    ts = pd.date_range("2025-01-01", periods=rows, freq="15min").strftime("%Y-%m-%d %H:%M:%S")
    vals = rng.uniform(0, 10_000, size=(rows, tags)).round(3)
    frame = pd.DataFrame(vals, columns=[f"L{i // 10}.M{i % 10}.kWh [kWh]" for i in range(tags)])
    frame = frame.astype(object)
    frame.iloc[::997, 3] = "--"      # a few markers
    frame.iloc[::1999, 5] = None     # and gaps
    frame.insert(0, "Time", ts)
    frame.to_csv(path, index=False)
    return int(frame.iloc[:, 1:].notna().to_numpy().sum())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20_000)
    ap.add_argument("--tags", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "wide.csv"
        cells = make_export(path, args.rows, args.tags)
        print(f"file: {path.stat().st_size / 1e6:.1f} MB, {args.rows} rows x {args.tags} tags, {cells} value cells")
        base = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            pd.read_csv(path)
            base.append(time.perf_counter() - t0)
        runs = []
        readings = 0
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            info, chunks = open_export(path, tz="Asia/Shanghai")
            readings = rejects = 0
            for chunk in chunks:
                readings += len(chunk.readings)
                rejects += len(chunk.rejects)
            runs.append(time.perf_counter() - t0)
        tracemalloc.start()
        info, chunks = open_export(path, tz="Asia/Shanghai")
        for _ in chunks:
            pass
        peak_mb = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
    best, best_base = min(runs), min(base)
    print(f"pandas.read_csv baseline: {best_base:.3f} s (best of {args.repeat})")
    print(f"open_export + all chunks: {best:.3f} s (best of {args.repeat}; runs {', '.join(f'{r:.3f}' for r in runs)})")
    print(f"readings {readings}, rejects {rejects}, peak traced memory {peak_mb:.0f} MB")
    print(f"bench: parse_historian readings_per_s={readings / best:.0f} seconds={best:.3f} "
          f"ratio_vs_read_csv={best / best_base:.2f} peak_traced_mb={peak_mb:.0f}")


if __name__ == "__main__":
    main()
