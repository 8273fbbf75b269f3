"""``ems``: the command line of Carbon Cockpit.

Errors a user can cause print one line naming the file, line and field, and exit with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import os
import sys
import traceback

from ems.errors import UserError

# Command modules of other packages, each with register(subparsers); registered when present.
OPTIONAL_COMMANDS = (
    "ems.cli.sim_cmd", "ems.cli.demo_cmd", "ems.cli.analyze_cmd", "ems.cli.serve_cmd",
    "cms.cli", "cms.targets_cli", "cms.report_cli", "cms.assets_cli", "forecasting.cli", "ems.alarms.cli", "ems.connectors.cli", "ems.optimize.cli",
)


def _present(module: str) -> bool:
    """True when the module exists (its import errors are not hidden: they surface on import)."""
    parts = module.split(".")
    for i in range(1, len(parts) + 1):
        if importlib.util.find_spec(".".join(parts[:i])) is None:
            return False
    return True


def build_parser() -> argparse.ArgumentParser:
    from ems.cli import config_cmd, cost_cmd, db_cmd, ingest_cmd, readings_cmd, rollup_cmd

    parser = argparse.ArgumentParser(
        prog="ems",
        description="Carbon Cockpit: factory energy and carbon management. State lives in $EMS_DATA_DIR "
                    "(default ./var); set EMS_DATABASE_URL to use a PostgreSQL/TimescaleDB server instead of "
                    "the embedded one.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (db_cmd, config_cmd, ingest_cmd, readings_cmd, rollup_cmd, cost_cmd):
        module.register(sub)
    for name in OPTIONAL_COMMANDS:
        if _present(name):
            importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args.handler(args) or 0)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug, not the user's fault: one line, full trace with EMS_DEBUG=1
        if os.environ.get("EMS_DEBUG"):
            traceback.print_exc()
        print(f"internal error: {type(exc).__name__}: {exc} (set EMS_DEBUG=1 for the trace)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
