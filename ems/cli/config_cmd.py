"""``ems config load``, ``ems nodes``, ``ems points``: the asset model."""

from __future__ import annotations

from ems.assets.loader import load_asset_file
from ems.assets.store import load_asset_model, node_tree, points_frame
from ems.cli.common import database


def register(sub) -> None:
    p = sub.add_parser("config", help="asset model: load a plant YAML file")
    csub = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    load = csub.add_parser("load", help="validate a plant YAML file and load it (same file again: no change)")
    load.add_argument("file", help="plant YAML, e.g. examples/plant.yaml")
    load.set_defaults(handler=cmd_load)
    check = csub.add_parser("check", help="validate a plant YAML file without touching the database")
    check.add_argument("file")
    check.set_defaults(handler=cmd_check)

    nodes = sub.add_parser("nodes", help="the node tree, one node a line, code first, root first")
    nodes.set_defaults(handler=cmd_nodes)
    points = sub.add_parser("points", help="points, optionally below one node")
    points.add_argument("--node", help="node code: only points at or below this node")
    points.set_defaults(handler=cmd_points)


def cmd_check(args) -> int:
    model = load_asset_file(args.file)
    print(f"{args.file}: valid; {len(model.nodes)} nodes, {len(model.points)} points")
    return 0


def cmd_load(args) -> int:
    model = load_asset_file(args.file)
    from ems.rollups.membership import refresh_membership

    with database() as db, db.connection() as conn:
        report = load_asset_model(conn, model)
        if report.changed:
            with conn.transaction():
                refresh_membership(conn)  # which meters make up each node's energy
    if not report.changed:
        print(f"{args.file}: no change ({len(model.nodes)} nodes, {len(model.points)} points already loaded)")
    else:
        print(f"{args.file}: nodes added {len(report.nodes_added)}, updated {len(report.nodes_updated)}; "
              f"points added {len(report.points_added)}, updated {len(report.points_updated)}")
        for code in report.nodes_updated + report.points_updated:
            print(f"  updated {code}")
    if report.not_in_file:
        print(f"  kept (in the database, not in this file): {', '.join(report.not_in_file)}")
    return 0


def cmd_nodes(args) -> int:
    with database() as db, db.connection() as conn:
        rows = node_tree(conn)
    if not rows:
        print("no nodes (load a plant file: ems config load FILE)")
    width = max((len(r["code"]) for r in rows), default=0)
    for r in rows:
        names = " / ".join(n for n in (r["name_en"], r["name_zh"]) if n)
        print(f"{r['code']:<{width}}  {'  ' * r['depth']}{r['level']:<10} {names}  [{r['timezone']}]")
    return 0


def cmd_points(args) -> int:
    with database() as db, db.connection() as conn:
        rows = points_frame(conn, args.node)
    if not rows:
        print("no points")
        return 0
    width = max(len(r["code"]) for r in rows)
    for r in rows:
        extra = f" parent={r['parent']}" if r["parent"] else ""
        extra += f" formula='{r['formula']}'" if r["formula"] else ""
        print(f"{r['code']:<{width}}  {r['node']:<14} {r['medium']:<15} {r['quantity']:<12} {r['unit']:<8} "
              f"{r['kind']:<13}{extra}")
    return 0
