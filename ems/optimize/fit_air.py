"""Compressed-air station models fitted from meter history, with their fit quality.

* Per compressor: electric power vs delivered free air and header pressure,
  P = c0 + c1 q + c2 q^2 + c3 q (p - 6.5) on the intervals the machine runs (``ac{i}_kw``,
  ``ac{i}_m3_per_min``, ``air_header_barg``); full-load power and capacity are the 99th percentiles
  of the running intervals at full delivery.
* Station demand: free-air demand (metered flow) vs the production plan and header pressure,
  D = d0 + d1 intensity + d2 (p - 6.5) + d3 intensity (p - 6.5) (leaks and unregulated users rise
  with pressure).
* Dryer purge: mean purge flow [m3/min] and its share of the delivered air (heatless dryers purge
  a fixed share of their rating whatever the load: the saving of dew-point demand control is the
  purge in excess of the share the delivered air needs).
Fit quality: R^2 and CV(RMSE) on the fitting rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ems.optimize.fit_chiller import fit_stats


@dataclass
class CompressorFit:
    code: str
    control: str
    coef: np.ndarray
    capacity_m3_per_min: float
    full_kw: float
    min_m3_per_min: float
    stats: dict = field(default_factory=dict)

    def power_kw(self, q, p_barg=6.5):
        q = np.asarray(q, float)
        c = self.coef
        return np.where(q > 0, c[0] + c[1] * q + c[2] * q * q + c[3] * q * (np.asarray(p_barg) - 6.5), 0.0)


@dataclass
class AirModel:
    compressors: list[CompressorFit]
    demand: np.ndarray
    purge_m3_per_min: float
    purge_share: float
    specific_kw_per_m3_min: float
    stats: dict = field(default_factory=dict)

    def demand_m3_per_min(self, intensity, p_barg):
        d = self.demand
        i, dp = np.asarray(intensity, float), np.asarray(p_barg, float) - 6.5
        return d[0] + d[1] * i + d[2] * dp + d[3] * i * dp


def fit_air(history: pd.DataFrame, intensity: pd.Series, controls: dict[str, str]) -> AirModel:
    """Fit the station from history; ``controls`` maps compressor code -> 'load_unload' | 'vsd' in
    the column order ac1, ac2, ... (from the asset register)."""
    p = history["air_header_barg"].to_numpy()
    comps, stats = [], {}
    for i, (code, control) in enumerate(controls.items()):
        kw, q = history[f"ac{i + 1}_kw"].to_numpy(), history[f"ac{i + 1}_m3_per_min"].to_numpy()
        run = (kw > 0.5) & (q > 0.01)
        if run.sum() < 10:
            cap = float(np.nan_to_num(np.nanmax(q), nan=1.0)) or 1.0
            fit = CompressorFit(code, control, np.array([0.0, 6.5, 0.0, 0.0]), cap, 6.5 * cap, 0.0,
                                {"r2": float("nan"), "cv_rmse_pct": float("nan"), "n": int(run.sum())})
        else:
            qq, pp = q[run], p[run]
            A = np.stack([np.ones_like(qq), qq, qq * qq, qq * (pp - 6.5)], axis=1)
            coef = np.linalg.lstsq(A, kw[run], rcond=None)[0]
            cap = float(np.percentile(qq, 99.5))
            fit = CompressorFit(code, control, coef, cap, float(np.percentile(kw[run], 99.5)),
                                float(np.percentile(qq, 0.5)) if control == "vsd" else cap)
            fit.stats = fit_stats(kw[run], fit.power_kw(qq, pp))
        comps.append(fit)
        stats[code] = fit.stats
    dem = history["air_flow_m3_per_min"].to_numpy()
    inten = np.asarray(intensity, float)
    A = np.stack([np.ones_like(inten), inten, p - 6.5, inten * (p - 6.5)], axis=1)
    dcoef = np.linalg.lstsq(A, dem, rcond=None)[0]
    model = AirModel(comps, dcoef, 0.0, 0.0, 0.0)
    stats["demand"] = fit_stats(dem, model.demand_m3_per_min(inten, p))
    purge = history["air_purge_m3_per_min"].to_numpy()
    model.purge_m3_per_min = float(purge.mean())
    model.purge_share = float(purge.sum() / max(dem.sum(), 1e-9))
    model.specific_kw_per_m3_min = float(history["air_kw"].sum() / max(dem.sum(), 1e-9))
    stats["dryer_purge"] = {"mean_m3_per_min": model.purge_m3_per_min, "share_of_delivered": model.purge_share}
    model.stats = stats
    return model


def dryer_demand_control_saving(model: AirModel, delivered_m3_per_min: np.ndarray, rated_m3_per_min: float,
                                purge_fraction_at_rated: float = 0.15) -> dict[str, float]:
    """Estimated saving of dew-point demand purge control: purge in proportion to the air dried
    (purge = fraction x delivered instead of fraction x rating), valued at the station's specific
    power. An estimate from the fitted models (the twin has no dryer decision to prove it)."""
    q = np.asarray(delivered_m3_per_min, float)
    fixed = np.full_like(q, model.purge_m3_per_min)
    demand_ctrl = np.minimum(purge_fraction_at_rated * q, fixed)
    saved_m3_min = float((fixed - demand_ctrl).mean())
    return {"purge_m3_per_min_fixed": float(fixed.mean()), "purge_m3_per_min_demand": float(demand_ctrl.mean()),
            "saved_kw": saved_m3_min * model.specific_kw_per_m3_min, "rated_m3_per_min": rated_m3_per_min}
