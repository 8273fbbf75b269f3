"""``ems sim``: the plant digital twin (historian exports, closed-loop runs, plant YAML, live feeds)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from ems.errors import UserError


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``sim`` command group to an argparse subparsers object."""
    sim = subparsers.add_parser(
        "sim", help="plant digital twin: synthetic historian exports, closed-loop policy runs, live feeds",
        description="The demo group's plant twin (two synthetic plants, Qingdao-like and Foshan-like). "
                    "A separate physical model built from published equipment curves; see docs/demo-plant.md.")
    sub = sim.add_subparsers(dest="sim_command", metavar="COMMAND")
    sub.required = True

    gen = sub.add_parser("generate", help="simulate the group open-loop and write historian CSV exports",
                         description="Write DIR/<plant>/<plant>_<YYYY-MM>_<15min|1min>.csv for each plant "
                                     "(plant-local time, interval-end labels, point codes as headers, "
                                     "empty cells for gaps) and DIR/sim_manifest.json (injected faults).")
    gen.add_argument("--days", type=float, default=365, help="days to simulate (default 365)")
    gen.add_argument("--out", required=True, help="output directory")
    gen.add_argument("--start", default="2025-01-01", help="first local date, YYYY-MM-DD (default 2025-01-01)")
    gen.add_argument("--seed", type=int, default=1, help="random seed for meter noise and faults (default 1)")
    gen.add_argument("--plants", default=None, help="comma-separated plant codes (default: all, QD,FS)")
    gen.set_defaults(func=_generate, handler=_generate)

    run = sub.add_parser("run", help="run a control policy closed-loop and print energy and comfort figures",
                         description="Closed-loop run of a named policy (baseline, chw_reset_vsd_trim) on one plant.")
    run.add_argument("--plant", required=True, help="plant code (QD or FS)")
    run.add_argument("--policy", default="baseline", help="policy name (default baseline)")
    run.add_argument("--start", default="2025-05-01", help="first local date (default 2025-05-01)")
    run.add_argument("--end", default="2025-10-01", help="end local date, exclusive (default 2025-10-01)")
    run.add_argument("--csv", default=None, help="also write the per-step results to this CSV file")
    run.set_defaults(func=_run, handler=_run)

    yml = sub.add_parser("yaml", help="print (or write) the demo group's plant YAML",
                         description="Render the asset-model YAML of the demo group (examples/plant.yaml).")
    yml.add_argument("--out", default=None, help="write to this file instead of stdout")
    yml.set_defaults(func=_yaml, handler=_yaml)

    live = sub.add_parser("live", help="publish the meters in (accelerated) real time to MQTT and/or OPC UA",
                          description="Step the twin and publish each reading to an MQTT topic tree "
                                      "(<prefix>/<plant>/<point code>) and/or an OPC UA address space.")
    live.add_argument("--plant", default="QD", help="plant code (default QD)")
    live.add_argument("--start", default="2025-07-01", help="first simulated local date (default 2025-07-01)")
    live.add_argument("--steps", type=int, default=96, help="15-min steps to publish (default 96 = one day)")
    live.add_argument("--speed", type=float, default=900.0,
                      help="simulated seconds per wall-clock second (default 900: one step per second)")
    live.add_argument("--mqtt", default=None, help="MQTT broker as host:port (e.g. localhost:1883)")
    live.add_argument("--topic-prefix", default="carbon-cockpit/sim", help="MQTT topic prefix")
    live.add_argument("--opcua", default=None, help="serve OPC UA on this endpoint, e.g. opc.tcp://0.0.0.0:4840/sim")
    live.set_defaults(func=_live, handler=_live)
    return sim


def _generate(args) -> int:
    from ems.sim.generate import generate
    from ems.sim.plants import demo_plants

    try:
        start = pd.Timestamp(args.start)
    except ValueError as exc:
        raise UserError(f"--start '{args.start}' is not a date such as 2025-01-01") from exc
    if args.days <= 0 or args.days > 3660:
        raise UserError(f"--days {args.days:g} must be between 0 and 3660")
    plants = None
    if args.plants:
        plants = [p.strip() for p in args.plants.split(",") if p.strip()]
        unknown = [p for p in plants if p not in demo_plants()]
        if unknown:
            raise UserError(f"unknown plant(s) {', '.join(unknown)} (choose from {', '.join(demo_plants())})")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UserError("output path exists and is not a directory", where=str(out))
    summary = generate(out, days=args.days, start=start.strftime("%Y-%m-%d"), seed=args.seed, plants=plants)
    print(f"wrote {summary['files']} files, {summary['readings']:,} readings to {out} "
          f"in {summary['seconds']:.1f} s (faults listed in {out / 'sim_manifest.json'})")
    return 0


def _run(args) -> int:
    from ems.sim.twin import POLICIES, run_policy, summarise

    if args.policy not in POLICIES:
        raise UserError(f"unknown policy '{args.policy}' (choose from {', '.join(POLICIES)})")
    df = run_policy(args.plant, args.policy, args.start, args.end)
    s = summarise(df)
    print(json.dumps({"plant": args.plant, "policy": args.policy, "start": args.start, "end": args.end,
                      **{k: round(v, 2) for k, v in s.items()}}, indent=2))
    if args.csv:
        df.to_csv(args.csv, index_label="time")
    return 0


def _yaml(args) -> int:
    from ems.sim.points import render_yaml

    text = render_yaml()
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out}")
    else:
        sys.stdout.write(text)
    return 0


def _live(args) -> int:
    from ems.sim.live import run_live

    if not args.mqtt and not args.opcua:
        raise UserError("give --mqtt host:port and/or --opcua endpoint")
    n = run_live(args.plant, start=args.start, steps=args.steps, speed=args.speed, mqtt=args.mqtt,
                 topic_prefix=args.topic_prefix, opcua=args.opcua)
    print(f"published {n:,} readings")
    return 0
