"""``ems ingest csv``: import historian / SCADA exports (CSV or Excel)."""

from __future__ import annotations

import json
import sys
import time

from ems.cli.common import database
from ems.errors import UserError


def register(sub) -> None:
    p = sub.add_parser("ingest", help="import meter data")
    isub = p.add_subparsers(dest="ingest_command", metavar="SOURCE", required=True)
    csv = isub.add_parser(
        "csv", help="historian/SCADA exports: CSV or Excel, long or wide, UTF-8 or GBK",
        description="Import historian exports. Each file is one transaction. Rejected values go to the "
                    "quarantine table with file, line and reason; a summary is printed per file.")
    csv.add_argument("files", nargs="+", metavar="FILE")
    csv.add_argument("--site", required=True, help="node code of the site/plant the export belongs to")
    csv.add_argument("--mapping", help="tag mapping CSV (tag,point[,unit][,scale]); default: tag = point code")
    csv.add_argument("--label", choices=["end", "start"], default="end",
                     help="timestamps label the interval end (default) or start")
    csv.add_argument("--interval", help="interval length when --label start, e.g. 15min")
    csv.add_argument("--correct", action="store_true",
                     help="values that differ from stored ones replace them (logged as edits); "
                          "default: such values are quarantined")
    csv.add_argument("--strict", action="store_true", help="exit non-zero when anything was quarantined")
    csv.add_argument("--json", action="store_true", help="print one JSON report per file")
    csv.set_defaults(handler=cmd_csv)

    from ems.connectors.cli import add_serve  # ems ingest serve: live connectors (MQTT, OPC UA, Modbus)

    add_serve(isub)


def cmd_csv(args) -> int:
    from ems.ingest.mapping import read_mapping
    from ems.ingest.pipeline import import_file

    if args.label == "start" and not args.interval:
        raise UserError("--label start needs --interval (e.g. --interval 15min)", where="--interval")
    mapping = read_mapping(args.mapping) if args.mapping else None
    quarantined = failed = 0
    with database() as db, db.connection() as conn:
        for file in args.files:
            t0 = time.perf_counter()
            try:
                report = import_file(conn, file, site_code=args.site, mapping=mapping, label=args.label,
                                     interval=args.interval, correct=args.correct)
            except UserError as exc:
                failed += 1
                print(f"error: {exc}", file=sys.stderr)
                continue
            seconds = time.perf_counter() - t0
            quarantined += report.quarantined_total
            if args.json:
                print(json.dumps({**report.as_json(), "seconds": round(seconds, 3)}, ensure_ascii=False))
                continue
            span = f"{report.first_ts:%Y-%m-%d %H:%M} .. {report.last_ts:%Y-%m-%d %H:%M} UTC" if report.first_ts else "-"
            print(f"{file}: {report.layout} {report.encoding}, {report.points} points, {span}")
            print(f"  accepted {report.accepted}, duplicates {report.duplicates}, corrected {report.corrected}, "
                  f"quarantined {report.quarantined_total}, empty cells {report.empty_cells} "
                  f"({seconds:.2f} s, batch {report.batch_id})")
            for reason, n in sorted(report.quarantined.items()):
                print(f"  quarantined {reason}: {n}")
            for kind, n in sorted(report.repairs.items()):
                print(f"  counter {kind}: {n}")
            for note in report.notes:
                print(f"  note: {note}")
    if failed:
        print(f"{failed} file(s) failed; nothing of those was written", file=sys.stderr)
        return 2
    if args.strict and quarantined:
        print(f"--strict: {quarantined} value(s) quarantined (see the quarantine table)", file=sys.stderr)
        return 3
    return 0
