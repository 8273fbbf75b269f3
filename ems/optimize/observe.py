"""The optimiser's view of a plant from STORED readings: observation, last meters, plan, history.

A production deployment has no twin: the chilled-water optimiser (:class:`ems.optimize.chw_control.ChwOptimiser`
via :func:`ems.optimize.recommend.chw_recommendation`) is fed from the ``reading`` table instead of
``PlantTwin.observe()`` / ``PlantTwin.step()``, with the same keys and units:

* ``last``: the meters of the last complete 15-min step (interval end ``t``): ``time`` = t, the
  physical values under ``_``-prefixed keys named as in :mod:`ems.optimize.history`
  (``_chw_load_kw``, ``_ws1_t_c``, ``_ws1_rh_pct``, ``_chws_c`` ...) and every point code read with
  its stored value (register value for cumulative points, as the twin gives). A meter whose latest
  usable reading is more than :data:`MAX_AGE` before ``t`` (or that has none) raises
  :class:`~ems.optimize.history.DataProblem` naming it: no recommendation is made on stale data.
* ``obs``: the coming step (``time`` = t + 15 min, naive local time, interval end): weather
  ``temp_c`` / ``rh_pct`` / ``ghi_w_m2`` / ``wet_bulb_c`` / ``humidity_ratio``, plan ``intensity`` /
  ``hvac_on``, zone states, ``plant`` and ``last``. Weather and plan over the 2 h horizon come from
  stored forecasts (``forecast_value`` of the champion model of the point, issued at most
  :data:`FORECAST_MAX_AGE` before t and covering the horizon) when present, else the latest
  measured values held (persistence, the optimiser's own default).
* History for fitting: one row per 15-min interval (index = interval end, naive local time) in the
  column layout of ``evaluate.training`` / ``history.training_history`` (``ch{i}_kw``,
  ``ch{i}_evap_kw``, ``chws_c``, ``cws_c``, ``chw_flow_m3_per_h``, ``chwp_kw``, ``chwp_hz``,
  ``chwp_n``, ``cwp_kw``, ``ct_kw``, ``chw_load_kw``, ``ws{j}_t_c``, ``ws{j}_rh_pct``, ``wx_*``), and
  the production plan over it (``intensity``, ``hvac_on``).

Derived quantities (not metered one to one on a typical plant, so derived and documented here):

* energy registers -> mean power of the interval: delta [kWh] / 0.25 h (``ch{i}_kw``, ``chwp_kw`` ...);
  the CHW BTU meter (role ``cooling_energy``) gives ``chw_load_kw`` (delivered cooling = the load while
  the plant keeps up);
* ``ch{i}_evap_kw``: delivered cooling shared among the running chillers (``ch{i}_kw`` > 0.5 kW) in
  proportion to their nameplate capacity (the plant's load sharing);
* ``chwp_n``: CHW pumps running = chillers running (headered variable-primary plant, one pump per chiller);
* ``wx_wet_bulb_c``: Stull (2011) from outdoor dry bulb and RH;
* ``intensity``: mean over production lines of counted output per hour / the line's
  ``rated_units_per_h`` (node attribute), from the role ``production_count`` counters;
* ``hvac_on``: the chiller plant carries load (> 1 % of nameplate) or a line produces (intensity > 0.05);
* ``chws_c`` / ``cws_c`` / ``chwr_c`` are blanked while the plant carries no load (loop sensors then read
  plant-room water, not the setpoint).

Point lookup: by role tag (``ems.analytics.sources.ROLES``) where the point carries one, else by the
point-code convention of the asset model (``{plant}.CW.Ts``, ``{zone}.T``, ``{plant}.CH{i}.kWh`` ...).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import psycopg

from ems.optimize.chw_control import ChwOptimiser, fit_models
from ems.optimize.config import ChwConfig, PlantConfig, plant_config
from ems.optimize.fit_chiller import ChwPlantModel
from ems.optimize.history import CHW_REQUIRED, DataProblem
from ems.optimize.zone_model import ZoneResponse

log = logging.getLogger(__name__)

STEP = pd.Timedelta("15min")
STEP_H = 0.25
MAX_AGE = pd.Timedelta("30min")          # a meter older than this before the decision step is stale
FORECAST_MAX_AGE = pd.Timedelta("1h")    # a stored forecast issued longer ago is not used
HISTORY_DAYS = 28.0                      # stored history used to fit the models
MIN_RUNNING_ROWS = 96                    # intervals with the plant running needed to fit (one day)
GAP_FILL_STEPS = 4                       # gaps up to 1 h are interpolated in the fitting history
TRUST_MARGIN_K = 1.0                     # most the candidates go beyond the history's range (trust_region)
HVAC_LOAD_FRACTION = 0.01                # CHW load above 1 % of nameplate: the HVAC is running
RUNNING_KW = 0.5                         # a chiller drawing more than this runs

# Flags that make a stored value unusable here (ems.readings.quality): gap-spanning, glitch, spike,
# source suspect. (Repaired rollovers/resets, back-steps, estimates and edits are used.)
_BAD_FLAGS = 1 | 8 | 16 | 256


@dataclass(frozen=True)
class Meter:
    column: str            # history column (physical name, as in ems.optimize.history)
    code: str              # point code by convention
    unit: str              # unit the column is in (stored values are converted to it)
    additive: bool = False  # energy register / counter: interval amount -> rate per hour
    role: str | None = None  # role tag that identifies the point when present


def chw_meters(pc: PlantConfig) -> list[Meter]:
    """The stored meters the chilled-water optimiser reads for a plant."""
    c = pc.code
    out = [
        Meter("chw_load_kw", f"{c}.CHW.kWh", "kWh", True, "cooling_energy"),
        Meter("chp_kw", f"{c}.CHP.kWh", "kWh", True, "chiller_plant_energy"),
        Meter("chws_c", f"{c}.CHW.Ts", "°C", role="chw_supply_temp"),
        Meter("chwr_c", f"{c}.CHW.Tr", "°C", role="chw_return_temp"),
        Meter("chw_flow_m3_per_h", f"{c}.CHW.F", "m3/h", role="chw_flow"),
        Meter("cws_c", f"{c}.CW.Ts", "°C"),
        Meter("chwp_kw", f"{c}.CHWP.kWh", "kWh", True),
        Meter("chwp_hz", f"{c}.CHWP.Hz", "Hz"),
        Meter("cwp_kw", f"{c}.CWP.kWh", "kWh", True),
        Meter("ct_kw", f"{c}.CT.kWh", "kWh", True),
        Meter("wx_temp_c", f"{c}.WX.T", "°C", role="outdoor_temp"),
        Meter("wx_rh_pct", f"{c}.WX.RH", "%RH"),
        Meter("wx_ghi_w_m2", f"{c}.WX.GHI", "W/m^2"),
    ]
    out += [Meter(f"ch{i + 1}_kw", f"{c}.CH{i + 1}.kWh", "kWh", True) for i in range(pc.chw.n_chillers)]
    for j, z in enumerate(pc.chw.zones):
        out += [Meter(f"ws{j + 1}_t_c", f"{z.code}.T", "°C"), Meter(f"ws{j + 1}_rh_pct", f"{z.code}.RH", "%RH")]
    return out


def last_required(pc: PlantConfig) -> tuple[str, ...]:
    """Columns that must be fresh at the decision step (the optimiser's state and the weather)."""
    z = len(pc.chw.zones)
    return (("chw_load_kw", "wx_temp_c", "wx_rh_pct", "wx_ghi_w_m2")
            + tuple(f"ws{j + 1}_t_c" for j in range(z)) + tuple(f"ws{j + 1}_rh_pct" for j in range(z)))


# ---- psychrometrics (pure) ------------------------------------------------------------------------

def wet_bulb_c(temp_c, rh_pct):
    """Wet-bulb temperature [deg C] from dry bulb [deg C] and RH [%]: Stull (2011), J. Appl. Meteor.
    Climatol. 50, 2267-2269 (RH 5-99 %, -20..50 deg C, standard pressure)."""
    t = np.asarray(temp_c, dtype=float)
    rh = np.clip(np.asarray(rh_pct, dtype=float), 5.0, 99.0)
    twb = (t * np.arctan(0.151977 * np.sqrt(rh + 8.313659)) + np.arctan(t + rh) - np.arctan(rh - 1.676331)
           + 0.00391838 * rh ** 1.5 * np.arctan(0.023101 * rh) - 4.686035)
    return np.minimum(twb, t)


def humidity_ratio(temp_c, rh_pct):
    """Humidity ratio [kg/kg] at standard pressure (Magnus, Alduchov & Eskridge 1996)."""
    from ems.optimize.zone_model import w_from_rh

    return w_from_rh(temp_c, rh_pct)


# ---- point lookup and reading ---------------------------------------------------------------------

@dataclass
class PlantPoints:
    plant: str
    timezone: str
    meters: dict[str, dict]                 # column -> point row (points_frame)
    missing: dict[str, str]                 # column -> point code looked for
    counters: list[tuple[dict, float]]      # production_count points with rated units/h


def plant_points(conn: psycopg.Connection, pc: PlantConfig) -> PlantPoints:
    """Find the stored points of the optimiser's meters (role first, then code convention)."""
    from ems.analytics.sources import node_info, role_points
    from ems.assets.store import points_frame

    try:
        info = node_info(conn, pc.code)
    except Exception as exc:   # UserError: plant not in the asset model
        raise DataProblem(f"plant {pc.code} is not in the asset model: {exc}") from exc
    points = points_frame(conn, pc.code)
    by_code = {p["code"]: p for p in points}
    roles = role_points(conn, pc.code)
    meters, missing = {}, {}
    for m in chw_meters(pc):
        cand = roles.get(m.role, []) if m.role else []
        p = cand[0] if len(cand) == 1 else by_code.get(m.code)
        if p is None or p.get("formula"):
            missing[m.column] = m.code
        else:
            meters[m.column] = p
    rated = dict(conn.execute(
        "SELECT code, (attrs->>'rated_units_per_h')::float FROM node WHERE attrs ? 'rated_units_per_h'").fetchall())
    counters = [(p, float(rated[p["node"]])) for p in roles.get("production_count", [])
                if rated.get(p["node"]) and not p.get("formula")]
    return PlantPoints(pc.code, info["timezone"], meters, missing, counters)


def _factor(point: dict, unit: str) -> tuple[float, float]:
    from ems.units import conversion

    try:
        return conversion(point["unit"], unit)
    except ValueError as exc:
        raise DataProblem(f"point {point['code']} is in '{point['unit']}', the optimiser needs '{unit}'") from exc


def read_columns(conn: psycopg.Connection, pts: PlantPoints, start: pd.Timestamp, end: pd.Timestamp,
                 columns: list[str] | None = None) -> pd.DataFrame:
    """Stored readings as one row per 15-min interval ending in (start, end] (naive local times, the
    plant's zone): additive points as the rate over the interval (per hour) from the sum of the deltas
    ending in it; instantaneous points as the last value stamped in it. Unusable readings (quality
    flags) are NaN. Also ``intensity`` (production counters) when the plant has them."""
    tz = pts.timezone
    meters = {c: p for c, p in pts.meters.items() if columns is None or c in columns}
    units = {m.column: m for m in chw_meters(plant_config(pts.plant))}
    wanted = {p["point_id"]: (c, p) for c, p in meters.items()}
    for k, (p, _) in enumerate(pts.counters):
        wanted[p["point_id"]] = (f"_cnt{k}", p)
    a = pd.Timestamp(start).tz_localize(tz) if pd.Timestamp(start).tz is None else pd.Timestamp(start)
    b = pd.Timestamp(end).tz_localize(tz) if pd.Timestamp(end).tz is None else pd.Timestamp(end)
    rows = conn.execute(
        """SELECT point_id, ts, value, delta, quality FROM reading
           WHERE point_id = ANY(%s) AND ts > %s AND ts <= %s ORDER BY point_id, ts""",
        (list(wanted), a, b)).fetchall()
    raw = pd.DataFrame(rows, columns=["point_id", "ts", "value", "delta", "quality"])
    grid = pd.date_range(a.tz_convert(tz).tz_localize(None).ceil("15min"), b.tz_convert(tz).tz_localize(None)
                         .floor("15min"), freq=STEP)
    grid = grid[grid > a.tz_convert(tz).tz_localize(None)]
    out = pd.DataFrame(index=grid)
    out.index.name = None
    if raw.empty:
        for c in list(meters) + (["intensity"] if pts.counters else []):
            out[c] = np.nan
        return out
    raw["ts"] = pd.to_datetime(raw["ts"], utc=True).dt.tz_convert(tz).dt.tz_localize(None)
    raw["end"] = raw["ts"].dt.ceil("15min")
    bad = (raw["quality"].astype(int) & _BAD_FLAGS) != 0
    raw.loc[bad, ["value", "delta"]] = np.nan
    raw = raw.astype({"value": "float64", "delta": "float64"})
    groups = dict(tuple(raw.groupby("point_id")))
    counts = []
    for pid, (col, p) in wanted.items():
        g = groups.get(pid)
        if g is None:
            out[col] = np.nan
            continue
        additive = p["kind"] in ("cumulative", "interval")
        if additive:
            per = g.groupby("end")["delta"].agg(["sum", "count"])
            need = max(1, int(round(900 / max(int(p["interval_s"] or 900), 1))))
            s = per["sum"].where(per["count"] >= need)
        else:
            s = g.dropna(subset=["value"]).groupby("end")["value"].last()
        s = s.reindex(grid)
        if col.startswith("_cnt"):
            counts.append(s / STEP_H)
            continue
        scale, offset = _factor(p, units[col].unit)
        s = s * scale + offset
        out[col] = s / STEP_H if additive else s
    if pts.counters:
        ratios = pd.concat([c / r for c, (_, r) in zip(counts, pts.counters, strict=True)], axis=1)
        out["intensity"] = ratios.mean(axis=1, skipna=True).clip(lower=0.0)
    return out


def derive(frame: pd.DataFrame, pc: PlantConfig) -> pd.DataFrame:
    """Add the derived columns (chiller evaporator shares, pumps running, wet bulb, hvac_on) in place
    and return the frame."""
    cap = np.asarray(pc.chw.chiller_capacity_kw, float)
    n = pc.chw.n_chillers
    kw = np.column_stack([frame[f"ch{i + 1}_kw"].to_numpy(float) for i in range(n)])
    on = kw > RUNNING_KW
    share = on * cap / np.maximum((on * cap).sum(axis=1, keepdims=True), 1e-9)
    load = frame["chw_load_kw"].to_numpy(float)
    for i in range(n):
        frame[f"ch{i + 1}_evap_kw"] = np.where(np.isnan(kw[:, i]), np.nan, load * share[:, i])
    frame["chwp_n"] = np.where(np.isnan(kw).any(axis=1), np.nan, on.sum(axis=1).astype(float))
    frame["wx_wet_bulb_c"] = wet_bulb_c(frame["wx_temp_c"], frame["wx_rh_pct"])
    running = load > HVAC_LOAD_FRACTION * cap.sum()
    inten = frame["intensity"].fillna(0.0).to_numpy() if "intensity" in frame else np.zeros(len(frame))
    frame["hvac_on"] = np.where(np.isnan(load), np.nan, (running | (inten > 0.05)).astype(float))
    if "intensity" not in frame:
        frame["intensity"] = 0.0
    for col in ("chws_c", "chwr_c", "cws_c"):
        if col in frame:
            frame[col] = frame[col].where(running | np.isnan(load))
    return frame


# ---- fitting history ------------------------------------------------------------------------------

def history_from_store(conn: psycopg.Connection, plant: str, end: pd.Timestamp, days: float = HISTORY_DAYS,
                       pts: PlantPoints | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(history, plan) over the ``days`` before ``end`` (naive local interval end, inclusive), in the
    layout of ``evaluate.training``. Gaps up to 1 h are interpolated; intervals still lacking a meter
    are dropped. Raises DataProblem when the plant lacks meters or ran too little to fit."""
    pc = plant_config(plant)
    pts = pts or plant_points(conn, pc)
    need = [c for c in CHW_REQUIRED if not c.startswith("wx_wet")] + [f"ch{i + 1}_kw" for i in range(
        pc.chw.n_chillers)] + [f"ws{j + 1}_{q}" for j in range(len(pc.chw.zones)) for q in ("t_c", "rh_pct")]
    lacking = [f"{c} ({pts.missing[c]})" for c in need if c in pts.missing]
    if lacking:
        raise DataProblem(f"plant {plant} has no stored point for {', '.join(lacking)}: the models cannot be fitted")
    end = pd.Timestamp(end)
    frame = read_columns(conn, pts, end - pd.Timedelta(days=days), end)
    frame = frame.interpolate(limit=GAP_FILL_STEPS, limit_area="inside")
    frame = derive(frame, pc)
    temps = ["chws_c", "cws_c"]
    core = [c for c in need + ["chwp_n", "wx_wet_bulb_c", "hvac_on"] + [f"ch{i + 1}_evap_kw" for i in range(
        pc.chw.n_chillers)] if c not in temps]
    running = frame["chw_load_kw"] > 1.0
    ok = frame[core].notna().all(axis=1) & (~running | frame[temps].notna().all(axis=1))
    hist = frame[ok].copy()
    n_run = int((hist["chw_load_kw"] > 1.0).sum())
    if n_run < MIN_RUNNING_ROWS:
        raise DataProblem(f"plant {plant}: only {n_run} usable 15-min intervals with the chiller plant running in "
                          f"the {days:g} days before {end} (need {MIN_RUNNING_ROWS}): the models cannot be fitted")
    plan = hist[["intensity", "hvac_on"]].copy()
    return hist, plan


def fit_from_store(conn: psycopg.Connection, plant: str, end: pd.Timestamp, days: float = HISTORY_DAYS,
                   pts: PlantPoints | None = None) -> tuple[ChwPlantModel, ZoneResponse, pd.DataFrame]:
    """Plant and zone models fitted on the stored history (``chw_control.fit_models``)."""
    pc = plant_config(plant)
    hist, plan = history_from_store(conn, plant, end, days, pts)
    pm, zm = fit_models(hist, plan, pc.chw)
    return pm, zm, hist


# ---- forecasts ------------------------------------------------------------------------------------

def stored_forecast(conn: psycopg.Connection, code: str, t_last: pd.Timestamp, index: pd.DatetimeIndex, tz: str,
                    additive: bool = False) -> tuple[pd.Series, pd.Timestamp] | None:
    """The p50 of the latest forecast of a point (its champion model) issued in
    [t_last - FORECAST_MAX_AGE, t_last + 15 min] that covers every interval of ``index`` (naive local
    interval ends), as (series on ``index``, issued_at naive local); None when there is none.
    Forecast buckets are labelled by their start: an instantaneous value at interval end t is the
    bucket starting t, an interval amount ending at t the bucket starting t - 15 min (per bucket)."""
    t0 = pd.Timestamp(t_last).tz_localize(tz)
    lab = index - STEP if additive else index
    want = pd.DatetimeIndex(lab).tz_localize(tz)
    row = conn.execute(
        """SELECT v.model_id, v.issued_at FROM forecast_value v JOIN forecast_model m USING (model_id)
           WHERE m.target = %s AND m.is_champion AND v.issued_at >= %s AND v.issued_at <= %s
             AND v.ts >= %s AND v.ts <= %s
           GROUP BY v.model_id, v.issued_at HAVING count(*) >= %s
           ORDER BY v.issued_at DESC LIMIT 1""",
        (code, t0 - FORECAST_MAX_AGE, t0 + STEP, want[0], want[-1], len(want))).fetchone()
    if row is None:
        return None
    vals = conn.execute("SELECT ts, p50 FROM forecast_value WHERE model_id = %s AND issued_at = %s AND ts = ANY(%s)",
                        (row[0], row[1], list(want.to_pydatetime()))).fetchall()
    s = pd.Series({pd.Timestamp(ts).tz_convert(tz).tz_localize(None): float(v) for ts, v in vals})
    s = s.reindex(pd.DatetimeIndex(lab))
    if s.isna().any():
        return None
    s.index = index
    issued = pd.Timestamp(row[1]).tz_convert(tz).tz_localize(None)
    return s, issued


# ---- observation ----------------------------------------------------------------------------------

@dataclass
class StoredObservation:
    """What the optimiser needs at one decision, built from stored data."""

    plant: str
    obs: dict
    last: dict
    ahead: pd.DataFrame                      # horizon rows: temp_c, rh_pct, ghi_w_m2, wet_bulb_c, intensity, hvac_on
    forecast_issued: pd.Timestamp | None     # oldest stored forecast used (None: persistence only)
    notes: list[str] = field(default_factory=list)

    def plan(self, index: pd.DatetimeIndex) -> pd.DataFrame:
        """Production plan / HVAC schedule over ``index`` (held beyond the stored horizon)."""
        return self.ahead[["intensity", "hvac_on"]].reindex(index, method="ffill").fillna(
            self.ahead[["intensity", "hvac_on"]].iloc[-1])


def decision_step(at: pd.Timestamp | str | None, tz: str) -> pd.Timestamp:
    """The last complete 15-min step at ``at`` (default: now) as a naive local interval end."""
    t = pd.Timestamp.now(tz="UTC") if at is None else pd.Timestamp(at)
    t = t.tz_convert(tz).tz_localize(None) if t.tz is not None else t
    return t.floor("15min")


def _latest(frame: pd.DataFrame, col: str, t_last: pd.Timestamp) -> tuple[float, pd.Timestamp | None]:
    s = frame[col].dropna() if col in frame else pd.Series(dtype=float)
    s = s[s.index <= t_last]
    if s.empty:
        return float("nan"), None
    return float(s.iloc[-1]), s.index[-1]


def _last_seen(conn: psycopg.Connection, pts: PlantPoints, t_last: pd.Timestamp) -> str:
    """When the plant's optimiser meters last reported (any of them), for a DataProblem message."""
    row = conn.execute("SELECT max(ts) FROM reading WHERE point_id = ANY(%s) AND ts <= %s",
                       ([p["point_id"] for p in pts.meters.values()],
                        pd.Timestamp(t_last).tz_localize(pts.timezone))).fetchone()
    if row is None or row[0] is None:
        return "no stored readings at all"
    last = pd.Timestamp(row[0]).tz_convert(pts.timezone).tz_localize(None)
    return f"the plant's meters last reported {last:%Y-%m-%d %H:%M}"


def observe_stored(conn: psycopg.Connection, plant: str, t_last: pd.Timestamp, pts: PlantPoints | None = None,
                   horizon_steps: int | None = None) -> StoredObservation:
    """Observation and last meters at the step ending ``t_last`` (naive local) from stored readings.
    Raises DataProblem naming every missing or stale meter."""
    pc = plant_config(plant)
    pts = pts or plant_points(conn, pc)
    h = horizon_steps or pc.chw.horizon_steps
    t_last = pd.Timestamp(t_last)
    required = last_required(pc) + (("intensity",) if pts.counters else ())
    absent = [f"{c} ({pts.missing[c]})" for c in required if c in pts.missing]
    if absent:
        raise DataProblem(f"plant {plant} has no stored point for {', '.join(absent)}; recommendation stopped")
    window = read_columns(conn, pts, t_last - pd.Timedelta("2h"), t_last)
    missing: list[str] = []     # codes without a usable reading in the 2 h before t_last
    stale: list[str] = []
    held: dict[str, float] = {}
    for col in list(pts.meters) + (["intensity"] if "intensity" in window else []):
        v, at = _latest(window, col, t_last)
        code = pts.meters[col]["code"] if col in pts.meters else ", ".join(p["code"] for p, _ in pts.counters)
        if at is None:
            if col in required:
                missing.append(code)
            continue
        if t_last - at > MAX_AGE:
            if col in required:
                age = int((t_last - at) / pd.Timedelta("1min"))
                stale.append(f"{code} (last reading {at:%Y-%m-%d %H:%M}, {age} min before {t_last:%H:%M})")
            continue
        held[col] = v
    if missing or stale:
        limit = int(MAX_AGE / pd.Timedelta("1min"))
        parts = ([f"stale meter readings (limit {limit} min): {', '.join(stale)}"] if stale else []) + (
            [f"no usable reading in the 2 h before {t_last:%Y-%m-%d %H:%M} ({_last_seen(conn, pts, t_last)}): "
             f"{', '.join(missing)}"] if missing else [])
        raise DataProblem(f"plant {plant}: {'; '.join(parts)}; recommendation stopped")
    notes: list[str] = []
    row = pd.DataFrame({k: [v] for k, v in held.items()}, index=[t_last])
    for col in pts.meters:
        if col not in row:
            row[col] = np.nan
    if "intensity" not in row:
        row["intensity"] = 0.0
        notes.append("the plant has no production counters (role production_count with the line's "
                     "rated_units_per_h): production intensity taken as 0")
    row = derive(row, pc)
    cur = row.iloc[0]
    last: dict = {"time": t_last}
    for col, v in cur.items():
        if pd.notna(v):
            last["_" + col] = float(v)
    codes = conn.execute(
        """SELECT DISTINCT ON (r.point_id) r.point_id, r.value FROM reading r
           WHERE r.point_id = ANY(%s) AND r.ts > %s AND r.ts <= %s ORDER BY r.point_id, r.ts DESC""",
        ([p["point_id"] for p in pts.meters.values()], pd.Timestamp(t_last - MAX_AGE).tz_localize(pts.timezone),
         pd.Timestamp(t_last).tz_localize(pts.timezone))).fetchall()
    by_id = {p["point_id"]: p["code"] for p in pts.meters.values()}
    for pid, v in codes:
        if v is not None:
            last[by_id[pid]] = float(v)

    # the coming steps: stored forecasts when fresh, else the latest measured values held
    idx = pd.date_range(t_last + STEP, periods=h, freq=STEP)
    ahead = pd.DataFrame({"temp_c": cur["wx_temp_c"], "rh_pct": cur["wx_rh_pct"], "ghi_w_m2": cur["wx_ghi_w_m2"],
                          "intensity": float(cur["intensity"]), "hvac_on": float(cur["hvac_on"])}, index=idx)
    issued: list[pd.Timestamp] = []
    for col, src in (("temp_c", "wx_temp_c"), ("rh_pct", "wx_rh_pct"), ("ghi_w_m2", "wx_ghi_w_m2")):
        if src not in pts.meters:
            continue
        fc = stored_forecast(conn, pts.meters[src]["code"], t_last, idx, pts.timezone)
        if fc is not None:
            scale, offset = _factor(pts.meters[src], {"temp_c": "°C", "rh_pct": "%RH", "ghi_w_m2": "W/m^2"}[col])
            ahead[col] = fc[0].to_numpy() * scale + offset
            issued.append(fc[1])
    if pts.counters:
        per_line = []
        for p, rated in pts.counters:
            fc = stored_forecast(conn, p["code"], t_last, idx, pts.timezone, additive=True)
            if fc is None:
                break
            per_line.append(fc[0] / STEP_H / rated)
            issued.append(fc[1])
        if per_line and len(per_line) == len(pts.counters):
            ahead["intensity"] = pd.concat(per_line, axis=1).mean(axis=1).clip(lower=0.0).to_numpy()
            ahead["hvac_on"] = np.maximum(ahead["hvac_on"].to_numpy(), (ahead["intensity"] > 0.05).astype(float))
    ahead["rh_pct"] = ahead["rh_pct"].clip(0.0, 100.0)
    ahead["ghi_w_m2"] = ahead["ghi_w_m2"].clip(lower=0.0)
    ahead["wet_bulb_c"] = wet_bulb_c(ahead["temp_c"], ahead["rh_pct"])
    if not issued:
        notes.append("no fresh stored forecasts: weather and production plan persisted from the last step")
    first = ahead.iloc[0]
    z = len(pc.chw.zones)
    zt = np.array([cur[f"ws{j + 1}_t_c"] for j in range(z)])
    zrh = np.array([cur[f"ws{j + 1}_rh_pct"] for j in range(z)])
    mid = idx[0] - STEP / 2
    obs = {"time": idx[0], "plant": plant, "temp_c": float(first["temp_c"]), "rh_pct": float(first["rh_pct"]),
           "ghi_w_m2": float(first["ghi_w_m2"]), "wet_bulb_c": float(first["wet_bulb_c"]),
           "humidity_ratio": float(humidity_ratio(first["temp_c"], first["rh_pct"])),
           "intensity": float(first["intensity"]), "hvac_on": float(first["hvac_on"]),
           "shift_on": bool(first["intensity"] > 0.05), "hour": mid.hour + mid.minute / 60.0,
           "zone_t_c": zt, "zone_w": humidity_ratio(zt, zrh), "last": last}
    return StoredObservation(plant, obs, last, ahead, min(issued) if issued else None, notes)


# ---- the optimiser on stored data -------------------------------------------------------------------

@dataclass
class StoredChwOptimiser(ChwOptimiser):
    """ChwOptimiser whose horizon weather comes from the stored forecasts of the observation (when the
    observation carries them) instead of persisting the first step's weather."""

    ahead: pd.DataFrame | None = None

    def exo_rows(self, obs: dict) -> pd.DataFrame:
        rows = super().exo_rows(obs)
        if self.ahead is not None:
            wx = self.ahead.reindex(rows.index, method="ffill")
            for col in ("temp_c", "rh_pct", "ghi_w_m2", "wet_bulb_c"):
                rows[col] = wx[col].fillna(rows[col]).to_numpy(float)
        return rows


def trust_region(pc: PlantConfig, hist: pd.DataFrame, setpoint_c: float) -> tuple[ChwConfig, str]:
    """The chilled-water settings with the candidate supply temperatures limited to where the fitted
    models are supported by the stored history: the 5th-95th percentile range of the running supply
    temperature widened on each side by that range's own width (at most :data:`TRUST_MARGIN_K`), on the
    configured grid, within the configured range. A plant that always ran at one setpoint teaches the
    models nothing about another (their setpoint response would be a fit to sensor noise): the setpoint
    is then held and only chillers and pumps are optimised. As the history widens (a commissioning
    setpoint test, accepted recommendations), so does the range. Returns (settings, note or '')."""
    cfg = pc.chw
    t = hist.loc[hist["chw_load_kw"] > 1.0, "chws_c"].dropna()
    if t.empty:
        return cfg, ""
    step = cfg.chws_step_c
    q05, q95 = float(t.quantile(0.05)), float(t.quantile(0.95))
    margin = min(q95 - q05, TRUST_MARGIN_K)
    lo = max(np.ceil((q05 - margin) / step - 1e-9) * step, cfg.chws_min_c)
    hi = min(np.floor((q95 + margin) / step + 1e-9) * step, cfg.chws_max_c)
    if hi < lo:    # no grid point inside: the grid point nearest the current setpoint
        lo = hi = float(np.clip(np.round(setpoint_c / step) * step, cfg.chws_min_c, cfg.chws_max_c))
    if lo <= cfg.chws_min_c and hi >= cfg.chws_max_c:
        return cfg, ""
    span = f"held at {lo:.1f} degC" if lo == hi else f"limited to {lo:.1f}-{hi:.1f} degC"
    return replace(cfg, chws_min_c=float(lo), chws_max_c=float(hi)), (
        f"CHW supply setpoint {span} (configured {cfg.chws_min_c:.1f}-{cfg.chws_max_c:.1f}): the stored history "
        f"ran at {q05:.1f}-{q95:.1f} degC and the fitted models are not trusted beyond it"
        + ("; only chillers and pumps optimised (a setpoint excitation test would teach the setpoint response)"
           if lo == hi else ""))


def optimiser_from_store(conn: psycopg.Connection, plant: str, t_last: pd.Timestamp,
                         days: float = HISTORY_DAYS) -> tuple[StoredChwOptimiser, StoredObservation]:
    """The fitted optimiser and the observation for the decision after the step ending ``t_last``."""
    pc = plant_config(plant)
    pts = plant_points(conn, pc)
    so = observe_stored(conn, plant, t_last, pts)
    pm, zm, hist = fit_from_store(conn, plant, t_last, days, pts)
    setpoint = pc.chw.safe_chws_c
    chws = so.last.get("_chws_c")
    if chws is not None and np.isfinite(chws):   # the plant's current supply temperature, on the grid
        step = pc.chw.chws_step_c
        setpoint = float(np.clip(np.round(chws / step) * step, pc.chw.chws_min_c, pc.chw.chws_max_c))
    cfg, note = trust_region(pc, hist, setpoint)
    if note:
        so.notes.append(note)
    opt = StoredChwOptimiser(cfg, pm, zm, setpoint_c=setpoint, plan=so.plan, ahead=so.ahead)
    return opt, so
