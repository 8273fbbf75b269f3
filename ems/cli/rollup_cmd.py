"""``ems rollup``, ``ems energy``, ``ems lineage``: roll-ups and what they are made of."""

from __future__ import annotations

import sys

import pandas as pd

from ems.cli.common import database
from ems.cli.readings_cmd import parse_time


def register(sub) -> None:
    p = sub.add_parser("rollup", help="roll-ups (15 min, hour, day, month; per point and per node x medium)")
    rsub = p.add_subparsers(dest="rollup_command", metavar="ACTION", required=True)
    r = rsub.add_parser("refresh", help="recompute the buckets that new, late or corrected data touched")
    r.set_defaults(handler=cmd_refresh)
    b = rsub.add_parser("rebuild", help="mark every stored hour dirty and recompute all roll-ups")
    b.set_defaults(handler=cmd_rebuild)

    e = sub.add_parser("energy", help="energy of a node per medium from the roll-ups")
    e.add_argument("--node", required=True, help="node code (group, plant, workshop ...)")
    e.add_argument("--from", dest="start", required=True)
    e.add_argument("--to", dest="end", required=True, help="end (exclusive)")
    e.add_argument("--every", default="day", choices=["15min", "hour", "day", "month"])
    e.add_argument("--medium", help="only this medium, e.g. electricity")
    e.add_argument("--csv", action="store_true")
    e.set_defaults(handler=cmd_energy)

    lin = sub.add_parser("lineage", help="what a (virtual) point is computed from")
    lin.add_argument("point")
    lin.set_defaults(handler=cmd_lineage)


def cmd_refresh(args) -> int:
    from ems.rollups.refresh import refresh_rollups

    with database() as db, db.connection() as conn:
        res = refresh_rollups(conn)
    print(f"refreshed {res.dirty_hours} dirty point-hours: {res.rows_written} roll-up rows in {res.seconds:.2f} s")
    return 0


def cmd_rebuild(args) -> int:
    from ems.rollups.refresh import refresh_rollups

    with database() as db, db.connection() as conn:
        with conn.transaction():
            conn.execute("""INSERT INTO dirty_hour (point_id, hour_utc)
                            SELECT DISTINCT point_id, date_trunc('hour', ts, 'UTC') FROM reading
                            ON CONFLICT DO NOTHING""")
        res = refresh_rollups(conn)
    print(f"rebuilt {res.dirty_hours} point-hours: {res.rows_written} roll-up rows in {res.seconds:.2f} s")
    return 0


def cmd_energy(args) -> int:
    from ems.rollups.query import node_energy

    with database() as db, db.connection() as conn:
        tz = conn.execute("SELECT timezone FROM node WHERE code = %s", (args.node,)).fetchone()
        tz = tz[0] if tz else "UTC"
        frame = node_energy(conn, args.node, parse_time(args.start, tz, "--from"), parse_time(args.end, tz, "--to"),
                            args.every, args.medium)
    if args.csv:
        frame.to_csv(sys.stdout, index=False, date_format="%Y-%m-%dT%H:%M:%S%z")
        return 0
    if frame.empty:
        print("no roll-ups in this range (run 'ems rollup refresh' after importing)")
        return 0
    wide = frame.pivot_table(index="bucket", columns=["medium", "unit"], values="value", aggfunc="sum")
    with pd.option_context("display.max_rows", 400, "display.width", 160, "display.float_format", "{:,.2f}".format):
        print(wide.to_string())
    return 0


def cmd_lineage(args) -> int:
    from ems.rollups.virtual import lineage

    with database() as db, db.connection() as conn:
        print("\n".join(lineage(conn, args.point)))
    return 0
