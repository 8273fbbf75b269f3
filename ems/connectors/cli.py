"""``ems ingest serve --config FILE`` (live connectors) and ``ems connectors check|maps|buffer``."""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
from pathlib import Path

from ems.errors import UserError


def add_serve(isub) -> None:
    """Add ``serve`` to the ``ems ingest`` sub-commands (called from ems.cli.ingest_cmd)."""
    p = isub.add_parser(
        "serve", help="live connectors (MQTT, OPC UA, Modbus TCP) with store-and-forward",
        description="Run a site's live connectors until interrupted (Ctrl-C / SIGTERM). Readings pass a durable "
                    "buffer in $EMS_DATA_DIR/buffer and the same validation, counters and quarantine as "
                    "'ems ingest csv'. While the database is unreachable they wait on disk; a clean stop "
                    "flushes the buffer.")
    p.add_argument("--config", required=True, metavar="FILE", help="connectors YAML of one site")
    p.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this many seconds")
    p.set_defaults(handler=cmd_serve)


def register(sub) -> None:
    p = sub.add_parser("connectors", help="live connector files, Modbus register maps, the buffer")
    csub = p.add_subparsers(dest="connectors_command", metavar="ACTION", required=True)
    check = csub.add_parser("check", help="validate a connectors YAML file (and its register maps)")
    check.add_argument("file")
    check.set_defaults(handler=cmd_check)
    maps = csub.add_parser("maps", help="list the shipped Modbus register maps")
    maps.add_argument("model", nargs="?", help="show the registers of one map")
    maps.set_defaults(handler=cmd_maps)
    buf = csub.add_parser("buffer", help="items waiting in (and set aside by) a site's store-and-forward buffer")
    buf.add_argument("--config", required=True, metavar="FILE")
    buf.set_defaults(handler=cmd_buffer)


def cmd_check(args) -> int:
    from ems.connectors.config import load_connectors_file

    cfg = load_connectors_file(args.file)
    kinds = ", ".join(f"{c.name} ({c.type})" for c in cfg.connectors)
    print(f"{args.file}: site {cfg.site}, {len(cfg.connectors)} connector(s): {kinds}")
    return 0


def cmd_maps(args) -> int:
    from ems.connectors.registers import load_register_map, shipped_maps

    if args.model:
        m = load_register_map(args.model)
        print(f"{m.model}: {m.source}")
        for r in m.registers.values():
            print(f"  {r.name:28s} {r.function:7s} address {r.address:5d}  {r.type:7s} x{r.scale:g} {r.unit}"
                  f" (words {r.word_order}-first)")
        return 0
    for name in shipped_maps():
        print(f"{name}: {load_register_map(name).source}")
    return 0


def cmd_buffer(args) -> int:
    from ems.connectors.buffer import DiskBuffer
    from ems.connectors.config import load_connectors_file
    from ems.connectors.service import buffer_path

    path = buffer_path(load_connectors_file(args.config))
    if not path.exists():
        print(f"{path}: no buffer yet")
        return 0
    buf = DiskBuffer(path)
    dead = buf.dead()
    print(f"{path}: {buf.count()} item(s) waiting, {len(dead)} set aside")
    for row in dead[:20]:
        print(f"  seq {row[0]} {row[2]} {row[4]}: {row[-2]}")
    buf.close()
    return 0


def cmd_serve(args) -> int:
    from ems.connectors.config import load_connectors_file
    from ems.connectors.service import LiveService
    from ems.db import open_database
    from ems.settings import load_settings

    cfg = load_connectors_file(args.config)
    base = Path(args.config).parent
    try:
        db = open_database()
    except UserError as exc:
        url = load_settings().database_url
        if not url:  # the embedded server did not start: nothing to forward to later either
            raise
        # a server that is down now: connectors run and buffer on disk until it answers
        print(f"warning: {exc}; readings wait in the buffer until the database answers", file=sys.stderr)
        return _run(LiveService(cfg, url, base_dir=base), args.duration)
    try:
        with db.connection() as conn:
            if conn.execute("SELECT 1 FROM node WHERE code = %s", (cfg.site,)).fetchone() is None:
                raise UserError(f"site '{cfg.site}' is not in the asset model (load it: ems config load FILE)",
                                where=args.config)
        return _run(LiveService(cfg, db.url, base_dir=base), args.duration)
    finally:
        db.close()


def _run(service, duration: float | None) -> int:
    def stop(*_):
        service.request_stop()

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, stop)
    if duration:
        timer = threading.Timer(duration, stop)
        timer.daemon = True
        timer.start()
    print(f"serving {len(service.connectors)} connector(s) for site {service.cfg.site}; buffer {service.buffer.path}",
          file=sys.stderr)
    try:
        asyncio.run(service.run())
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    s = service.forwarder.stats
    print(f"received {s.received}, stored {s.written}, duplicates {s.duplicates}, quarantined {s.quarantined}, "
          f"database outages seen {s.db_failures}, left in buffer {service.left_in_buffer}, set aside {s.dead}")
    return 0 if not service.left_in_buffer else 4
