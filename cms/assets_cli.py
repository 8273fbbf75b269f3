"""``ems carbon-assets load FILE | show``: reduction projects, offset lots and retirements from YAML.

The file has up to three lists: ``projects`` (id, node, name, status, expected/realised saving ...),
``offset_lots`` (id, standard, quantity_tco2e, vintage ...) and ``retirements`` (lot_id, plant, year,
quantity_tco2e ...). Errors name the file, line and field; a retirement beyond its lot is refused by
the database. Offsets are a separate ledger: never netted inside Scope 1 or 2.
"""

from __future__ import annotations

import json

from pydantic import Field

from cms.targets_assets import OffsetLot, Project, Retirement, _Strict
from cms.zerocarbon_yaml import load_model
from ems.cli.common import database


class AssetsFile(_Strict):
    projects: list[Project] = Field(default_factory=list)
    offset_lots: list[OffsetLot] = Field(default_factory=list)
    retirements: list[Retirement] = Field(default_factory=list)


def register(sub) -> None:
    p = sub.add_parser("carbon-assets", help="reduction projects, offset lots and retirements (load from YAML, show)")
    a = p.add_subparsers(dest="assets_command", metavar="ACTION", required=True)
    ld = a.add_parser("load", help="load projects, offset lots and retirements from a YAML file")
    ld.add_argument("file")
    ld.set_defaults(handler=cmd_load)
    sh = a.add_parser("show", help="projects and the offset ledger")
    sh.add_argument("--json", action="store_true")
    sh.set_defaults(handler=cmd_show)


def cmd_load(args) -> int:
    from cms.targets_store import add_offset_lot, retire_offsets, save_project

    data, _lines = load_model(args.file, AssetsFile, "a mapping with projects, offset_lots, retirements")
    with database() as db, db.connection() as conn:
        with conn.transaction():
            for project in data.projects:
                save_project(conn, project)
            known = {r[0] for r in conn.execute("SELECT lot_id FROM offset_lot")}
            for lot in data.offset_lots:
                if lot.id not in known:
                    add_offset_lot(conn, lot)
            for r in data.retirements:
                retire_offsets(conn, r)
    print(f"{args.file}: {len(data.projects)} project(s), {len(data.offset_lots)} offset lot(s), "
          f"{len(data.retirements)} retirement(s) loaded")
    return 0


def cmd_show(args) -> int:
    from cms.targets_assets import offset_ledger, projects_summary
    from cms.targets_store import list_projects, offset_lots, retirements

    with database() as db, db.connection() as conn:
        projects, lots, retired = list_projects(conn), offset_lots(conn), retirements(conn)
    ledger, summary = offset_ledger(lots, retired), projects_summary(projects)
    if args.json:
        print(json.dumps({"projects": json.loads(summary.to_json(orient="records")),
                          "offsets": json.loads(ledger.to_json(orient="records"))}, indent=1))
        return 0
    print("projects:\n" + (summary.to_string(index=False) if len(summary) else "  none"))
    print("offset ledger:\n" + (ledger.to_string(index=False) if len(ledger) else "  none"))
    return 0
