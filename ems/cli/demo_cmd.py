"""``ems demo``: one command from a fresh install to a running cockpit on a simulated factory group.

Steps: embedded database (or EMS_DATABASE_URL) -> load the demo group (examples/plant.yaml) ->
simulate a year of history as historian exports -> import them through the real import path ->
create the demo login -> serve the cockpit. ``--no-serve`` does the set-up and exits.
"""

from __future__ import annotations

import time
from pathlib import Path

from ems.errors import UserError

ROOT = Path(__file__).resolve().parents[2]
DEMO_PLANT = ROOT / "examples" / "plant.yaml"


def register(sub) -> None:
    p = sub.add_parser("demo", help="set up the demo factory group and serve the cockpit",
                       description="Embedded database, demo group, a year of simulated history imported "
                                   "through the real import path, demo login demo/demo, cockpit on "
                                   "http://127.0.0.1:PORT. Running it again reuses what is already there.")
    p.add_argument("--port", type=int, default=8050, help="cockpit port (default 8050)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--days", type=int, default=365, help="days of history to simulate (default 365)")
    p.add_argument("--start", default="2025-01-01", help="first simulated day (default 2025-01-01)")
    p.add_argument("--no-serve", action="store_true", help="do the whole set-up, then exit")
    p.set_defaults(handler=cmd_demo)


def _step(msg: str, t0: float) -> None:
    print(f"[{time.perf_counter() - t0:6.1f} s] {msg}", flush=True)


def _carbon_inventories(conn, start: str, days: int) -> list[int]:
    """Draft inventories of the group and each plant for every calendar year the demo covers."""
    import datetime as dt

    from cms.jobs import inventory_drafts

    first = dt.date.fromisoformat(start)
    last = first + dt.timedelta(days=days - 1)
    years = list(range(first.year, last.year + 1))
    for year in years:
        inventory_drafts(conn, today=dt.date(year, 6, 30))
    return years


def cmd_demo(args) -> int:
    from ems.assets.loader import load_asset_file
    from ems.assets.store import load_asset_model
    from ems.db import open_database
    from ems.ingest.pipeline import file_sha256, import_file
    from ems.settings import load_settings
    from ems.sim.generate import generate

    t0 = time.perf_counter()
    settings = load_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if not DEMO_PLANT.exists():
        raise UserError("demo plant file missing; run ems demo from a checkout of the project", where=str(DEMO_PLANT))
    db = open_database(settings)
    _step(f"database ready ({'embedded, ' + str(settings.pgdata) if db.embedded else 'EMS_DATABASE_URL'}; "
          f"back-end {db.backend})", t0)
    model = load_asset_file(DEMO_PLANT)
    with db.connection() as conn:
        report = load_asset_model(conn, model)
    _step(f"demo group loaded: {len(model.nodes)} nodes, {len(model.points)} points"
          f"{'' if report.changed else ' (already there)'}", t0)

    out = settings.data_dir / "demo-exports" / f"{args.start}_{args.days}d"
    if not (out / ".complete").exists():
        summary = generate(out, days=args.days, start=args.start)
        (out / ".complete").write_text("ok\n")
        _step(f"simulated {args.days} days of the demo group: {summary['files']} export files, "
              f"{summary['readings']:,} readings ({summary['seconds']} s)", t0)
    files = sorted(p for p in out.rglob("*.csv"))
    plants = {n.code for n in model.nodes if n.level == "plant"}
    accepted = quarantined = skipped = 0
    with db.connection() as conn:
        done = {r[0] for r in conn.execute("SELECT file_sha256 FROM ingest_batch WHERE status = 'done'")}

        for f in files:
            site = f.parent.name
            if site not in plants:
                raise UserError(f"export folder '{site}' is not a plant of the demo group", where=str(f))
            if file_sha256(f) in done:
                skipped += 1
                continue
            rep = import_file(conn, f, site_code=site)
            accepted += rep.accepted
            quarantined += rep.quarantined_total
    _step(f"imported {len(files) - skipped} export files ({skipped} already imported): {accepted:,} readings stored, "
          f"{quarantined:,} values quarantined", t0)

    with db.connection() as conn:
        from ems.rollups.refresh import refresh_rollups

        res = refresh_rollups(conn)
    _step(f"roll-ups refreshed: {res.dirty_hours:,} point-hours, {res.rows_written:,} rows ({res.seconds:.1f} s)", t0)

    with db.connection() as conn:
        years = _carbon_inventories(conn, args.start, args.days)
    _step(f"carbon: draft Scope 1/2 inventories of the group and its plants for {', '.join(map(str, years))}", t0)
    targets = DEMO_PLANT.with_name("targets.yaml")
    if targets.exists():
        from cms.targets import load_target_file
        from cms.targets_store import save_target_set

        with db.connection() as conn:
            save_target_set(conn, load_target_file(targets), str(targets))
            conn.commit()
        _step(f"targets: {targets.name} (ems target show --node CCG --year {years[-1]} --inventories)", t0)

    with db.connection() as conn:
        from dashboards.auth import create_user

        if conn.execute("SELECT 1 FROM app_user WHERE username = 'demo'").fetchone() is None:
            create_user(conn, "demo", "demo", "admin", display_name="Demo", language="en")
        conn.commit()
    _step("demo login: user 'demo', password 'demo' (admin; demo only)", t0)
    if args.no_serve:
        db.close()
        _step("set-up complete (--no-serve)", t0)
        return 0
    from dashboards.serve import serve

    print(f"Cockpit running at http://{args.host}:{args.port}  (log in as demo / demo; Ctrl+C to stop)", flush=True)
    try:
        serve(db, host=args.host, port=args.port, data_dir=settings.data_dir)
    finally:
        db.close()
    return 0
