"""What each rule type watches: per subject, a value series over (since, until]. Reads the database;
the arithmetic is in pure helpers (``rate_per_hour``, ``forecast_deviation``) and ems.analytics.enpi."""

from __future__ import annotations

import numpy as np
import pandas as pd
import psycopg

from ems.alarms.rules import (
    EnpiRule,
    ForecastRule,
    ImbalanceRule,
    QualityRule,
    RateRule,
    ThresholdRule,
    _Rule,
)
from ems.analytics import enpi
from ems.assets.store import subtree_node_ids
from ems.errors import UserError
from ems.units import conversion

Signals = dict[str, pd.Series]   # subject code -> values indexed by UTC timestamps


def _point(conn: psycopg.Connection, code: str) -> dict:
    row = conn.cursor(row_factory=psycopg.rows.dict_row).execute(
        "SELECT point_id, code, kind, unit, formula FROM point WHERE code = %s", (code,)).fetchone()
    if row is None:
        raise UserError(f"no point with code '{code}'", where="alarm rule")
    return row


def _series(rows) -> pd.Series:
    if not rows:
        return pd.Series(dtype=float, index=pd.DatetimeIndex([], tz="UTC"))
    idx = pd.DatetimeIndex(pd.to_datetime([r[0] for r in rows], utc=True))
    return pd.Series([np.nan if r[1] is None else float(r[1]) for r in rows], index=idx, dtype=float)


def _raw(conn, point: dict, since, until) -> pd.Series:
    col = "value" if point["kind"] == "instantaneous" else "delta"
    return _series(conn.execute(f"SELECT ts, {col} FROM reading WHERE point_id = %s AND ts > %s AND ts <= %s "
                                "ORDER BY ts", (point["point_id"], since, until)).fetchall())


def _rollup(conn, point: dict, grain: str, since, until) -> pd.Series:
    col = "mean" if point["kind"] == "instantaneous" else "sum_delta"
    return _series(conn.execute(f"SELECT bucket, {col} FROM rollup_point WHERE grain = %s AND point_id = %s "
                                "AND bucket > %s AND bucket <= %s ORDER BY bucket",
                                (grain, point["point_id"], since, until)).fetchall())


def rate_per_hour(values: pd.Series, additive: bool) -> pd.Series:
    """|Δvalue| per hour (instantaneous) or interval quantity per hour (additive), at each later sample."""
    v = values.dropna()
    hours = pd.Series(v.index, index=v.index).diff().dt.total_seconds() / 3600
    rate = v / hours if additive else v.diff().abs() / hours
    return rate.replace([np.inf, -np.inf], np.nan).dropna()


def forecast_deviation(actual: pd.Series, p50: pd.Series) -> pd.Series:
    """|actual - p50| / |p50| where both exist and p50 is not zero."""
    with np.errstate(divide="ignore", invalid="ignore"):
        dev = (actual - p50).abs() / p50.abs()
    return dev.replace([np.inf, -np.inf], np.nan).dropna()


def threshold(conn, rule: ThresholdRule, since, until) -> Signals:
    p = _point(conn, rule.point)
    return {p["code"]: _raw(conn, p, since, until) if rule.grain == "raw" else _rollup(conn, p, rule.grain, since, until)}


def rate_of_change(conn, rule: RateRule, since, until) -> Signals:
    p = _point(conn, rule.point)
    raw = _raw(conn, p, since - pd.Timedelta("1D"), until)   # one earlier sample is needed for the first rate
    rate = rate_per_hour(raw, p["kind"] != "instantaneous")
    return {p["code"]: rate[rate.index > since]}


def forecast(conn, rule: ForecastRule, since, until) -> Signals:
    """Deviation from the champion forecast, the latest issue for each time; empty without forecasts."""
    if conn.execute("SELECT to_regclass('forecast_value') IS NOT NULL AND to_regclass('forecast_model') IS NOT NULL"
                    ).fetchone()[0] is not True:
        return {rule.point: _series([])}
    rows = conn.execute(
        """SELECT DISTINCT ON (v.ts) v.ts, v.actual, v.p50 FROM forecast_value v JOIN forecast_model m USING (model_id)
           WHERE m.target = %s AND m.is_champion AND v.ts > %s AND v.ts <= %s AND v.actual IS NOT NULL
           ORDER BY v.ts, v.issued_at DESC""", (rule.point, since, until)).fetchall()
    actual, p50 = _series([(r[0], r[1]) for r in rows]), _series([(r[0], r[2]) for r in rows])
    return {rule.point: forecast_deviation(actual, p50)}


def data_quality(conn, rule: QualityRule, since, until) -> Signals:
    col = rule.check   # validated against QUALITY_CHECKS
    rows = conn.execute(
        f"""SELECT p.code, (q.day::timestamp AT TIME ZONE n.timezone) AS ts, q.{col}
            FROM quality_day q JOIN point p USING (point_id) JOIN node n ON n.node_id = p.node_id
            WHERE p.node_id = ANY(%s) AND q.{col} IS NOT NULL
              AND (q.day::timestamp AT TIME ZONE n.timezone) > %s
              AND (q.day::timestamp AT TIME ZONE n.timezone) <= %s ORDER BY 1, 2""",
        (subtree_node_ids(conn, rule.node), since, until)).fetchall()
    out: Signals = {}
    for code in dict.fromkeys(r[0] for r in rows):
        out[code] = _series([(r[1], r[2]) for r in rows if r[0] == code])
    return out


def imbalance(conn, rule: ImbalanceRule, since, until) -> Signals:
    p = _point(conn, rule.parent)
    rows = conn.execute("""SELECT bucket, abs(share) FROM quality_balance WHERE parent_point_id = %s AND grain = %s
                           AND bucket > %s AND bucket <= %s ORDER BY bucket""",
                        (p["point_id"], rule.grain, since, until)).fetchall()
    return {p["code"]: _series(rows)}


def enpi_signal(conn, rule: EnpiRule, since, until) -> Signals:
    """Hourly kW/RT of a chiller plant or kW/(m3/min) of a compressed-air station."""
    from ems.analytics.sources import role_points, summed

    roles = role_points(conn, rule.node)
    num_role, den_role = (("chiller_plant_energy", "cooling_energy") if rule.indicator == "chiller_kw_per_rt"
                          else ("air_station_energy", "air_volume"))
    if not roles.get(num_role) or not roles.get(den_role):
        raise UserError(f"rule '{rule.id}': node '{rule.node}' has no points tagged role {num_role} and {den_role}",
                        where="alarm rule")
    start, end = since.floor("h"), until

    def hourly(role: str, unit: str) -> pd.Series:
        pts = roles[role]
        s = summed(conn, pts, start, end, "hour")
        return s * conversion(pts[0]["unit"], unit)[0]

    power_kw = hourly(num_role, "kWh")                      # kWh in one hour = mean kW
    if rule.indicator == "chiller_kw_per_rt":
        den = hourly(den_role, "kWh")                       # cooling kWh in one hour = mean kW cooling
        value = enpi.kw_per_rt(power_kw, den.where(den > rule.min_load))
    else:
        den = hourly(den_role, "m3") / 60.0                 # m3 in one hour -> m3/min
        value = enpi.specific_power_kw_per_m3_per_min(power_kw, den.where(den > rule.min_load))
    value = pd.Series(value).dropna()
    value.index = pd.DatetimeIndex(value.index).tz_convert("UTC")
    return {rule.node: value[value.index > since]}


SIGNALS = {"threshold": threshold, "rate_of_change": rate_of_change, "forecast_deviation": forecast,
           "data_quality": data_quality, "meter_imbalance": imbalance, "enpi": enpi_signal}


def signals(conn: psycopg.Connection, rule: _Rule, since: pd.Timestamp, until: pd.Timestamp) -> Signals:
    return SIGNALS[rule.type](conn, rule, since, until)   # type: ignore[attr-defined]
