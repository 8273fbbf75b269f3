"""``ems target`` (set / show) and ``ems zerocarbon`` (packs / assess).

``ems target set FILE`` validates a target-set YAML and stores it; ``ems target show --node CODE --year Y``
prints each target line's trajectory for that year per plant and, with ``--actuals FILE.csv`` (plant,
year, emissions_tco2e[, denominator]), the gap; retired offsets from the offset ledger appear only in the
net columns. ``ems zerocarbon assess --pack ID --input FILE.yaml`` evaluates a criteria pack against a plain
input record (no database).
"""

from __future__ import annotations

import json
import math

import pandas as pd

from ems.errors import UserError, location


def register(sub) -> None:
    t = sub.add_parser("target", help="emission targets: load a target set, show trajectory and gap",
                       description="Absolute and intensity targets with milestones, broken down to plants.")
    tsub = t.add_subparsers(dest="target_command", metavar="ACTION", required=True)
    s = tsub.add_parser("set", help="validate and store a target-set YAML file")
    s.add_argument("file")
    s.set_defaults(handler=cmd_target_set)
    sh = tsub.add_parser("show", help="trajectory (and gap, with --actuals) of a node in a year")
    sh.add_argument("--node", required=True, help="the target set's node (all plants) or one plant code")
    sh.add_argument("--year", required=True, type=int)
    sh.add_argument("--set", dest="set_id", help="only this target set id")
    src = sh.add_mutually_exclusive_group()
    src.add_argument("--actuals", help="CSV: plant, year, emissions_tco2e[, denominator] (gross, target scope)")
    src.add_argument("--inventories", action="store_true",
                     help="actuals from the stored inventories (latest revision per plant and year)")
    sh.add_argument("--json", action="store_true", help="print JSON")
    sh.set_defaults(handler=cmd_target_show)

    z = sub.add_parser("zerocarbon", help="zero-carbon-factory assessment against a criteria pack",
                       description="Criteria packs are versioned YAML (built-in: cms/packs). Uncertain parts of "
                                   "a pack are parameters marked configurable; set them with --set NAME=VALUE.")
    zsub = z.add_subparsers(dest="zerocarbon_command", metavar="ACTION", required=True)
    p = zsub.add_parser("packs", help="list the built-in criteria packs and their parameters")
    p.set_defaults(handler=cmd_zc_packs)
    a = zsub.add_parser("assess", help="evaluate a pack against one plant-year input record")
    a.add_argument("--pack", required=True, help="pack id, id@version, or a pack YAML file")
    source = a.add_mutually_exclusive_group(required=True)
    source.add_argument("--input", help="input record YAML (plant, year, energy_mwh, ...)")
    source.add_argument("--plant", help="build the record from stored data (roll-ups, inventory, instruments, "
                                        "offsets) of this plant; needs --year")
    a.add_argument("--year", type=int, help="with --plant: the reporting year")
    a.add_argument("--set", dest="params", action="append", default=[], metavar="NAME=VALUE",
                   help="set a configurable pack parameter (repeatable)")
    a.add_argument("--json", action="store_true", help="print JSON")
    a.set_defaults(handler=cmd_zc_assess)


def _read_actuals(path: str) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read CSV: {exc}", where=path) from exc
    need = {"plant", "year", "emissions_tco2e"}
    if not need <= set(frame.columns):
        raise UserError(f"columns {', '.join(sorted(need - set(frame.columns)))} are missing "
                        f"(need plant, year, emissions_tco2e[, denominator])", where=location(path, 1))
    for col in ("year", "emissions_tco2e") + (("denominator",) if "denominator" in frame.columns else ()):
        bad = pd.to_numeric(frame[col], errors="coerce").isna()
        if bad.any():
            row = int(bad.to_numpy().argmax())
            raise UserError(f"not a number: {frame[col].iloc[row]!r}", where=location(path, row + 2, col))
        frame[col] = pd.to_numeric(frame[col])
    frame["plant"] = frame["plant"].astype(str)
    frame["year"] = frame["year"].astype(int)
    if frame.duplicated(["plant", "year"]).any():
        row = int(frame.duplicated(["plant", "year"]).to_numpy().argmax())
        raise UserError("plant and year appear twice", where=location(path, row + 2, "plant"))
    return frame


def cmd_target_set(args) -> int:
    from cms.targets import load_target_file
    from cms.targets_store import save_target_set
    from ems.cli.common import database

    ts = load_target_file(args.file)
    with database() as db, db.connection() as conn:
        version, changed = save_target_set(conn, ts, args.file)
    lines = ", ".join(f"{t.id} ({t.metric}, {len(t.milestones)} milestones)" for t in ts.targets)
    state = "stored" if changed else "unchanged"
    print(f"target set '{ts.id}' version {version} {state}: node {ts.node}, base year {ts.base_year}, "
          f"{len(ts.plants)} plants; lines: {lines}")
    return 0


def _nan_none(v):
    return None if isinstance(v, float) and math.isnan(v) else v


def _inventory_actuals(conn, sets, year: int) -> pd.DataFrame:
    """Actual gross emissions per plant and year from the stored inventories, in each set's scope."""
    from cms.zerocarbon_inputs import _emissions

    rows = []
    for ts in sets:
        for plant in ts.plants:
            em = _emissions(conn, plant, year)
            values = [em.get(f"{scope}_tco2e") for scope in ts.scope]
            if em and all(v is not None for v in values):
                rows.append({"plant": plant, "year": year, "emissions_tco2e": float(sum(values))})
    return pd.DataFrame(rows, columns=["plant", "year", "emissions_tco2e"])


def cmd_target_show(args) -> int:
    from cms.targets import gaps, trajectory
    from cms.targets_assets import retired_frame
    from cms.targets_store import retirements, target_sets_for_node
    from ems.cli.common import database

    actuals = _read_actuals(args.actuals) if args.actuals else None
    with database() as db, db.connection() as conn:
        sets = [s for s in target_sets_for_node(conn, args.node) if not args.set_id or s.id == args.set_id]
        if actuals is None and args.inventories:
            actuals = _inventory_actuals(conn, sets, args.year)
        offsets = retired_frame(retirements(conn, year=args.year)) if actuals is not None else None
    if not sets:
        raise UserError(f"no target set covers node '{args.node}' (load one with 'ems target set FILE')",
                        where="--node")
    out = []
    for ts in sets:
        keep = set(ts.plants) | {ts.node} if args.node == ts.node else {args.node}
        for line in ts.targets:
            if actuals is not None:
                frame = gaps(ts, line.id, actuals[actuals["year"] == args.year], offsets)
            else:
                frame = trajectory(ts, line.id, [args.year])
            frame = frame[frame["plant"].isin(keep)]
            out.append({"target_set": ts.id, "line": line.id, "metric": line.metric, "base_year": ts.base_year,
                        "denominator": line.denominator.model_dump() if line.denominator else None,
                        "milestones": [m.model_dump() for m in line.milestones],
                        "rows": [{k: _nan_none(v) for k, v in r.items()} for r in frame.to_dict("records")]})
    if args.json:
        print(json.dumps(out, indent=2, default=str))
        return 0
    for block in out:
        ms = ", ".join(f"{m['year']} {m['kind']}" + (f" {m['reduction_pct']:g}%" if m["reduction_pct"] is not None
                                                      else "") for m in block["milestones"])
        unit = f", tCO2e per {block['denominator']['unit']}" if block["denominator"] else ""
        print(f"{block['target_set']} / {block['line']} ({block['metric']}{unit}, base {block['base_year']}; {ms})")
        if not block["rows"]:
            print("  no rows (no actuals for this year, or the year is before the base year)")
        frame = pd.DataFrame(block["rows"]).drop(columns=["line"], errors="ignore").dropna(axis=1, how="all")
        if not frame.empty:
            with pd.option_context("display.width", 200, "display.float_format", "{:,.3f}".format):
                print("  " + frame.to_string(index=False).replace("\n", "\n  "))
        print()
    return 0


def cmd_zc_packs(args) -> int:
    from cms.zerocarbon_pack import builtin_packs

    for pack in builtin_packs():
        print(f"{pack.id}@{pack.version}  [{pack.status}]  {pack.standard}: {pack.title.en}")
        for name, prm in pack.parameters.items():
            flag = "configurable" if prm.configurable else "fixed"
            val = "unset" if prm.value is None else f"{prm.value:g} {prm.unit}".strip()
            print(f"    {name} = {val} ({flag}){' - ' + prm.note if prm.note else ''}")
    return 0


def _params(texts: list[str]) -> dict[str, float | None]:
    values: dict[str, float | None] = {}
    for text in texts:
        name, sep, raw = text.partition("=")
        if not sep or not name:
            raise UserError(f"expected NAME=VALUE, got '{text}'", where="--set")
        try:
            values[name.strip()] = None if raw.strip().lower() in ("", "null", "none") else float(raw)
        except ValueError as exc:
            raise UserError(f"'{raw}' is not a number", where=f"--set {name}") from exc
    return values


def cmd_zc_assess(args) -> int:
    from cms.zerocarbon import assess, format_assessment
    from cms.zerocarbon_pack import configure, find_pack, load_record

    pack = find_pack(args.pack)
    if args.params:
        pack = configure(pack, _params(args.params))
    if args.plant:
        if args.year is None:
            raise UserError("--plant needs --year", where="--year")
        from cms.zerocarbon_inputs import plant_record
        from ems.cli.common import database

        with database() as db, db.connection() as conn:
            record = plant_record(conn, args.plant, args.year)
    else:
        record = load_record(args.input)
    result = assess(pack, record)
    if args.json:
        print(json.dumps(result.as_dict(), indent=2, ensure_ascii=False))
    else:
        print(format_assessment(result))
    return 0
