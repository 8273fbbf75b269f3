"""Solver for :class:`ems.optimize.chw_problem.ChwProblem`.

Two levels, both exact on the discretised problem:

1. Equipment dispatch for every (step, candidate supply temperature): enumerate the chillers
   running (staging order, load <= stage_plr x nameplate, load shared by capacity) and the CHW
   pumps running; for each pump count the lowest frequency that gives the flow the coils need
   (load / (rho cp dT_max)) and the chillers' minimum evaporator flow, within the VFD range;
   and the tower (condenser-water) setpoint from its grid (a colder condenser: less chiller power,
   more fan power); keep the combination of least predicted plant power (chillers + CHW pumps + CW
   pumps + tower fans, all from the fitted models).
2. Setpoint path over the horizon: dynamic programming over the candidate grid with the rate limits
   -down <= c_k - c_(k-1) <= up (lowering is the safe direction), minimising energy + a large penalty on predicted zone-limit
   exceedance. When no path keeps every zone within limits, the least-bad safe path (at steps
   that fall short: the design supply temperature when a zone is too warm even there - the plant is
   short of capacity and a colder supply lowers chiller capacity - or no warmer than it when a zone
   is only too humid; smallest exceedance; the plant's own staging; then least energy) is returned with a diagnosis naming the zone and the shortfall.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ems.optimize.chw_problem import RHO_CP_KW_PER_M3H_K, ChwProblem

PENALTY_KW_PER_UNIT = 1.0e5
UNSAFE_FACTOR = 10.0    # x the penalty: the least-bad setpoint must be safe (design value) where none is feasible
GUARD_FACTOR = 1.0e3    # x the penalty: a measured zone beyond its limit / a plant at capacity rules the first step


@dataclass
class Dispatch:
    power_kw: np.ndarray      # (H, C)
    n_chillers: np.ndarray    # (H, C) int
    n_pumps: np.ndarray       # (H, C) int
    pump_hz: np.ndarray       # (H, C)
    parts: dict = field(default_factory=dict)
    cw_setpoint_c: np.ndarray | None = None   # (H, C) tower setpoint


def dispatch(problem: ChwProblem, load_kw=None, chws_c=None, fixed_n: np.ndarray | None = None,
             fixed_dt_k: float | None = None) -> Dispatch:
    """Least-power equipment for each (step, candidate). ``fixed_n`` / ``fixed_dt_k`` evaluate a given
    staging / a fixed design delta-T with one pump per chiller (the baseline's control) instead."""
    cfg, m = problem.cfg, problem.plant
    load = problem.load_kw if load_kw is None else np.asarray(load_kw, float)
    chws = np.broadcast_to(problem.candidates_c[None, :] if chws_c is None else chws_c, load.shape)
    wb = np.broadcast_to(problem.wet_bulb_c[:, None], load.shape)
    caps = np.asarray(cfg.chiller_capacity_kw)
    flows = np.asarray(cfg.design_flow_m3_per_h)
    best = np.full(load.shape, np.inf)
    out_n = np.zeros(load.shape, int)
    out_np = np.zeros(load.shape, int)
    out_hz = np.full(load.shape, cfg.hz_min)
    out_cw = np.full(load.shape, cfg.cw_setpoint_c)
    cw_grid = (np.arange(cfg.cw_min_c, cfg.cw_max_c + 1e-9, cfg.cw_step_c) if fixed_dt_k is None
               else np.array([cfg.cw_setpoint_c]))
    parts = {k: np.zeros(load.shape) for k in ("chillers_kw", "chw_pumps_kw", "cw_pumps_kw", "tower_kw")}
    hz_grid = None
    for n in range(1, cfg.n_chillers + 1):
        cap_n = caps[:n].sum()
        ok_n = load <= cfg.stage_plr * cap_n
        if n == cfg.n_chillers:      # every chiller: the best there is, even above the reserve
            ok_n = np.ones_like(ok_n, bool)
        if fixed_n is not None:
            ok_n = fixed_n == n
        if not ok_n.any():
            continue
        p_ch = p_ct = cw_n = None
        for sp in cw_grid:          # tower setpoint: chillers + fans least
            cws = m.cws_c(load, n, wb, cap_n, sp)
            ch = sum(m.chillers[i].power_kw(load * caps[i] / cap_n, chws, cws) for i in range(n))
            ct = m.ct_kw(load, n, wb, cap_n, cws)
            if p_ch is None:
                p_ch, p_ct, cw_n = ch, ct, np.full(load.shape, sp)
            else:
                b = ch + ct < p_ch + p_ct
                p_ch, p_ct, cw_n = np.where(b, ch, p_ch), np.where(b, ct, p_ct), np.where(b, sp, cw_n)
        p_cw = float(m.cwp_kw[:n].sum())
        dt = cfg.max_dt_k if fixed_dt_k is None else fixed_dt_k
        need = np.maximum(load / (RHO_CP_KW_PER_M3H_K * dt), cfg.min_flow_fraction * flows[:n].sum())
        pump_counts = range(1, cfg.n_chillers + 1) if fixed_dt_k is None else (n,)
        for n_p in pump_counts:
            hz = np.maximum(np.ceil(m.pump_hz(need, n_p) * 2.0) / 2.0, cfg.hz_min)
            ok = ok_n & (hz <= cfg.hz_max)
            if fixed_dt_k is not None:
                ok = ok_n
            flow = m.pump_flow(hz, n_p) if fixed_dt_k is None else need
            hz_use = hz if fixed_dt_k is None else m.pump_hz(need, n_p)
            p_pump = m.pump_kw(flow, hz_use, n_p)
            total = (p_ch + p_cw + p_ct + p_pump) * 1.005
            better = ok & (total < best)
            if hz_grid is None:
                hz_grid = True
            best = np.where(better, total, best)
            out_n = np.where(better, n, out_n)
            out_np = np.where(better, n_p, out_np)
            out_hz = np.where(better, hz_use, out_hz)
            out_cw = np.where(better, cw_n, out_cw)
            for k, v in (("chillers_kw", p_ch), ("chw_pumps_kw", p_pump), ("cw_pumps_kw", p_cw), ("tower_kw", p_ct)):
                parts[k] = np.where(better, v, parts[k])
    off = load <= 1.0
    best = np.where(off, 0.0, best)
    # a load above every staging option: all chillers, flagged by an infinite power replaced below
    over = ~np.isfinite(best)
    if over.any():
        best = np.where(over, 1e7, best)
        out_n = np.where(over, cfg.n_chillers, out_n)
        out_np = np.where(over, cfg.n_chillers, out_np)
        out_hz = np.where(over, cfg.hz_max, out_hz)
    return Dispatch(best, out_n, out_np, out_hz, parts, out_cw)


@dataclass
class ChwSolution:
    setpoints_c: np.ndarray       # (H,)
    n_chillers: np.ndarray
    n_pumps: np.ndarray
    pump_hz: np.ndarray
    power_kw: np.ndarray          # predicted plant power of the plan
    violation: np.ndarray         # predicted weighted exceedance per step
    feasible: bool
    diagnosis: str
    seconds: float = 0.0
    cw_setpoint_c: np.ndarray | None = None


def _diagnose(problem: ChwProblem, k: int, ci: int) -> str:
    msgs = []
    for j, code in enumerate(problem.zone_codes):
        t, rh = problem.zone_t_c[k, ci, j], problem.zone_rh_pct[k, ci, j]
        if t > problem.t_max_c[k, j]:
            msgs.append(f"{code} predicted {t:.1f} degC > {problem.t_max_c[k, j]:.1f} (limit less margin)")
        if rh > problem.rh_max_pct[k, j]:
            msgs.append(f"{code} predicted {rh:.0f} %RH > {problem.rh_max_pct[k, j]:.0f} (limit less margin)")
    return (f"infeasible at {problem.times[k]}: " + "; ".join(msgs)
            + f" even at the chosen {problem.candidates_c[ci]:.1f} degC supply; least-bad safe setpoint returned")


def solve_chw(problem: ChwProblem) -> ChwSolution:
    import time

    t0 = time.perf_counter()
    d = dispatch(problem)
    viol = problem.violation()
    cost = d.power_kw + PENALTY_KW_PER_UNIT * viol
    # where no candidate keeps the zones within limits, the least-bad setpoint must also be safe:
    # never warmer than the plant's design supply temperature (recovery / pull-down)
    short = viol.min(axis=1) > 0
    c = problem.candidates_c
    safe_i = int(np.abs(c - problem.cfg.safe_chws_c).argmin())
    # too warm at the design supply temperature: the plant is short of capacity (pull-down) and a
    # colder supply only lowers the chillers' capacity, so hold the design value; too humid only:
    # anything no warmer than the design value (a colder coil dries more)
    hot = (problem.zone_t_c[:, safe_i, :] > problem.t_max_c).any(axis=1) & problem.occupied
    unsafe = np.where(hot[:, None], np.abs(c - c[safe_i])[None, :] > 1e-9, (c > c[safe_i] + 1e-9)[None, :])
    cost = cost + UNSAFE_FACTOR * PENALTY_KW_PER_UNIT * (short[:, None] & unsafe)
    # ties (plant stopped, nothing to gain): stay at the design value, ready for the next start
    cost = cost + 1e-3 * np.abs(c - c[safe_i])[None, :]
    # feedback guard: a zone measured beyond its limit (less the margin) must not be warmed further
    if problem.guard is not None:
        cost[0] = cost[0] + GUARD_FACTOR * PENALTY_KW_PER_UNIT * problem.guard
    h, n = cost.shape
    up = problem.cfg.chws_rate_k_per_step + 1e-9
    down = problem.cfg.chws_rate_down_k_per_step + 1e-9
    step = c[None, :] - c[:, None]                                # (from, to)
    allowed = (step <= up) & (step >= -down)
    d0 = c - problem.previous_setpoint_c
    start_ok = (d0 <= up) & (d0 >= -down)
    if not start_ok.any():   # previous setpoint outside the grid: move towards it as fast as allowed
        start_ok = np.abs(c - problem.previous_setpoint_c) == np.abs(c - problem.previous_setpoint_c).min()
    big = np.inf
    acc = np.where(start_ok, cost[0], big)
    back = np.zeros((h, n), int)
    for k in range(1, h):
        tot = np.where(allowed, acc[:, None], big)                  # (from, to)
        back[k] = tot.argmin(axis=0)
        acc = tot.min(axis=0) + cost[k]
    path = np.zeros(h, int)
    path[-1] = int(acc.argmin())
    for k in range(h - 1, 0, -1):
        path[k - 1] = back[k, path[k]]
    rows = np.arange(h)
    v = viol[rows, path]
    feasible = bool(v[0] <= 1e-9)
    diagnosis = "" if feasible else _diagnose(problem, 0, path[0])
    return ChwSolution(c[path], d.n_chillers[rows, path], d.n_pumps[rows, path], d.pump_hz[rows, path],
                       d.power_kw[rows, path], v, feasible, diagnosis, time.perf_counter() - t0,
                       d.cw_setpoint_c[rows, path])


def baseline_power_kw(problem: ChwProblem, chws_c: float = 7.0) -> np.ndarray:
    """Predicted plant power of the baseline control (fixed supply temperature, staging at
    stage_plr, one pump per chiller at the design 5 K delta-T) for each step, on the first row of
    candidates nearest ``chws_c`` (the baseline's own load)."""
    ci = int(np.abs(problem.candidates_c - chws_c).argmin())
    load = problem.load_kw[:, ci:ci + 1]
    caps = np.asarray(problem.cfg.chiller_capacity_kw)
    n = np.minimum((np.cumsum(caps)[None, :] * problem.cfg.stage_plr < load).sum(axis=1) + 1, len(caps))[:, None]
    d = dispatch(problem, load_kw=load, chws_c=np.full_like(load, chws_c), fixed_n=n, fixed_dt_k=5.0)
    return d.power_kw[:, 0]
