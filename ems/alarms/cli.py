"""``ems quality`` (data-quality figures and meter-tree balance) and ``ems alarms`` (rules, events,
acknowledgement)."""

from __future__ import annotations

import getpass
import sys

import pandas as pd

from ems.cli.common import database
from ems.errors import UserError


def register(sub) -> None:
    q = sub.add_parser("quality", help="data quality per point and day; meter-tree balance")
    qsub = q.add_subparsers(dest="quality_command", metavar="ACTION", required=True)
    r = qsub.add_parser("run", help="recompute the point-days touched since the last run (and today)")
    r.add_argument("--node", help="with --day: recompute that day for every point below this node")
    r.add_argument("--day", help="local day, e.g. 2025-07-01 (needs --node)")
    r.add_argument("--now", help="evaluate as of this time (default: now), e.g. '2025-07-01 18:00' (the node's local time with "
                        "--node, else UTC unless an offset is given)")
    r.set_defaults(handler=cmd_quality_run)
    s = qsub.add_parser("show", help="figures of the points below a node for one day, and their balances")
    s.add_argument("--node", required=True)
    s.add_argument("--day", help="local day (default: the latest computed day)")
    s.set_defaults(handler=cmd_quality_show)

    a = sub.add_parser("alarms", help="alarm rules, events and acknowledgements")
    asub = a.add_subparsers(dest="alarms_command", metavar="ACTION", required=True)
    run = asub.add_parser("run", help="evaluate the rules and send notifications")
    run.add_argument("--rules", help="rules file (default: the rule set loaded with 'ems alarms rules load')")
    run.add_argument("--since", help="where subjects never evaluated start (default: each rule's lookback); UTC unless an "
                          "offset is given, e.g. '2025-07-01T00:00+08:00'")
    run.add_argument("--now", help="evaluate up to this time (default: now; UTC unless an offset is given)")
    run.add_argument("--no-notify", action="store_true", help="record events without sending notifications")
    run.set_defaults(handler=cmd_alarms_run)
    ls = asub.add_parser("list", help="alarm events, newest first")
    ls.add_argument("--open", action="store_true", help="only events that have not ended")
    ls.add_argument("--unacked", action="store_true", help="only events nobody acknowledged")
    ls.add_argument("--rule", help="only this rule id")
    ls.add_argument("--limit", type=int, default=50)
    ls.set_defaults(handler=cmd_alarms_list)
    ack = asub.add_parser("ack", help="acknowledge an event with a note")
    ack.add_argument("event_id", type=int, metavar="EVENT_ID")
    ack.add_argument("--note", required=True)
    ack.add_argument("--by", help="who acknowledges (default: the login name)")
    ack.set_defaults(handler=cmd_alarms_ack)
    rules = asub.add_parser("rules", help="check or load a rules file")
    rsub = rules.add_subparsers(dest="rules_command", metavar="ACTION", required=True)
    chk = rsub.add_parser("check", help="validate a rules file (errors name file, line and field)")
    chk.add_argument("file")
    chk.set_defaults(handler=cmd_rules_check)
    load = rsub.add_parser("load", help="validate a rules file and make it the rule set the job uses")
    load.add_argument("file")
    load.set_defaults(handler=cmd_rules_load)


def _time(text: str | None, flag: str, tz: str = "UTC") -> pd.Timestamp | None:
    if text is None:
        return None
    from ems.cli.readings_cmd import parse_time

    return parse_time(text, tz, flag).tz_convert("UTC")


def _node_tz(conn, code: str) -> str:
    row = conn.execute("SELECT timezone FROM node WHERE code = %s", (code,)).fetchone()
    if row is None:
        raise UserError(f"no node with code '{code}' (see 'ems nodes')", where="--node")
    return row[0]


def _day(text: str, flag: str = "--day"):
    try:
        return pd.Timestamp(text).date()
    except (ValueError, TypeError) as exc:
        raise UserError(f"'{text}' is not a day such as 2025-07-01", where=flag) from exc


def cmd_quality_run(args) -> int:
    from ems.assets.store import subtree_node_ids
    from ems.quality.store import run_quality

    if bool(args.node) != bool(args.day):
        raise UserError("--node and --day go together", where="--day" if args.node else "--node")
    with database() as db, db.connection() as conn:
        days = None
        if args.day:
            day = _day(args.day)
            ids = subtree_node_ids(conn, args.node)
            days = {pid: {day} for (pid,) in conn.execute("SELECT point_id FROM point WHERE node_id = ANY(%s)", (ids,))}
        res = run_quality(conn, now=_time(args.now, "--now", "UTC" if not args.node else _node_tz(conn, args.node)),
                          days=days, include_today=days is None)
    print(f"data quality: {res.point_days} point-days, {res.balance_rows} balance rows"
          + (f", {res.deferred} balances wait for the roll-up refresh" if res.deferred else ""))
    return 0


def cmd_quality_show(args) -> int:
    from ems.assets.store import subtree_node_ids

    with database() as db, db.connection() as conn:
        ids = subtree_node_ids(conn, args.node)
        day = _day(args.day) if args.day else conn.execute(
            "SELECT max(q.day) FROM quality_day q JOIN point p USING (point_id) WHERE p.node_id = ANY(%s)",
            (ids,)).fetchone()[0]
        if day is None:
            print(f"no data-quality figures below {args.node} yet (run 'ems quality run')")
            return 0
        rows = conn.execute(
            """SELECT p.code, q.completeness, q.received, q.expected, q.stale_intervals, q.flatline_h, q.frozen_h,
                      q.spikes, q.out_of_range, q.negative, q.off_grid, q.future, q.issues
               FROM quality_day q JOIN point p USING (point_id) WHERE p.node_id = ANY(%s) AND q.day = %s
               ORDER BY p.code""", (ids, day)).fetchall()
        print(f"data quality below {args.node} on {day}")
        print(f"{'point':<22} {'complete':>9} {'stale':>5} {'flat_h':>6} {'frozen_h':>8} {'spike':>5} {'range':>5} "
              f"{'neg':>4} {'skew':>4} {'future':>6}  issues")
        for code, share, rec, exp, stale, flat, frozen, spk, oor, neg, skew, fut, issues in rows:
            comp = f"{share:.1%}" if share is not None else "-"
            print(f"{code:<22} {comp:>9} {_n(stale):>5} {flat:>6.2f} {frozen:>8.2f} {spk:>5} {oor:>5} {neg:>4} "
                  f"{skew:>4} {fut:>6}  {', '.join(issues) or 'ok'}"
                  + (f"  ({rec}/{exp} intervals)" if exp else ""))
        tz = _node_tz(conn, args.node)
        bal = conn.execute(
            """SELECT p.code, b.grain, b.bucket, b.parent_value, b.children_value, b.share, b.tolerance, b.ok
               FROM quality_balance b JOIN point p ON p.point_id = b.parent_point_id
               WHERE p.node_id = ANY(%s) AND b.bucket >= %s AND b.bucket < %s ORDER BY p.code, b.grain, b.bucket""",
            (ids, pd.Timestamp(day).tz_localize(tz), pd.Timestamp(day).tz_localize(tz) + pd.Timedelta("1D"))).fetchall()
        parents = dict.fromkeys(r[0] for r in bal)
        for code in parents:
            mine = [r for r in bal if r[0] == code]
            daily = [r for r in mine if r[1] == "day"]
            hours = [r for r in mine if r[1] == "hour"]
            bad = sum(1 for r in hours if r[7] is False)
            d = daily[0] if daily else None
            share = f"{d[5]:+.2%}" if d and d[5] is not None else "n/a"
            tol = f"{(d or mine[0])[6]:.1%}"
            print(f"balance {code}: day parent {_n(d and d[3])}, children {_n(d and d[4])}, unaccounted {share} "
                  f"(tolerance {tol}); hours beyond tolerance: {bad} of {len(hours)}")
    return 0


def _n(x) -> str:
    if x is None:
        return "-"
    return f"{x:,.2f}" if isinstance(x, float) else str(x)


def _rules(conn, path: str | None):
    from ems.alarms.rules import load_rules
    from ems.alarms.store import current_rule_set

    if path:
        return load_rules(path)
    rules = current_rule_set(conn)
    if rules is None:
        raise UserError("no rule set loaded: give --rules FILE or run 'ems alarms rules load FILE'", where="--rules")
    return rules


def cmd_alarms_run(args) -> int:
    from ems.alarms.engine import run_alarms

    with database() as db, db.connection() as conn:
        rules = _rules(conn, args.rules)
        res = run_alarms(conn, rules, now=_time(args.now, "--now"), since=_time(args.since, "--since"),
                         notify=not args.no_notify)
    print(f"alarms: {res.samples} samples, {res.raised} raised, {res.cleared} cleared, "
          f"{res.notified} notifications sent, {res.failed} failed")
    for err in res.errors:
        print(f"warning: {err}", file=sys.stderr)
    return 0


def cmd_alarms_list(args) -> int:
    from ems.alarms.store import list_events

    with database() as db, db.connection() as conn:
        frame = list_events(conn, open_only=args.open, unacked=args.unacked, rule_id=args.rule, limit=args.limit)
    if frame.empty:
        print("no alarm events")
        return 0
    for e in frame.itertuples(index=False):
        end = "open" if e.ended_at is None else f"ended {pd.Timestamp(e.ended_at):%Y-%m-%d %H:%M}"
        ack = f"acked by {e.acked_by}: {e.ack_note}" if e.acked_at is not None else "not acked"
        print(f"#{e.event_id} [{e.severity}] {e.message} | started {pd.Timestamp(e.started_at):%Y-%m-%d %H:%M %Z}, "
              f"{end} | peak {e.peak_value:.4g} | {ack}")
    return 0


def cmd_alarms_ack(args) -> int:
    from ems.alarms.store import acknowledge

    who = args.by or getpass.getuser()
    with database() as db, db.connection() as conn:
        ev = acknowledge(conn, args.event_id, who, args.note)
    print(f"acknowledged #{ev['event_id']} ({ev['rule_id']} on {ev['subject']}) by {who}: {args.note}")
    return 0


def cmd_rules_check(args) -> int:
    from ems.alarms.rules import load_rules

    rules = load_rules(args.file)
    print(f"{args.file}: {len(rules.rules)} rules, {len(rules.notifiers)} notifiers: ok")
    return 0


def cmd_rules_load(args) -> int:
    from ems.alarms.store import save_rule_set

    with database() as db, db.connection() as conn:
        set_id, rules = save_rule_set(conn, args.file)
    print(f"rule set {set_id} in force: {len(rules.rules)} rules from {args.file}")
    return 0
