"""``ems serve`` (the service), ``ems jobs`` (scheduled jobs: list, run, runs, alarms) and the
``ems db backup`` / ``ems db restore`` actions (added to ``ems db`` by :func:`add_db_actions`)."""

from __future__ import annotations

import os
import sys

from ems.errors import UserError

_CONFIG_HELP = ("service YAML file (default: $EMS_SERVE_CONFIG, else built-in defaults); "
                "EMS_SERVE__SECTION__KEY variables override it")


def register(sub) -> None:
    p = sub.add_parser(
        "serve", help="run the service: live ingestion, scheduler and cockpit (production WSGI server)",
        description="Runs what the configuration holds in one process (--role all), or one role: web (the "
                    "cockpit), worker (the scheduler; one per database, a second one stands by), ingest (live "
                    "connectors). Every role answers /healthz and /readyz. Logs are JSON lines on stderr. "
                    "SIGTERM / Ctrl-C stop it cleanly (ingestion buffers flushed).")
    p.add_argument("--config", metavar="FILE", help=_CONFIG_HELP)
    p.add_argument("--role", choices=["all", "web", "worker", "ingest"], help="default: the file's role, else all")
    p.add_argument("--host", help="address to listen on (default: web.host, 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default: web.port, 8050; 0 = any free port)")
    p.add_argument("--check", action="store_true", help="validate the configuration, print the plan and exit")
    p.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this many seconds")
    p.set_defaults(handler=cmd_serve)

    j = sub.add_parser("jobs", help="scheduled jobs: list, run now, recent runs, alarms")
    jsub = j.add_subparsers(dest="jobs_command", metavar="ACTION", required=True)
    ls = jsub.add_parser("list", help="the jobs the configuration schedules, and the registry")
    ls.add_argument("--config", metavar="FILE", help=_CONFIG_HELP)
    ls.set_defaults(handler=cmd_jobs_list)
    run = jsub.add_parser("run", help="run one job now (recorded like a scheduled run, with retries)")
    run.add_argument("job", help="job name, or name@SITE for a per-site job")
    run.add_argument("--config", metavar="FILE", help=_CONFIG_HELP)
    run.set_defaults(handler=cmd_jobs_run)
    runs = jsub.add_parser("runs", help="recent runs (newest first)")
    runs.add_argument("--job", help="only this job (name or name@SITE)")
    runs.add_argument("--limit", type=int, default=30)
    runs.set_defaults(handler=cmd_jobs_runs)
    alarms = jsub.add_parser("alarms", help="open job alarms (jobs that failed several runs in a row)")
    alarms.set_defaults(handler=cmd_jobs_alarms)


def add_db_actions(dsub) -> None:
    """``ems db backup FILE`` and ``ems db restore FILE [--replace]``."""
    b = dsub.add_parser("backup", help="dump the database to FILE (pg_dump custom format)",
                        description="pg_dump of the whole database (schema, data, scheduler jobs) with the "
                                    "pg_dump matching the server's major version.")
    b.add_argument("file")
    b.set_defaults(handler=cmd_backup)
    r = dsub.add_parser("restore", help="restore a backup made by 'ems db backup' (then migrate)",
                        description="Replaces the database's public schema with the backup's, then applies "
                                    "newer migrations. Stop 'ems serve' first.")
    r.add_argument("file")
    r.add_argument("--replace", action="store_true", help="allowed to drop a database that holds data")
    r.set_defaults(handler=cmd_restore)


def _config(args):
    from ems.service.config import load_service_config

    return load_service_config(getattr(args, "config", None) or os.environ.get("EMS_SERVE_CONFIG") or None)


def cmd_serve(args) -> int:
    from ems.service.logs import setup_logging
    from ems.service.runtime import Service

    cfg = _config(args)
    if args.check:
        return _print_plan(cfg, args.role or cfg.role)
    setup_logging(cfg.logging.level, cfg.logging.format, role=args.role or cfg.role)
    return Service(cfg, role=args.role, host=args.host, port=args.port).run(args.duration)


def _print_plan(cfg, role: str) -> int:
    from ems.service.scheduler import plan_jobs

    print(f"configuration ok: {cfg.file or 'built-in defaults'}; role {role}; "
          f"web {cfg.web.host}:{cfg.web.port} ({cfg.web.threads} threads)")
    print(f"ingest: {cfg.ingest_path() or 'not configured'}")
    for job in plan_jobs(cfg):
        trigger = f"every {job.schedule.every}" if job.schedule.every else f"cron '{job.schedule.cron}'"
        print(f"job {job.key}: {trigger} ({job.timezone}), {job.retry.attempts} attempt(s) -> {job.target}")
    return 0


def cmd_jobs_list(args) -> int:
    from ems.service.registry import registered
    from ems.service.scheduler import plan_jobs

    cfg = _config(args)
    planned = plan_jobs(cfg)
    print("scheduled:" if planned else "scheduled: none")
    for job in planned:
        trigger = f"every {job.schedule.every}" if job.schedule.every else f"cron '{job.schedule.cron}' {job.timezone}"
        print(f"  {job.key:32s} {trigger}")
    print("registry:")
    for name, spec in sorted(registered().items()):
        print(f"  {name:32s} {'per site ' if spec.per_site else ''}{spec.description}")
    return 0


def cmd_jobs_run(args) -> int:
    from ems.cli.common import database
    from ems.service.scheduler import execute_job, plan_jobs

    cfg = _config(args)
    jobs = {j.key: j for j in plan_jobs(cfg)}
    job = jobs.get(args.job)
    if job is None:
        from ems.service.registry import lookup

        spec = lookup(args.job)
        if spec is None or spec.per_site:
            raise UserError(f"no job '{args.job}' in the configuration (scheduled: {', '.join(sorted(jobs)) or 'none'})",
                            where="JOB")
        from ems.service.config import JobSchedule
        from ems.service.scheduler import PlannedJob

        job = PlannedJob(spec.name, spec.name, None, spec.target, False, JobSchedule(every="1d"),
                         cfg.scheduler.timezone, cfg.scheduler.retry, cfg.scheduler.misfire_grace_s)
    with database() as db:
        status = execute_job(db, job, alarm_after=cfg.scheduler.alarm_after_failures)
        with db.connection() as conn:
            row = conn.execute("SELECT rows_touched, error, finished_at - started_at FROM job_run WHERE job_key = %s "
                               "ORDER BY run_id DESC LIMIT 1", (job.key,)).fetchone()
    print(f"{job.key}: {status}, rows {row[0]}, {row[2].total_seconds():.2f} s" + (f": {row[1]}" if row[1] else ""))
    return 0 if status == "ok" else 1


def cmd_jobs_runs(args) -> int:
    from ems.cli.common import database
    from ems.service.runs import recent_runs

    with database() as db, db.connection() as conn:
        rows = recent_runs(conn, args.job, args.limit)
    if not rows:
        print("no runs recorded")
    for run_id, key, status, attempt, due, start, end, touched, error in rows:
        took = f"{(end - start).total_seconds():.2f} s" if end and start else "-"
        late = f" late {(start - due).total_seconds():.1f} s" if due and start else ""
        print(f"{run_id:>7} {start:%Y-%m-%d %H:%M:%S} {key:28s} {status:8s} #{attempt} {took}{late} "
              f"rows {touched if touched is not None else '-'}" + (f"  {error}" if error else ""))
    return 0


def cmd_jobs_alarms(args) -> int:
    from ems.cli.common import database
    from ems.service.runs import open_alarms

    with database() as db, db.connection() as conn:
        rows = open_alarms(conn)
    if not rows:
        print("no open job alarms")
    for alarm_id, key, raised, failures, error, _ack in rows:
        print(f"alarm {alarm_id}: {key} failed {failures} runs in a row (since {raised:%Y-%m-%d %H:%M:%S}): {error}")
    return 1 if rows else 0


def _url() -> str:
    from ems.db.connection import open_database

    db = open_database(migrate=False, max_size=1)   # starts the embedded server when no URL is set
    url = db.url
    db.close()
    return url


def cmd_backup(args) -> int:
    from ems.service.backup import backup

    res = backup(_url(), args.file)
    print(f"backup written: {res.file} ({res.bytes / 1e6:.1f} MB in {res.seconds:.1f} s; PostgreSQL "
          f"{res.server_version}, {res.tool.version} at {res.tool.path.parent})")
    return 0


def cmd_restore(args) -> int:
    from ems.service.backup import restore

    res = restore(_url(), args.file, replace=args.replace)
    counts = ", ".join(f"{k} {v}" for k, v in res.counts.items())
    print(f"restored {res.file} in {res.seconds:.1f} s with {res.tool.version}; {counts}")
    if res.migrations_applied:
        print("migrations applied after restore: " + ", ".join(res.migrations_applied))
    print("restart the service (ems serve) to use the restored database", file=sys.stderr)
    return 0
