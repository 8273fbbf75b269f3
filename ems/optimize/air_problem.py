"""Compressed-air station staging: problem building (cvxpy) separate from solving (HiGHS MILP).

Per 15-min step t of a day (day-ahead) or of the next 2 h: which load/unload machines run fully
loaded (binary x[l, t]), whether the VSD machine runs (binary y[t]) and its delivery q[t], at the
header pressure setpoint (the VSD holds it; the lowest allowed is the best: both power and leak
demand rise with pressure). Constraints: delivery >= forecast demand; running capacity >= demand
x (1 + reserve); VSD turndown; minimum run and stop times; starts per machine per day. Objective:
predicted station power (fitted per-machine models; base machines at full-load power, the VSD linear
between its fitted no-load and full-load power).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import cvxpy as cp
import numpy as np

from ems.optimize.config import AirConfig
from ems.optimize.fit_air import AirModel


@dataclass
class AirProblem:
    problem: cp.Problem
    x: cp.Variable
    y: cp.Variable
    q: cp.Variable
    demand: np.ndarray
    lu: list[int]
    vsd: int
    pressure_barg: float
    power: cp.Expression


@dataclass
class AirSchedule:
    on: np.ndarray                 # (T, N) bool, machines scheduled to run (column = compressor index)
    vsd_m3_per_min: np.ndarray
    demand_m3_per_min: np.ndarray
    pressure_barg: float
    power_kw: np.ndarray
    status: str
    seconds: float
    diagnosis: str = ""


def build_air_problem(model: AirModel, cfg: AirConfig, demand_m3_per_min: np.ndarray, pressure_barg: float,
                      initial_on: np.ndarray | None = None) -> AirProblem:
    comps = model.compressors
    lu = [i for i, c in enumerate(comps) if c.control != "vsd"]
    vs = [i for i, c in enumerate(comps) if c.control == "vsd"]
    if len(vs) != 1:
        raise ValueError("the station model expects exactly one VSD trim machine")
    v = vs[0]
    d = np.asarray(demand_m3_per_min, float)
    t_n = d.size
    cap = np.array([comps[i].capacity_m3_per_min for i in lu])
    full = np.array([float(comps[i].power_kw(comps[i].capacity_m3_per_min, pressure_barg)) for i in lu])
    vc = comps[v]
    v_cap, v_min = vc.capacity_m3_per_min, max(vc.min_m3_per_min, 0.0)
    v_full = float(vc.power_kw(v_cap, pressure_barg))
    v_idle = float(vc.power_kw(max(v_min, 1e-3), pressure_barg))
    slope = (v_full - v_idle) / max(v_cap - v_min, 1e-6)
    x = cp.Variable((len(lu), t_n), boolean=True)
    y = cp.Variable(t_n, boolean=True)
    q = cp.Variable(t_n, nonneg=True)
    cons = [q <= v_cap * y, q >= v_min * y,
            cap @ x + q >= d,
            cap @ x + v_cap * y >= (1 + cfg.reserve_fraction) * d]
    prev = np.zeros(len(lu)) if initial_on is None else np.asarray(initial_on, float)[lu]
    starts = cp.Variable((len(lu), t_n), nonneg=True)
    x_prev = cp.hstack([cp.reshape(prev, (len(lu), 1), order="C"), x[:, :-1]]) if t_n > 1 else prev[:, None]
    cons += [starts >= x - x_prev, cp.sum(starts, axis=1) <= cfg.max_starts_per_day]
    for k in range(1, cfg.min_run_steps):
        if k < t_n:
            cons.append(x[:, k:] >= x[:, :-k] - x_prev[:, :-k])        # started k steps ago -> still on
    for k in range(1, cfg.min_stop_steps):
        if k < t_n:
            cons.append(1 - x[:, k:] >= x_prev[:, :-k] - x[:, :-k])    # stopped k steps ago -> still off
    power = full @ x + v_idle * y + slope * (q - v_min * y)
    prob = cp.Problem(cp.Minimize(cp.sum(power)), cons)
    return AirProblem(prob, x, y, q, d, lu, v, pressure_barg, power)


def solve_air(ap: AirProblem, time_limit_s: float = 5.0) -> AirSchedule:
    t0 = time.perf_counter()
    try:
        ap.problem.solve(solver=cp.HIGHS, time_limit=time_limit_s)
    except cp.error.SolverError as exc:  # pragma: no cover - solver missing
        return _fallback(ap, f"solver failed: {exc}", t0)
    if ap.problem.status not in ("optimal", "optimal_inaccurate") or ap.x.value is None:
        return _fallback(ap, f"no feasible schedule ({ap.problem.status}): demand exceeds the station's "
                             f"capacity with the reserve; all machines scheduled", t0)
    n = len(ap.lu) + 1
    t_n = ap.demand.size
    on = np.zeros((t_n, n), bool)
    for k, i in enumerate(ap.lu):
        on[:, i] = ap.x.value[k] > 0.5
    on[:, ap.vsd] = ap.y.value > 0.5
    return AirSchedule(on, np.asarray(ap.q.value), ap.demand, ap.pressure_barg, np.asarray(ap.power.value),
                       ap.problem.status, time.perf_counter() - t0)


def _fallback(ap: AirProblem, why: str, t0: float) -> AirSchedule:
    t_n = ap.demand.size
    n = len(ap.lu) + 1
    return AirSchedule(np.ones((t_n, n), bool), np.zeros(t_n), ap.demand, ap.pressure_barg, np.full(t_n, np.nan),
                       "fallback", time.perf_counter() - t0, why)


def twin_order(schedule: AirSchedule, t: int, codes: tuple[str, ...], model: AirModel) -> tuple[str, ...]:
    """Loading order for the twin's station control at step t: scheduled machines first (most
    efficient first, by fitted full-load kW per m3/min), then the others."""
    eff = [c.full_kw / max(c.capacity_m3_per_min, 1e-6) for c in model.compressors]
    idx = sorted(range(len(codes)), key=lambda i: (not schedule.on[t, i], eff[i]))
    return tuple(codes[i] for i in idx)
