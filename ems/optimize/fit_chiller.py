"""Chilled-water plant equipment models fitted from meter history, with their fit quality.

* Chiller (per machine): the DOE-2 / EnergyPlus ``Chiller:Electric:EIR`` form
  P = Q_ref x EIRFT(T_chws, T_cws) x EIRFPLR(PLR), PLR = Q_evap / Q_ref, with EIRFT biquadratic and
  EIRFPLR quadratic (EnergyPlus Engineering Reference, "Chiller:Electric:EIR"). CAPFT is folded
  into EIRFT: it is not identifiable from operating history (a chiller rarely runs at its limit);
  Q_ref is the nameplate. Fitted by alternating least squares (each curve is linear given the other).
* Condenser water entering temperature: T_cws = max(setpoint, T_wb + a + b q), q = rejected load
  per running cell / nameplate (fitted on the rows where the tower runs flat out).
* Tower fans: P_ct = n (c0 + c1 q + c2 q^2 + c3 q (T_wb - 20)) by least squares.
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

    def power_kw(self, q_kw, chws_c, cws_c):
        """Electric power [kW] at evaporator load q_kw, leaving CHW and entering CW temperatures."""
        x = np.clip(chws_c, 4.0, 12.0)
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
    fit = ChillerFit(q_ref_kw, f, g)
    fit.stats = fit_stats(p, fit.power_kw(q, x, y))
    return fit


@dataclass
class ChwPlantModel:
    chillers: list[ChillerFit]
    cws: np.ndarray            # a, b of T_cws - T_wb = a + b q
    ct: np.ndarray             # tower fan coefficients
    cwp_kw: np.ndarray         # per chiller
    pump_op: np.ndarray        # a, b, c
    pump_p: np.ndarray         # d0..d4
    cw_setpoint_c: float = 29.0
    stats: dict = field(default_factory=dict)

    def cws_c(self, load_kw, n_on, wb_c, cap_on_kw):
        q = np.asarray(load_kw) / np.maximum(cap_on_kw, 1.0)
        free = np.asarray(wb_c) + self.cws[0] + self.cws[1] * q
        return np.maximum(self.cw_setpoint_c, free)

    def ct_kw(self, load_kw, n_on, wb_c, cap_on_kw):
        q = np.asarray(load_kw) / np.maximum(cap_on_kw, 1.0)
        c = self.ct
        return np.maximum(n_on * (c[0] + c[1] * q + c[2] * q * q + c[3] * q * (np.asarray(wb_c) - 20.0)), 0.0)

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
    free = cws > cw_setpoint_c + 0.2
    A = np.stack([np.ones(free.sum()), q[free]], axis=1)
    cws_coef = np.linalg.lstsq(A, cws[free] - wb[free], rcond=None)[0] if free.sum() > 10 else np.array([4.0, 0.0])
    model = ChwPlantModel(chillers, cws_coef, np.zeros(4), np.zeros(n), np.zeros(3), np.zeros(5), cw_setpoint_c)
    stats["cw_supply_temp"] = fit_stats(cws, model.cws_c(load, n_on, wb, cap_on))
    Act = np.stack([n_on, n_on * q, n_on * q * q, n_on * q * (wb - 20.0)], axis=1)
    model.ct = np.linalg.lstsq(Act, run["ct_kw"].to_numpy(), rcond=None)[0]
    stats["tower_fans"] = fit_stats(run["ct_kw"], model.ct_kw(load, n_on, wb, cap_on))
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
