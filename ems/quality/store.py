"""The data-quality job's I/O: which point-days to (re)compute, read their readings, store the figures.

Incremental: the hours queued in ``quality_dirty`` (a trigger copies every roll-up dirty mark there) name
the point-days to recompute; the local day in progress is recomputed for every metered point on each
run (staleness moves with the clock). Point checks read raw readings; the meter-tree balance reads the
roll-ups, so a balance whose hours still wait for the roll-up refresh stays queued for the next run.
Schedule the job after ``rollup_refresh``.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

import pandas as pd
import psycopg

from ems.quality.balance import balance
from ems.quality.checks import Thresholds, point_day
from ems.readings.store import read_series
from ems.rollups.virtual import parse_formula
from ems.units import conversion

DEFAULT = Thresholds()
LOOKBACK = pd.Timedelta("1D")   # readings before the day read for runs, staleness and outlier windows


@dataclass
class QualityResult:
    point_days: int
    balance_rows: int
    deferred: int

    @property
    def rows_touched(self) -> int:
        return self.point_days + self.balance_rows


def load_points(conn: psycopg.Connection) -> dict[int, dict]:
    rows = conn.cursor(row_factory=psycopg.rows.dict_row).execute(
        """SELECT p.point_id, p.code, p.kind, p.unit, p.interval_s, p.min_value, p.max_value, p.max_rate_per_h,
                  p.parent_point_id,
                  p.formula, p.tags, n.timezone FROM point p JOIN node n USING (node_id)""").fetchall()
    return {r["point_id"]: r for r in rows}


def thresholds_for(point: dict, base: Thresholds = DEFAULT) -> Thresholds:
    tags = point.get("tags") or {}
    quality = tags.get("quality") if isinstance(tags.get("quality"), dict) else {}
    if "balance_tolerance" in tags:
        quality = {**quality, "balance_tolerance": tags["balance_tolerance"]}
    return base.with_overrides(quality)


def day_bounds(day: dt.date, tz: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    start = pd.Timestamp(day).tz_localize(tz)
    end = pd.Timestamp(day + dt.timedelta(days=1)).tz_localize(tz)
    return start.tz_convert("UTC"), end.tz_convert("UTC")


def _local_day(ts, tz: str) -> dt.date:
    return pd.Timestamp(ts).tz_convert(tz).date()


def balance_groups(points: dict[int, dict]) -> dict[int, dict]:
    """Parent point id -> {'children': [ids], 'involved': {ids whose data move the balance}}."""
    by_code = {p["code"]: pid for pid, p in points.items()}

    def refs(pid: int, depth: int = 0) -> set[int]:
        p = points[pid]
        if not p["formula"] or depth > 10:
            return {pid}
        out = {pid}
        for code in parse_formula(p["formula"]).codes:
            if code in by_code:
                out |= refs(by_code[code], depth + 1)
        return out

    groups: dict[int, dict] = {}
    for pid, p in points.items():
        parent = p["parent_point_id"]
        if parent is not None and parent in points:
            groups.setdefault(parent, {"children": [], "involved": refs(parent)})
            groups[parent]["children"].append(pid)
            groups[parent]["involved"] |= refs(pid)
    return groups


def run_quality(conn: psycopg.Connection, *, now: pd.Timestamp | None = None, base: Thresholds = DEFAULT,
                include_today: bool = True, days: dict[int, set[dt.date]] | None = None) -> QualityResult:
    """Recompute the queued point-days (or ``days``: point id -> local days) and their balances."""
    now = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now).tz_convert("UTC")
    points = load_points(conn)
    by_code = {p["code"]: pid for pid, p in points.items()}
    todo: dict[int, set[dt.date]] = defaultdict(set)
    with conn.transaction():
        run_id = conn.execute("INSERT INTO quality_run DEFAULT VALUES RETURNING run_id").fetchone()[0]
        if days is None:
            for pid, hour in conn.execute("DELETE FROM quality_dirty RETURNING point_id, hour_utc"):
                if pid in points:
                    todo[pid].add(_local_day(hour, points[pid]["timezone"]))
        else:
            for pid, ds in days.items():
                todo[pid] |= set(ds)
    if include_today:
        for pid, p in points.items():
            if p["interval_s"] and not p["formula"]:
                todo[pid].add(_local_day(now, p["timezone"]))
    # a virtual meter's days follow its references'
    for pid, p in points.items():
        if p["formula"]:
            for code in parse_formula(p["formula"]).codes:
                todo[pid] |= todo.get(by_code.get(code, -1), set())
    point_days = _compute_point_days(conn, points, {k: v for k, v in todo.items() if v}, now, base)
    balance_rows, deferred = _compute_balances(conn, points, todo, base)
    with conn.transaction():
        conn.execute("UPDATE quality_run SET finished_at = now(), point_days = %s, balance_rows = %s, deferred = %s "
                     "WHERE run_id = %s", (point_days, balance_rows, deferred, run_id))
    return QualityResult(point_days, balance_rows, deferred)


def _siblings(points: dict[int, dict], pid: int) -> list[int]:
    parent = points[pid]["parent_point_id"]
    if parent is None:
        return []
    out = [q for q, p in points.items() if p["parent_point_id"] == parent and q != pid and not p["formula"]]
    if parent in points and not points[parent]["formula"]:
        out.append(parent)
    return out


def _hourly(frame: pd.DataFrame, tz: str) -> pd.Series:
    """Hourly consumption (local hours, deltas assigned to the hour their interval ends in)."""
    d = frame[frame["delta"].notna()]
    if d.empty:
        return pd.Series(dtype=float)
    hours = (d["ts"] - pd.Timedelta("1us")).dt.tz_convert(tz).dt.floor("h")
    return d.groupby(hours.to_numpy())["delta"].sum()


def _compute_point_days(conn, points, todo: dict[int, set[dt.date]], now, base) -> int:
    by_day: dict[tuple[dt.date, str], list[int]] = defaultdict(list)
    for pid, ds in todo.items():
        for d in ds:
            by_day[(d, points[pid]["timezone"])].append(pid)
    rows = []
    for (day, tz), pids in sorted(by_day.items()):
        start, end = day_bounds(day, tz)
        metered = [p for p in pids if not points[p]["formula"]]
        wanted = set(metered)
        for p in metered:
            if points[p]["kind"] == "cumulative":
                wanted |= set(_siblings(points, p))
        frame = read_series(conn, sorted(wanted), start - LOOKBACK, end) if wanted else pd.DataFrame(
            columns=["point_id", "ts", "value", "delta", "quality"])
        groups = dict(tuple(frame.groupby("point_id"))) if len(frame) else {}
        empty = frame.iloc[0:0]
        existing = {r[0] for r in conn.execute("SELECT point_id FROM quality_day WHERE day = %s AND point_id = ANY(%s)",
                                               (day, pids))}
        for pid in metered:
            p = points[pid]
            own_frame = groups.get(pid, empty)
            in_day = own_frame[(own_frame["ts"] >= start) & (own_frame["ts"] < end)]
            if in_day.empty and pid not in existing and not (start <= now < end):
                continue   # a neighbouring day touched only by the hour marks, without any reading of its own
            own_h = others_h = None
            sibs = _siblings(points, pid)
            if p["kind"] == "cumulative" and sibs:
                in_day = own_frame[(own_frame["ts"] > start) & (own_frame["ts"] <= end)]
                own_h = _hourly(in_day, tz)
                sib_frames = [groups[s] for s in sibs if s in groups]
                others = pd.concat(sib_frames) if sib_frames else empty
                others_h = _hourly(others[(others["ts"] > start) & (others["ts"] <= end)], tz)
            res = point_day(own_frame, kind=p["kind"], interval_s=p["interval_s"], min_value=p["min_value"],
                            max_value=p["max_value"], start=start, end=end, now=now, th=thresholds_for(p, base),
                            own_hourly=own_h, others_hourly=others_h, max_rate_per_h=p["max_rate_per_h"])
            rows.append((pid, day, res.expected, res.received, res.completeness,
                         None if res.last_ts is None else res.last_ts.to_pydatetime(), res.stale_intervals,
                         res.flatline_h, res.frozen_h, res.spikes, res.out_of_range, res.negative, res.off_grid,
                         res.future, res.max_offset_s, res.issues))
        for pid in pids:
            if points[pid]["formula"]:
                row = _virtual_day(conn, pid, day, start, end)
                if row[3] or pid in existing:
                    rows.append(row)
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO quality_day (point_id, day, expected, received, completeness, last_ts, stale_intervals,
                   flatline_h, frozen_h, spikes, out_of_range, negative, off_grid, future, max_offset_s, issues)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (point_id, day) DO UPDATE SET expected = EXCLUDED.expected, received = EXCLUDED.received,
                   completeness = EXCLUDED.completeness, last_ts = EXCLUDED.last_ts,
                   stale_intervals = EXCLUDED.stale_intervals, flatline_h = EXCLUDED.flatline_h,
                   frozen_h = EXCLUDED.frozen_h, spikes = EXCLUDED.spikes, out_of_range = EXCLUDED.out_of_range,
                   negative = EXCLUDED.negative, off_grid = EXCLUDED.off_grid, future = EXCLUDED.future,
                   max_offset_s = EXCLUDED.max_offset_s, issues = EXCLUDED.issues, computed_at = now()""", rows)
    return len(rows)


def _virtual_day(conn, pid: int, day: dt.date, start, end) -> tuple:
    """A virtual meter's day: hours of its roll-up and negative hours (e.g. 'rest = main - chillers' < 0)."""
    n, neg = conn.execute(
        """SELECT count(sum_delta), count(*) FILTER (WHERE sum_delta < 0) FROM rollup_point
           WHERE grain = 'hour' AND point_id = %s AND bucket >= %s AND bucket < %s""", (pid, start, end)).fetchone()
    issues = ["negative"] if neg else []
    return (pid, day, None, n, None, None, None, 0.0, 0.0, 0, 0, neg, 0, 0, None, issues)


def _compute_balances(conn, points, todo: dict[int, set[dt.date]], base) -> tuple[int, int]:
    groups = balance_groups(points)
    pending = {pid for (pid,) in conn.execute("SELECT DISTINCT point_id FROM dirty_hour")}
    work: dict[tuple[int, dt.date], None] = {}
    requeue: set[tuple[int, dt.date]] = set()
    for parent, g in groups.items():
        for pid in g["involved"]:
            for d in todo.get(pid, ()):
                if g["involved"] & pending:
                    requeue.add((parent, d))
                else:
                    work[(parent, d)] = None
    written = 0
    for parent, day in sorted(work):
        written += _balance_day(conn, points, parent, groups[parent]["children"], day, base)
    if requeue:   # roll-ups not refreshed yet: compute on a later run
        with conn.transaction(), conn.cursor() as cur:
            rows = []
            for parent, day in requeue:
                start, _ = day_bounds(day, points[parent]["timezone"])
                rows.append((parent, start.floor("h").to_pydatetime()))
            cur.executemany("INSERT INTO quality_dirty (point_id, hour_utc) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                            rows)
    return written, len(requeue)


def _balance_day(conn, points, parent: int, children: list[int], day: dt.date, base: Thresholds) -> int:
    p = points[parent]
    tol = thresholds_for(p, base).balance_tolerance
    start, end = day_bounds(day, p["timezone"])
    ids = [parent, *children]
    written = 0
    with conn.transaction():
        for grain in ("hour", "day"):
            rows = conn.execute(
                """SELECT point_id, bucket, sum_delta FROM rollup_point WHERE grain = %s AND point_id = ANY(%s)
                   AND bucket >= %s AND bucket < %s""", (grain, ids, start, end)).fetchall()
            frame = pd.DataFrame(rows, columns=["point_id", "bucket", "v"])
            wide = frame.pivot_table(index="bucket", columns="point_id", values="v", aggfunc="first", dropna=False)
            kids = pd.DataFrame(index=wide.index)
            for c in children:
                scale, _ = conversion(points[c]["unit"], p["unit"])
                kids[c] = (wide[c] if c in wide else pd.Series(float("nan"), index=wide.index)) * scale
            parent_s = wide[parent] if parent in wide else pd.Series(float("nan"), index=wide.index)
            result = balance(parent_s, kids, tol)
            conn.execute("DELETE FROM quality_balance WHERE parent_point_id = %s AND grain = %s AND bucket >= %s "
                         "AND bucket < %s", (parent, grain, start, end))
            out = [(parent, grain, r.bucket, _f(r.parent_value), _f(r.children_value), int(r.n_children),
                    int(r.children_with_data), _f(r.unaccounted), _f(r.share), tol, r.ok)
                   for r in result.itertuples(index=False)]
            with conn.cursor() as cur:
                cur.executemany("""INSERT INTO quality_balance (parent_point_id, grain, bucket, parent_value,
                                       children_value, n_children, children_with_data, unaccounted, share, tolerance, ok)
                                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""", out)
            written += len(out)
    return written


def _f(x) -> float | None:
    return None if x is None or pd.isna(x) else float(x)
