"""Chilled-water plant equipment models fitted from meter history, with their fit quality.

* Chiller (per machine): the DOE-2 / EnergyPlus ``Chiller:Electric:EIR`` form
  P = Q_ref x EIRFT(T_chws, T_cws) x EIRFPLR(PLR), PLR = Q_evap / Q_ref, with EIRFT biquadratic and
  EIRFPLR quadratic (EnergyPlus Engineering Reference, "Chiller:Electric:EIR"). CAPFT is folded
  into EIRFT: it is not identifiable from operating history (a chiller rarely runs at its limit);
  Q_ref is the nameplate. Fitted by alternating least squares (each curve is linear given the other).
* Condenser water entering temperature: T_cws = max(setpoint, T_wb + a + b q), q = rejected load
  per running cell / nameplate (fitted on the rows where the tower runs flat out, i.e. above its
  logged setpoint).
* Tower fans, per running cell, as a function of the approach the setpoint asks for:
  P_cell = min(P_max, exp(c0) q^c1 (T_cws - T_wb - c2)^-c3 exp(c4 (T_wb - 20))) (fan power rises
  steeply as the approach closes; P_max = the flat-out draw), by non-linear least squares on the
  rows where the fans modulate. The tower setpoint is then a decision: a colder condenser saves
  chiller power and costs fan power.
* CW pumps: constant-speed, one per running chiller: per-machine kW by non-negative least squares.
* CHW pumps (headered, VFD): operating point (f/50)^2 = a + b (Q/n)^2 + c Q^2 (pump curve meets
  the system curve, affinity laws); power P = n (d0 s^3 + d1 s + d2) + d3 Q s^2 + d4 Q^3/n^2.
Fit quality: R^2 and CV(RMSE) (ASHRAE Guideline 14 statistic) on the fitting rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import nnls

from ems.optimize.history import CHW_REQUIRED, chiller_count


def fit_stats(y: np.ndarray, yhat: np.ndarray) -> dict[str, float]:
    """R^2 and CV(RMSE) [%] of a fit."""
    y, yhat = np.asarray(y, float), np.asarray(yhat, float)
    res = y - yhat
    ss = float(((y - y.mean()) ** 2).sum())
    rmse = float(np.sqrt(np.mean(res ** 2)))
    return {"r2": 1.0 - float((res ** 2).sum()) / ss if ss > 0 else float("nan"),
            "cv_rmse_pct": 100.0 * rmse / abs(float(y.mean())) if y.mean() else float("nan"), "n": int(y.size)}


def _biq(x, y):
    return np.stack([np.ones_like(x), x, x * x, y, y * y, x * y], axis=-1)


@dataclass
class ChillerFit:
    q_ref_kw: float
    eirft: np.ndarray
    eirfplr: np.ndarray
    stats: dict = field(default_factory=dict)
    chws_range: tuple[float, float] = (4.0, 12.0)   # supply temperatures the fit has seen

    def power_kw(self, q_kw, chws_c, cws_c):
        """Electric power [kW] at evaporator load q_kw, leaving CHW and entering CW temperatures."""
        x = np.clip(chws_c, *self.chws_range)
        f = _biq(np.asarray(x, float), np.asarray(cws_c, float)) @ self.eirft
        p = np.asarray(q_kw, float) / self.q_ref_kw
        g = self.eirfplr[0] + self.eirfplr[1] * p + self.eirfplr[2] * p * p
        return self.q_ref_kw * f * g * (np.asarray(q_kw) > 0)


def fit_chiller(q, p, chws, cws, q_ref_kw: float, iters: int = 30) -> ChillerFit:
    """Alternating least squares for P / Q_ref = EIRFT(x, y) * EIRFPLR(PLR)."""
    q, p, x, y = (np.asarray(a, float) for a in (q, p, chws, cws))
    plr = q / q_ref_kw
    z = p / q_ref_kw
    B = _biq(x, y)
    L = np.stack([np.ones_like(plr), plr, plr * plr], axis=1)
    g = np.array([0.2, 0.3, 0.5])
    f = np.zeros(6)
    for _ in range(iters):
        gv = L @ g
        f = np.linalg.lstsq(B * gv[:, None], z, rcond=None)[0]
        fv = B @ f
        g = np.linalg.lstsq(L * fv[:, None], z, rcond=None)[0]
    # normalise: EIRFPLR(1) = 1
    s = g.sum()
    g, f = g / s, f * s
    fit = ChillerFit(q_ref_kw, f, g, chws_range=(float(x.min()), float(x.max())))
    fit.stats = fit_stats(p, fit.power_kw(q, x, y))
    return fit


@dataclass
class ChwPlantModel:
    chillers: list[ChillerFit]
    cws: np.ndarray            # a, b of T_cws - T_wb = a + b q
    ct: np.ndarray             # tower fan coefficients c0..c4 (per cell) and P_max
    cwp_kw: np.ndarray         # per chiller
    pump_op: np.ndarray        # a, b, c
    pump_p: np.ndarray         # d0..d4
    cw_setpoint_c: float = 29.0
    stats: dict = field(default_factory=dict)

    def cws_c(self, load_kw, n_on, wb_c, cap_on_kw, setpoint_c=None):
        """Condenser water entering the chillers at a tower setpoint (default: the configured one)."""
        q = np.asarray(load_kw) / np.maximum(cap_on_kw, 1.0)
        free = np.asarray(wb_c) + self.cws[0] + self.cws[1] * q
        return np.maximum(self.cw_setpoint_c if setpoint_c is None else setpoint_c, free)

    def ct_kw(self, load_kw, n_on, wb_c, cap_on_kw, cws_c=None):
        """Tower fan power holding condenser water at ``cws_c`` (default: at the configured setpoint)."""
        if cws_c is None:
            cws_c = self.cws_c(load_kw, n_on, wb_c, cap_on_kw)
        q = np.maximum(np.asarray(load_kw) / np.maximum(cap_on_kw, 1.0), 1e-3)
        wb = np.asarray(wb_c, float)
        return n_on * _cell_kw(self.ct, q, np.asarray(cws_c) - wb, wb) * (np.asarray(load_kw) > 0)

    def pump_hz(self, flow, n_pumps):
        a, b, c = self.pump_op
        n = np.maximum(n_pumps, 1)
        return 50.0 * np.sqrt(np.maximum(a + b * (flow / n) ** 2 + c * flow ** 2, 0.0))

    def pump_flow(self, hz, n_pumps):
        """Inverse of :meth:`pump_hz`: the total flow [m3/h] at a frequency."""
        a, b, c = self.pump_op
        n = np.maximum(n_pumps, 1)
        return np.sqrt(np.maximum(((hz / 50.0) ** 2 - a) / (b / n ** 2 + c), 0.0))

    def pump_kw(self, flow, hz, n_pumps):
        s = np.asarray(hz) / 50.0
        n = np.asarray(n_pumps, float)
        d = self.pump_p
        return np.maximum(n * (d[0] * s ** 3 + d[1] * s + d[2]) + d[3] * flow * s * s
                          + d[4] * flow ** 3 / np.maximum(n, 1) ** 2, 0.0) * (n > 0)


def _cell_kw(c, q, approach, wb):
    c0, c1, c2, c3, c4, pmax = c
    return np.minimum(pmax, np.exp(c0) * q ** c1 * np.maximum(approach - c2, 0.05) ** (-c3) * np.exp(c4 * (wb - 20.0)))


def fit_tower(q, approach, wb, cell_kw) -> np.ndarray:
    """Per-cell fan power model (c0..c4, P_max) from metered rows (see the module docstring)."""
    from scipy.optimize import least_squares

    q, app, wb, y = (np.asarray(a, float) for a in (q, approach, wb, cell_kw))
    pmax = float(np.percentile(y, 99.5))
    mod = (y < 0.98 * pmax) & (y > 0.02 * pmax) & (q > 0.05)
    if mod.sum() < 30:
        return np.array([np.log(max(pmax, 1e-3)), 0.0, 0.0, 0.0, 0.0, pmax])

    def res(p):
        return _cell_kw(np.r_[p, np.inf], q[mod], app[mod], wb[mod]) - y[mod]

    lo = [-20.0, 0.0, -10.0, 0.0, -1.0]
    hi = [30.0, 6.0, float(np.min(app[mod])) - 0.1, 8.0, 1.0]
    p = least_squares(res, [0.0, 1.5, min(-1.0, hi[2] - 1.0), 2.0, 0.0], bounds=(lo, hi)).x
    return np.r_[p, pmax]


def _pump_features(flow, s, n):
    return np.stack([n * s ** 3, n * s, n, flow * s * s, flow ** 3 / np.maximum(n, 1) ** 2], axis=1)


def fit_chw_plant(df: pd.DataFrame, capacities_kw: tuple[float, ...], cw_setpoint_c: float = 29.0) -> ChwPlantModel:
    """Fit every chilled-water plant model from a history frame (see :mod:`ems.optimize.history`)."""
    missing = [c for c in CHW_REQUIRED if c not in df.columns]
    if missing:
        from ems.optimize.history import DataProblem
        raise DataProblem(f"history lacks meters: {', '.join(missing)}")
    n = chiller_count(df)
    run = df[df["chw_load_kw"] > 1.0]
    chillers = []
    stats: dict[str, dict] = {}
    for i in range(n):
        rows = run[run[f"ch{i + 1}_kw"] > 0.5]
        if len(rows) < 30:   # never ran: fall back to the generic DOE-2 shape at the nameplate
            fit = ChillerFit(capacities_kw[i], np.array([0.2, 0, 0, 0.0, 0, 0]) / 5.0 * 5.5 / 5.5,
                             np.array([0.2, 0.3, 0.5]))
            fit.eirft = np.array([1 / 5.0, 0, 0, 0, 0, 0])
            fit.stats = {"r2": float("nan"), "cv_rmse_pct": float("nan"), "n": int(len(rows))}
        else:
            fit = fit_chiller(rows[f"ch{i + 1}_evap_kw"], rows[f"ch{i + 1}_kw"], rows["chws_c"], rows["cws_c"],
                              capacities_kw[i])
        chillers.append(fit)
        stats[f"chiller_{i + 1}"] = fit.stats
    on = np.stack([run[f"ch{i + 1}_kw"].to_numpy() > 0.5 for i in range(n)], axis=1)
    cap_on = on @ np.asarray(capacities_kw, float)
    n_on = on.sum(axis=1)
    load = run["chw_load_kw"].to_numpy()
    q = load / np.maximum(cap_on, 1.0)
    wb = run["wx_wet_bulb_c"].to_numpy()
    cws = run["cws_c"].to_numpy()
    sp = run["cw_setpoint_c"].to_numpy(float) if "cw_setpoint_c" in run else np.full(len(run), cw_setpoint_c)
    free = cws > sp + 0.2
    A = np.stack([np.ones(free.sum()), q[free]], axis=1)
    cws_coef = np.linalg.lstsq(A, cws[free] - wb[free], rcond=None)[0] if free.sum() > 10 else np.array([4.0, 0.0])
    model = ChwPlantModel(chillers, cws_coef, np.zeros(6), np.zeros(n), np.zeros(3), np.zeros(5), cw_setpoint_c)
    stats["cw_supply_temp"] = fit_stats(cws, model.cws_c(load, n_on, wb, cap_on, sp))
    model.ct = fit_tower(q, cws - wb, wb, run["ct_kw"].to_numpy() / np.maximum(n_on, 1))
    stats["tower_fans"] = fit_stats(run["ct_kw"], model.ct_kw(load, n_on, wb, cap_on, cws))
    model.cwp_kw = nnls(on.astype(float), run["cwp_kw"].to_numpy())[0]
    stats["cw_pumps"] = fit_stats(run["cwp_kw"], on @ model.cwp_kw)
    flow, hz, npump = (run[c].to_numpy() for c in ("chw_flow_m3_per_h", "chwp_hz", "chwp_n"))
    ok = (npump > 0) & (hz > 1)
    Aop = np.stack([np.ones(ok.sum()), (flow[ok] / npump[ok]) ** 2, flow[ok] ** 2], axis=1)
    model.pump_op = np.linalg.lstsq(Aop, (hz[ok] / 50.0) ** 2, rcond=None)[0]
    stats["chw_pump_speed"] = fit_stats(hz[ok], model.pump_hz(flow[ok], npump[ok]))
    s = hz[ok] / 50.0
    model.pump_p = np.linalg.lstsq(_pump_features(flow[ok], s, npump[ok]), run["chwp_kw"].to_numpy()[ok], rcond=None)[0]
    stats["chw_pump_power"] = fit_stats(run["chwp_kw"].to_numpy()[ok], model.pump_kw(flow[ok], hz[ok], npump[ok]))
    model.stats = stats
    return model
