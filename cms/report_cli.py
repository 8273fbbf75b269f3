"""``ems report scope12``: the auditor export of a stored Scope 1/2 inventory (xlsx, csv, pdf).

Registered by ems.cli.main (OPTIONAL_COMMANDS "cms.report_cli"). The inventory must exist ('ems inventory
compute'); the export reads it as stored (a locked one exactly as locked) and never recomputes.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ems.cli.common import database
from ems.errors import UserError

FORMATS = ("xlsx", "csv", "pdf")


def register(sub) -> None:
    r = sub.add_parser("report", help="auditor exports (Scope 1/2 inventory workbook, CSV, PDF)")
    rs = r.add_subparsers(dest="report_command", metavar="REPORT", required=True)
    s = rs.add_parser("scope12", help="export a stored Scope 1/2 inventory for auditors")
    s.add_argument("--year", type=int, required=True, help="reporting year (1 Jan to 1 Jan)")
    s.add_argument("--node", required=True, help="reporting node code (plant, company or group)")
    s.add_argument("--from", dest="start", help="custom period start YYYY-MM-DD (default 1 Jan of --year)")
    s.add_argument("--to", dest="end", help="custom period end, exclusive (default 1 Jan of the next year)")
    s.add_argument("--revision", type=int, help="inventory revision (default: the latest)")
    s.add_argument("--format", choices=FORMATS, help="default: from the --out suffix (.xlsx, .pdf; else csv)")
    s.add_argument("--out", required=True,
                   help="output file; for csv a .zip archive or a folder that receives one CSV per table")
    s.set_defaults(handler=cmd_report_scope12)


def _format(args) -> str:
    if args.format:
        return args.format
    suffix = Path(args.out).suffix.lower().lstrip(".")
    return suffix if suffix in ("xlsx", "pdf") else "csv"


def export(conn, node: str, start: dt.date, end: dt.date, fmt: str, out: Path | str, *,
           revision: int | None = None, generated_at: str | None = None) -> list[Path]:
    """Build the report and write it; returns the files written."""
    from cms.export_model import build_report

    report = build_report(conn, node, start, end, generated_at=generated_at, revision=revision)
    if fmt == "xlsx":
        from cms.export_xlsx import write_xlsx

        return [write_xlsx(report, out)]
    if fmt == "pdf":
        from cms.export_pdf import write_pdf

        return [write_pdf(report, out)]
    if fmt == "csv":
        from cms.export_csv import write_csv

        return write_csv(report, out)
    raise UserError(f"unknown format '{fmt}' (one of {', '.join(FORMATS)})", where="--format")


def cmd_report_scope12(args) -> int:
    try:
        start = dt.date.fromisoformat(args.start) if args.start else dt.date(args.year, 1, 1)
        end = dt.date.fromisoformat(args.end) if args.end else dt.date(args.year + 1, 1, 1)
    except ValueError as exc:
        raise UserError(f"not a date (YYYY-MM-DD): {exc}", where="--from/--to") from exc
    fmt = _format(args)
    with database() as db, db.connection() as conn:
        if conn.execute("SELECT 1 FROM node WHERE code = %s", (args.node,)).fetchone() is None:
            raise UserError(f"no node with code '{args.node}' (see 'ems nodes')", where="--node")
        written = export(conn, args.node, start, end, fmt, args.out, revision=args.revision)
    where = written[0] if len(written) == 1 else f"{Path(args.out)} ({len(written)} files)"
    print(f"report scope12 {args.node} {start}..{end}: {fmt} written to {where}")
    return 0
