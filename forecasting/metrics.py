"""Accuracy metrics for point and quantile forecasts.

CV(RMSE) and NMBE follow ASHRAE Guideline 14 (with p = 0), as fractions of the mean actual value:
CV(RMSE) = RMSE / mean(y); NMBE = sum(y - yhat) / (n * mean(y)). Both are undefined for a series
whose mean is near zero (net load with PV can be), then reported as NaN.
MASE (Hyndman & Koehler 2006) divides the MAE by the in-sample MAE of the seasonal naive forecast
(one day) over the history available at the first origin. Skill = 1 - MAE / MAE of a naive forecast
on the same points. Pinball loss is averaged over the quantiles; coverage is the share of actual
values inside the outermost quantile interval (nominal 80 % for p10-p90).
"""

from __future__ import annotations

import numpy as np

from forecasting.contract import quantile_label


def pinball(y: np.ndarray, q_pred: np.ndarray, q: float) -> float:
    diff = y - q_pred
    return float(np.mean(np.maximum(q * diff, (q - 1) * diff)))


def naive_scale(history: np.ndarray, season: int) -> float:
    """In-sample MAE of the seasonal naive forecast (the MASE denominator)."""
    h = np.asarray(history, float)
    if len(h) <= season:
        return float("nan")
    d = np.abs(h[season:] - h[:-season])
    return float(np.nanmean(d)) if np.any(~np.isnan(d)) else float("nan")


def point_metrics(y: np.ndarray, yhat: np.ndarray, scale: float = float("nan")) -> dict[str, float]:
    y, yhat = np.asarray(y, float), np.asarray(yhat, float)
    ok = ~(np.isnan(y) | np.isnan(yhat))
    y, yhat = y[ok], yhat[ok]
    if not len(y):
        return {"n": 0}
    err = y - yhat
    mae = float(np.mean(np.abs(err)))
    rmse = float(np.sqrt(np.mean(err ** 2)))
    mean = float(np.mean(y))
    tiny = abs(mean) < 1e-9 * max(1.0, float(np.mean(np.abs(y))))
    return {
        "n": int(len(y)), "mae": mae, "rmse": rmse,
        "cv_rmse": float("nan") if tiny else rmse / mean,
        "nmbe": float("nan") if tiny else float(np.sum(err) / (len(y) * mean)),
        "mase": mae / scale if scale and np.isfinite(scale) and scale > 0 else float("nan"),
    }


def quantile_metrics(y: np.ndarray, preds: dict[float, np.ndarray]) -> dict[str, float]:
    y = np.asarray(y, float)
    ok = ~np.isnan(y)
    for p in preds.values():
        ok &= ~np.isnan(np.asarray(p, float))
    out: dict[str, float] = {}
    losses = []
    for q, p in sorted(preds.items()):
        loss = pinball(y[ok], np.asarray(p, float)[ok], q)
        out[f"pinball_{quantile_label(q)}"] = loss
        losses.append(loss)
    out["pinball"] = float(np.mean(losses))
    qs = sorted(preds)
    if len(qs) >= 2:
        lo, hi = np.asarray(preds[qs[0]])[ok], np.asarray(preds[qs[-1]])[ok]
        out["coverage"] = float(np.mean((y[ok] >= lo) & (y[ok] <= hi)))
        out["coverage_nominal"] = qs[-1] - qs[0]
    return out
