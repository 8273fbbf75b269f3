"""Benchmark: roll-up refresh and the group overview from roll-ups vs from raw readings.

1. Refresh: one day of 1-minute data for 2,000 cumulative kWh meters (2.88 M readings, imported through
   the real path, which marks the hours dirty), then ``refresh_rollups`` timed.
2. Overview: the demo group (``ems demo --no-serve``: a year, 5 M readings) and the group overview query
   (all plants, all media, year to date, monthly) answered from ``rollup_node`` vs the same answer computed
   from raw readings in the same run (best of 5 each); the answers are checked equal.

    python bench/rollups.py [--points 2000] [--skip-overview]

Last line: ``bench: rollups refresh_s=... overview_ms=... ratio_vs_raw=...``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RAW_OVERVIEW = """
SELECT n.code, date_trunc('month', r.ts - interval '1 microsecond', n.timezone) AS month, m.medium, m.unit,
       sum(r.delta * m.factor)
FROM node n JOIN rollup_member m ON m.node_id = n.node_id JOIN reading r ON r.point_id = m.point_id
WHERE n.level = 'plant' AND r.ts > %s AND r.ts <= %s
GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3"""


def plant_yaml(points: int) -> str:
    lines = ["version: 1", "nodes:", "  - code: RB", "    level: plant", "    timezone: Asia/Shanghai", "    children:"]
    for w in range(points // 100):
        lines += [f"      - code: RB.W{w:02d}", "        level: workshop", "        points:"]
        for i in range(100):
            lines.append(f"          - {{code: RB.W{w:02d}.M{i:03d}, medium: electricity, quantity: energy, unit: kWh, "
                         f"kind: cumulative, interval: 1min, max_rate_per_h: 100000}}")
    return "\n".join(lines) + "\n"


def bench_refresh(url: str, work: Path, points: int) -> float:
    from ems.assets.loader import load_asset_file
    from ems.assets.store import load_asset_model
    from ems.db import open_database
    from ems.ingest.pipeline import import_file
    from ems.rollups.refresh import refresh_rollups

    (work / "rb.yaml").write_text(plant_yaml(points))
    rng = np.random.default_rng(5)
    ts = pd.date_range("2025-07-01 00:01", periods=1440, freq="1min")
    data = {"Timestamp": ts.strftime("%Y-%m-%d %H:%M:%S")}
    for w in range(points // 100):
        for i in range(100):
            data[f"RB.W{w:02d}.M{i:03d}"] = np.round(1000 + np.cumsum(rng.uniform(0.1, 2.0, 1440)), 2)
    pd.DataFrame(data).to_csv(work / "rb.csv", index=False)
    db = open_database(url=url)
    with db.connection() as conn:
        load_asset_model(conn, load_asset_file(work / "rb.yaml"))
        report = import_file(conn, work / "rb.csv", site_code="RB")
        t0 = time.perf_counter()
        res = refresh_rollups(conn)
        seconds = time.perf_counter() - t0
    db.close()
    print(f"refresh: {report.accepted:,} readings, {res.dirty_hours:,} dirty point-hours -> "
          f"{res.rows_written:,} roll-up rows in {seconds:.2f} s")
    return seconds


def bench_overview(work: Path) -> tuple[float, float]:
    env = {**os.environ, "EMS_DATA_DIR": str(work / "demo")}
    env.pop("EMS_DATABASE_URL", None)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "ems.cli.main", "demo", "--no-serve"], env=env, check=True,
                   capture_output=True, text=True)
    print(f"demo group set up in {time.perf_counter() - t0:.0f} s")
    os.environ["EMS_DATA_DIR"] = str(work / "demo")
    from ems.db import open_database
    from ems.rollups.query import group_overview

    db = open_database()
    start, end = pd.Timestamp("2025-01-01", tz="Asia/Shanghai"), pd.Timestamp("2026-01-01", tz="Asia/Shanghai")
    best_roll = best_raw = float("inf")
    with db.connection() as conn:
        for _ in range(5):
            t0 = time.perf_counter()
            fast = group_overview(conn, start, end)
            best_roll = min(best_roll, time.perf_counter() - t0)
        for _ in range(5):
            t0 = time.perf_counter()
            raw = conn.execute(RAW_OVERVIEW, (start, end)).fetchall()
            best_raw = min(best_raw, time.perf_counter() - t0)
    db.close()
    raw_frame = pd.DataFrame(raw, columns=["node", "month", "medium", "unit", "value"])
    merged = fast.merge(raw_frame, on=["node", "medium", "unit"], suffixes=("", "_raw"))
    merged = merged[pd.to_datetime(merged["month"], utc=True) == pd.to_datetime(merged["month_raw"], utc=True)]
    assert len(merged) == len(fast) == len(raw_frame), (len(merged), len(fast), len(raw_frame))
    assert np.allclose(merged["value"].astype(float), merged["value_raw"].astype(float), rtol=1e-9, equal_nan=True)
    print(f"overview: {len(fast)} rows; from roll-ups {best_roll * 1000:.1f} ms, from raw {best_raw * 1000:.0f} ms "
          f"(same answer)")
    return best_roll, best_raw


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=2000)
    ap.add_argument("--skip-overview", action="store_true")
    args = ap.parse_args()
    import psycopg
    from psycopg.conninfo import make_conninfo

    from ems.db.embedded import start_embedded, stop_embedded

    work = Path(tempfile.mkdtemp(prefix="ems-bench-rollups-"))
    server = start_embedded(work / "pgdata")
    admin = make_conninfo(server, dbname="postgres")
    name = f"ems_rb_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    try:
        refresh_s = bench_refresh(make_conninfo(admin, dbname=name), work, args.points)
        overview_ms, ratio = float("nan"), float("nan")
        if not args.skip_overview:
            roll, raw = bench_overview(work)
            overview_ms, ratio = roll * 1000, raw / roll
        print(f"bench: rollups refresh_s={refresh_s:.2f} overview_ms={overview_ms:.1f} ratio_vs_raw={ratio:.0f}")
    finally:
        stop_embedded(work / "pgdata")
        demo = work / "demo" / "pgdata"
        if demo.exists():
            stop_embedded(demo)
        subprocess.run(["rm", "-rf", str(work)])


if __name__ == "__main__":
    main()
