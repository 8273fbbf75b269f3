"""Benchmark: historian import throughput and peak memory vs pandas.DataFrame.to_sql.

Generates a wide CSV of 2,000,000 readings (100 columns x 20,000 one-minute rows: 50 cumulative kWh
registers and 50 temperatures, local time, UTF-8), loads a matching plant into a fresh database and
imports the file through the full path (parse, map, validate, normalise, counters, COPY + merge),
in a child process whose peak RSS is measured. The baseline writes the same kind of rows with
``DataFrame.to_sql`` (SQLAlchemy + psycopg) into the same ``reading`` table, in the same run, on a
200,000-row slice (its rate does not depend on size; the full 2 M would take minutes).

    python bench/ingest.py [--rows 20000] [--cols 100] [--baseline-rows 200000]

Database: EMS_DATABASE_URL if set, else a throw-away embedded server.
Last line: ``bench: ingest readings_per_s=... ratio_vs_to_sql=... peak_rss_mb=...``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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


def plant_yaml(cols: int) -> str:
    lines = ["version: 1", "nodes:", "  - code: BENCH", "    level: plant", "    timezone: Asia/Shanghai",
             "    points:"]
    for i in range(cols):
        if i % 2 == 0:
            lines += [f"      - {{code: M{i:03d}.kWh, medium: electricity, quantity: energy, unit: kWh, "
                      f"kind: cumulative, interval: 1min, max_rate_per_h: 100000}}"]
        else:
            lines += [f"      - {{code: T{i:03d}, medium: chilled_water, quantity: temperature, unit: degC, "
                      f"kind: instantaneous, interval: 1min, min: -20, max: 80}}"]
    return "\n".join(lines) + "\n"


def write_csv(path: Path, rows: int, cols: int, seed: int = 7) -> list[str]:
    rng = np.random.default_rng(seed)
    ts = pd.date_range("2025-07-01 00:01", periods=rows, freq="1min")
    data = {"Timestamp": ts.strftime("%Y-%m-%d %H:%M:%S")}
    names = []
    for i in range(cols):
        if i % 2 == 0:
            name = f"M{i:03d}.kWh"
            data[name] = np.round(1000 * i + np.cumsum(rng.uniform(0.5, 5.0, rows)), 2)
        else:
            name = f"T{i:03d}"
            data[name] = np.round(7 + rng.normal(0, 0.3, rows), 2)
        names.append(name)
    pd.DataFrame(data).to_csv(path, index=False)
    return names


def child_import(url: str, csv: str) -> None:
    from ems.db import open_database
    from ems.ingest.pipeline import import_file

    db = open_database(url=url)
    with db.connection() as conn:
        t0 = time.perf_counter()
        report = import_file(conn, csv, site_code="BENCH")
        seconds = time.perf_counter() - t0
    db.close()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "parsed": report.parsed, "accepted": report.accepted,
                      "quarantined": report.quarantined_total, "peak_rss_mb": peak_kb / 1024}))


def baseline_to_sql(url: str, rows: int) -> float:
    import sqlalchemy as sa
    from psycopg.conninfo import conninfo_to_dict

    info = conninfo_to_dict(url)
    host = info.get("host", "")
    sa_url = sa.engine.URL.create("postgresql+psycopg", username=info.get("user"), password=info.get("password"),
                                  host=None if host.startswith("/") else host, port=info.get("port"),
                                  database=info.get("dbname"),
                                  query={"host": host} if host.startswith("/") else {})
    engine = sa.create_engine(sa_url)
    rng = np.random.default_rng(3)
    per = rows // 100
    frame = pd.DataFrame({
        "point_id": np.repeat(np.arange(1, 101, dtype=np.int32), per),
        "ts": np.tile(pd.date_range("2024-03-01", periods=per, freq="1min", tz="UTC"), 100),
        "value": rng.uniform(0, 100, per * 100), "delta": rng.uniform(0, 1, per * 100),
        "quality": np.int16(0), "batch_id": np.int32(1)})
    with engine.begin() as c:
        c.exec_driver_sql("SELECT ems_ensure_reading_partitions('2024-03-01', '2024-04-01')")
    t0 = time.perf_counter()
    frame.to_sql("reading", engine, if_exists="append", index=False, chunksize=10_000)
    seconds = time.perf_counter() - t0
    engine.dispose()
    return len(frame) / seconds


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20_000)
    ap.add_argument("--cols", type=int, default=100)
    ap.add_argument("--baseline-rows", type=int, default=200_000)
    ap.add_argument("--child", nargs=2, metavar=("URL", "CSV"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child_import(*args.child)
        return

    import psycopg
    from psycopg.conninfo import make_conninfo

    from ems.assets.loader import load_asset_file
    from ems.assets.store import load_asset_model
    from ems.db import open_database

    work = Path(tempfile.mkdtemp(prefix="ems-bench-"))
    server = os.environ.get("EMS_DATABASE_URL")
    if not server:
        from ems.db.embedded import start_embedded

        server = start_embedded(work / "pgdata")
    admin = make_conninfo(server, dbname="postgres")
    name = f"ems_bench_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    url = make_conninfo(admin, dbname=name)
    try:
        (work / "plant.yaml").write_text(plant_yaml(args.cols))
        csv = work / "export.csv"
        t0 = time.perf_counter()
        write_csv(csv, args.rows, args.cols)
        print(f"wrote {csv.stat().st_size / 1e6:.1f} MB CSV ({args.rows * args.cols:,} readings) "
              f"in {time.perf_counter() - t0:.1f} s")
        db = open_database(url=url)
        with db.connection() as conn:
            load_asset_model(conn, load_asset_file(work / "plant.yaml"))
        db.close()
        out = subprocess.run([sys.executable, __file__, "--child", url, str(csv)], capture_output=True, text=True,
                             check=True)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        rate = result["parsed"] / result["seconds"]
        print(f"import: {result['parsed']:,} readings parsed, {result['accepted']:,} stored, "
              f"{result['quarantined']} quarantined, {result['seconds']:.2f} s -> {rate:,.0f} readings/s, "
              f"peak RSS {result['peak_rss_mb']:.0f} MB")
        with psycopg.connect(url, autocommit=True) as c:
            c.execute("TRUNCATE reading")
        base = baseline_to_sql(url, args.baseline_rows)
        print(f"baseline DataFrame.to_sql: {base:,.0f} rows/s ({args.baseline_rows:,} rows)")
        print(f"bench: ingest readings_per_s={rate:.0f} ratio_vs_to_sql={rate / base:.1f} "
              f"peak_rss_mb={result['peak_rss_mb']:.0f}")
    finally:
        with psycopg.connect(admin, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not os.environ.get("EMS_DATABASE_URL"):
            from ems.db.embedded import stop_embedded

            stop_embedded(work / "pgdata")
        subprocess.run(["rm", "-rf", str(work)])


if __name__ == "__main__":
    main()
