"""Zone response to the chilled-water supply temperature, learned from meter history.

Contract (``ZoneResponse``): ``fit(history, exo)`` then ``predict(state, exo_rows, chws_c)`` giving the
next-interval temperature [deg C] and relative humidity [%] of every zone and the plant's CHW load
[kW] for each candidate supply temperature. The forecasting package can provide another
implementation of the same protocol later.

This implementation is a grey-box regression (least squares, linear in its parameters, microseconds
to evaluate). Its features follow the textbook structure of an AHU-served zone (ASHRAE Handbook
Fundamentals ch. 19): with the HVAC on, a zone either holds its setpoint or, when the coil is at
capacity, ends the interval at a temperature linear in its state, the weather, the internal gains
and the supply temperature (coil capacity ~ T_mix - T_chws), so T_next = max(T_held, T_limited), each
fitted on its own regime; humidity ratio is linear in the state, outdoor humidity, latent gains and
the saturation humidity at candidate coil-surface temperatures (Magnus formula); relative humidity
follows from the predicted temperature and humidity ratio. The CHW load is linear in the last load
and the same features. Fit quality: R^2 and RMSE on the last 20 % of the history (time order kept).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd

EXO = ("temp_c", "rh_pct", "ghi_w_m2", "intensity", "hvac_on")


class ZoneResponse(Protocol):
    stats: dict

    def fit(self, history: pd.DataFrame, exo: pd.DataFrame) -> ZoneResponse: ...

    def predict(self, state: dict, exo_rows: pd.DataFrame, chws_c: np.ndarray) -> dict[str, np.ndarray]: ...


def p_sat_pa(t_c):
    """Saturation vapour pressure over water [Pa], Magnus (Alduchov & Eskridge 1996)."""
    t = np.asarray(t_c, float)
    return 610.94 * np.exp(17.625 * t / (t + 243.04))


def w_from_rh(t_c, rh_pct):
    pw = np.asarray(rh_pct, float) / 100.0 * p_sat_pa(t_c)
    return 0.621945 * pw / (101325.0 - pw)


def rh_from_w(t_c, w):
    pw = 101325.0 * np.asarray(w, float) / (0.621945 + np.asarray(w, float))
    return np.clip(100.0 * pw / p_sat_pa(t_c), 0.0, 100.0)


def exo_from_history(history: pd.DataFrame, plan: pd.DataFrame) -> pd.DataFrame:
    """Exogenous inputs aligned with a history frame: metered weather + the production plan."""
    return pd.DataFrame({"temp_c": history["wx_temp_c"], "rh_pct": history["wx_rh_pct"],
                         "ghi_w_m2": history["wx_ghi_w_m2"], "intensity": plan["intensity"].to_numpy(),
                         "hvac_on": plan["hvac_on"].astype(float).to_numpy()}, index=history.index)


def _features(t, rh, load, ex: np.ndarray, chws) -> np.ndarray:
    t, rh, load = (np.asarray(a, float) for a in (t, rh, load))
    chws = np.asarray(chws, float)
    to, rho, ghi, inten, hv = (ex[:, k] for k in range(5))
    w = w_from_rh(t, rh) * 1000.0
    wo = w_from_rh(to, rho) * 1000.0
    ws = [w_from_rh(chws + d, 100.0) * 1000.0 for d in (1.0, 3.0, 5.0)]
    cols = [np.ones_like(t), t, w, to, wo, ghi / 1000.0, inten, load / 1000.0, chws, chws * chws,
            t - chws, to - chws, inten * chws, *ws, *(x * w for x in ws), *(x * wo for x in ws), t * t]
    return np.column_stack(cols)


def _t_features(X: np.ndarray) -> np.ndarray:
    """Temperature regime features: linear in the supply temperature (coil capacity ~ T_mix - T_chws),
    so the predicted temperature is monotone in it: [1, T, T_out, GHI, intensity, load, chws]."""
    return X[:, [0, 1, 3, 5, 6, 7, 8]]


def _lsq(X, y, ridge=1e-6):
    A = X.T @ X + ridge * np.eye(X.shape[1])
    return np.linalg.solve(A, X.T @ y)


def _stats(y, yh):
    res = y - yh
    ss = float(((y - y.mean()) ** 2).sum())
    return {"r2": 1 - float((res ** 2).sum()) / ss if ss else float("nan"), "rmse": float(np.sqrt(np.mean(res ** 2))),
            "n_test": int(y.size)}


@dataclass
class LinearZoneResponse:
    n_zones: int
    coef: dict = field(default_factory=dict)
    held: np.ndarray = field(default_factory=lambda: np.zeros(0))
    stats: dict = field(default_factory=dict)

    # -- fitting ------------------------------------------------------------------------------
    def _fit_t(self, X, t_next, hv, held_c):
        X = _t_features(X)
        lim = (hv > 0.5) & (t_next > held_c + 0.05)
        other = ~lim
        b_lim = _lsq(X[lim], t_next[lim]) if lim.sum() > X.shape[1] else None
        b_oth = _lsq(X[other], t_next[other])
        return b_lim, b_oth

    def _t(self, j, X, hv):
        b_lim, b_oth = self.coef[f"t{j}"]
        X = _t_features(X)
        oth = X @ b_oth
        held = self.held[j]
        # held regime: with the HVAC on, the coil keeps the zone at or below its setpoint
        oth = np.where(hv > 0.5, np.minimum(oth, held), oth)
        return np.maximum(oth, X @ b_lim) if b_lim is not None else oth

    def fit(self, history: pd.DataFrame, exo: pd.DataFrame) -> LinearZoneResponse:
        ex = exo[list(EXO)].to_numpy(float)[1:]
        chws = (history["decision_chws_setpoint_c"] if "decision_chws_setpoint_c" in history
                else history["chws_c"].fillna(7.0)).to_numpy()[1:]
        load_prev = history["chw_load_kw"].to_numpy()[:-1]
        hv = ex[:, 4]
        n = len(ex)
        split = int(n * 0.8)
        tr, te = slice(0, split), slice(split, n)
        held = []
        for j in range(self.n_zones):
            t, rh = history[f"ws{j + 1}_t_c"].to_numpy(), history[f"ws{j + 1}_rh_pct"].to_numpy()
            X = _features(t[:-1], rh[:-1], load_prev, ex, chws)
            tn, wn = t[1:], w_from_rh(t[1:], rh[1:]) * 1000.0
            on_t = np.round(tn[hv > 0.5], 1)
            held_c = float(pd.Series(on_t).mode().iloc[0]) if on_t.size else 26.0
            held.append(held_c)
            self.held = np.array(held + [99.0] * (self.n_zones - len(held)))
            for part, rows in (("test", tr), ("final", slice(0, n))):
                self.coef[f"t{j}"] = self._fit_t(X[rows], tn[rows], hv[rows], held_c)
                self.coef[f"w{j}"] = (_lsq(X[rows][hv[rows] > 0.5], wn[rows][hv[rows] > 0.5]),
                                      _lsq(X[rows][hv[rows] < 0.5], wn[rows][hv[rows] < 0.5]))
                if part == "test":
                    tp = self._t(j, X[te], hv[te])
                    wp = self._w(j, X[te], hv[te])
                    self.stats[f"zone{j + 1}_t"] = _stats(tn[te], tp)
                    self.stats[f"zone{j + 1}_rh"] = _stats(rh[1:][te], rh_from_w(tp, wp / 1000.0))
        self.held = np.array(held)
        tm = np.column_stack([history[f"ws{j + 1}_t_c"] for j in range(self.n_zones)]).mean(axis=1)
        rm = np.column_stack([history[f"ws{j + 1}_rh_pct"] for j in range(self.n_zones)]).mean(axis=1)
        X = _features(tm[:-1], rm[:-1], load_prev, ex, chws)
        y = history["chw_load_kw"].to_numpy()[1:]
        for part, rows in (("test", tr), ("final", slice(0, n))):
            on = hv[rows] > 0.5
            self.coef["load"] = (_lsq(X[rows][on], y[rows][on]), _lsq(X[rows][~on], y[rows][~on]))
            if part == "test":
                self.stats["chw_load"] = _stats(y[te], self._load(X[te], hv[te]))
        return self

    def _w(self, j, X, hv):
        b_on, b_off = self.coef[f"w{j}"]
        return np.where(hv > 0.5, X @ b_on, X @ b_off)

    def _load(self, X, hv):
        b_on, b_off = self.coef["load"]
        return np.maximum(np.where(hv > 0.5, X @ b_on, X @ b_off), 0.0)

    # -- prediction ---------------------------------------------------------------------------
    def predict(self, state: dict, exo_rows: pd.DataFrame, chws_c: np.ndarray) -> dict[str, np.ndarray]:
        """state: zone_t_c, zone_rh_pct (arrays over zones), load_kw. exo_rows: H rows of EXO columns.

        Returns (H, C) arrays for C candidate supply temperatures: ``load_kw`` and, per zone j,
        ``t{j}`` and ``rh{j}``. Every step starts from the current state (direct, not recursive).
        """
        ex = exo_rows[list(EXO)].to_numpy(float)
        h, c = len(ex), len(chws_c)
        exr = np.repeat(ex, c, axis=0)
        hv = exr[:, 4]
        chws = np.tile(np.asarray(chws_c, float), h)
        load = np.full(h * c, float(state["load_kw"]))
        out = {}
        for j in range(self.n_zones):
            X = _features(np.full(h * c, state["zone_t_c"][j]), np.full(h * c, state["zone_rh_pct"][j]), load, exr, chws)
            t = self._t(j, X, hv)
            out[f"t{j}"] = t.reshape(h, c)
            out[f"rh{j}"] = rh_from_w(t, self._w(j, X, hv) / 1000.0).reshape(h, c)
        X = _features(np.full(h * c, np.mean(state["zone_t_c"])), np.full(h * c, np.mean(state["zone_rh_pct"])),
                      load, exr, chws)
        out["load_kw"] = self._load(X, hv).reshape(h, c)
        return out
