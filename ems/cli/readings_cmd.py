"""``ems readings``: show stored readings of one point, raw or resampled."""

from __future__ import annotations

import sys

import pandas as pd

from ems.assets.store import points_frame
from ems.cli.common import database
from ems.errors import UserError
from ems.readings.query import read_point


def register(sub) -> None:
    p = sub.add_parser("readings", help="stored readings of one point",
                       description="Times are in the point's site time zone unless they carry an offset; "
                                   "--to is exclusive. Interval quantities are bucketed by interval end.")
    p.add_argument("--point", required=True, help="point code, e.g. CH1.kWh")
    p.add_argument("--from", dest="start", required=True, help="start, e.g. 2025-07-01 or '2025-07-01 08:00'")
    p.add_argument("--to", dest="end", required=True, help="end (exclusive)")
    p.add_argument("--every", help="bucket width: 1min, 15min, 1h, day, week, month")
    p.add_argument("--csv", action="store_true", help="write CSV to stdout")
    p.set_defaults(handler=cmd_readings)


def parse_time(text: str, tz: str, flag: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(text)
    except (ValueError, TypeError) as exc:
        raise UserError(f"'{text}' is not a date or time such as 2025-07-01 or '2025-07-01 08:00'", where=flag) from exc
    if ts is pd.NaT:
        raise UserError(f"'{text}' is not a date or time", where=flag)
    return ts.tz_localize(tz) if ts.tzinfo is None else ts


def cmd_readings(args) -> int:
    with database() as db, db.connection() as conn:
        matches = [p for p in points_frame(conn) if p["code"] == args.point]
        if not matches:
            raise UserError(f"no point with code '{args.point}' (see 'ems points')", where="--point")
        point = matches[0]
        start = parse_time(args.start, point["timezone"], "--from")
        end = parse_time(args.end, point["timezone"], "--to")
        if end <= start:
            raise UserError("--to must be after --from", where="--to")
        frame = read_point(conn, point, start, end, args.every)
    if args.csv:
        frame.to_csv(sys.stdout, index=False, date_format="%Y-%m-%dT%H:%M:%S%z")
        return 0
    print(f"{point['code']} [{point['unit']}, {point['kind']}] {start} .. {end}: {len(frame)} rows")
    if len(frame):
        with pd.option_context("display.max_rows", 200, "display.width", 160):
            print(frame.to_string(index=False))
    return 0
