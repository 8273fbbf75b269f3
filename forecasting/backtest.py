"""Rolling-origin backtests that use only the data available at each origin.

At an origin (the issue time, the last row whose target is known) a model sees
``history = frame.loc[:origin]`` and a future frame that holds only the future-known feature columns
for the next ``horizon`` steps; the actual values are looked up afterwards, for scoring only.
Seasonal naive forecasts (one day and one week) are always computed beside the models.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ems.errors import UserError
from forecasting.contract import Forecaster, Spec
from forecasting.metrics import naive_scale, point_metrics, quantile_metrics
from forecasting.models import BASELINES, build

log = logging.getLogger(__name__)


@dataclass
class BacktestResult:
    spec: Spec
    origins: list[pd.Timestamp]
    forecasts: pd.DataFrame  # long: model, origin, ts, step, actual, p10, p50, p90 ...
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    fit_seconds: dict[str, float] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)

    def best_model(self, key: str = "mae") -> str | None:
        scored = {m: v[key] for m, v in self.metrics.items() if key in v and np.isfinite(v[key])}
        return min(scored, key=scored.get) if scored else None

    def as_dict(self) -> dict:
        return {"target": self.spec.target, "freq": str(self.spec.freq), "horizon_steps": self.spec.horizon,
                "quantiles": list(self.spec.quantiles), "origins": [o.isoformat() for o in self.origins],
                "n_origins": len(self.origins), "models": self.metrics, "fit_seconds": self.fit_seconds,
                "failures": self.failures, "best_model": self.best_model()}


def rolling_origins(index: pd.DatetimeIndex, spec: Spec, folds: int = 5, step: int | None = None,
                    min_train_steps: int | None = None) -> list[pd.Timestamp]:
    """``folds`` origins, ``step`` steps apart (default: the horizon), the last leaving a full horizon."""
    step = step or spec.horizon
    min_train = min_train_steps if min_train_steps is not None else 2 * spec.season_steps
    last = len(index) - 1 - spec.horizon
    positions = [last - k * step for k in range(folds)]
    positions = sorted(p for p in positions if p >= min_train - 1)
    if not positions:
        need = (min_train + spec.horizon) / spec.season_steps
        raise UserError(f"the series is too short for a backtest: {len(index)} steps; at least {need:.1f} days "
                        f"of training plus one horizon are needed")
    return [index[p] for p in positions]


def _split(frame: pd.DataFrame, spec: Spec, origin: pd.Timestamp) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    history = frame.loc[:origin].copy()
    idx = pd.date_range(origin + spec.freq, periods=spec.horizon, freq=spec.freq)
    future = frame.reindex(idx)[list(spec.future_known)].copy()
    actual = frame[spec.target].reindex(idx)
    return history, future, actual


def backtest(frame: pd.DataFrame, spec: Spec, models: list[str], origins: list[pd.Timestamp],
             refit_every: int = 1, fit_until: pd.Timestamp | None = None,
             options: dict[str, dict] | None = None) -> BacktestResult:
    """Run every model (plus the seasonal naive baselines) over the origins.

    ``refit_every``: refit a model every N origins (1 = at each origin); between refits the fitted
    model is given the newer history for its state. ``fit_until``: fit each model once, on the data up
    to that time (e.g. the end of a training file), and never again.
    """
    options = options or {}
    names = list(dict.fromkeys([*BASELINES, *models]))
    rows: list[pd.DataFrame] = []
    result = BacktestResult(spec, list(origins), pd.DataFrame())
    first_history = frame.loc[:origins[0], spec.target].to_numpy(float)
    scale = naive_scale(first_history, spec.season_steps)
    for name in names:
        fitted: Forecaster | None = None
        seconds = 0.0
        try:
            if fit_until is not None:
                t0 = time.perf_counter()
                fitted = build(name, spec, **options.get(name, {})).fit(frame.loc[:fit_until])
                seconds += time.perf_counter() - t0
            for k, origin in enumerate(origins):
                if origin > frame.index[-1]:
                    continue
                history, future, actual = _split(frame, spec, origin)
                if fit_until is None and (fitted is None or (refit_every and k % refit_every == 0)):
                    t0 = time.perf_counter()
                    fitted = build(name, spec, **options.get(name, {})).fit(history)
                    seconds += time.perf_counter() - t0
                fc = fitted.predict(history, future)
                fc.insert(0, "actual", actual.to_numpy())
                fc.insert(0, "step", np.arange(1, len(fc) + 1))
                fc.insert(0, "origin", origin)
                fc.insert(0, "model", name)
                rows.append(fc.rename_axis("ts").reset_index())
        except (ValueError, np.linalg.LinAlgError) as exc:
            if name in BASELINES:
                raise
            log.warning("backtest: model %s failed: %s", name, exc)
            result.failures[name] = f"{type(exc).__name__}: {exc}"
            rows = [r for r in rows if r["model"].iat[0] != name]
            continue
        result.fit_seconds[name] = round(seconds, 3)
    result.forecasts = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    result.metrics = score(result.forecasts, spec, scale)
    return result


def score(forecasts: pd.DataFrame, spec: Spec, scale: float) -> dict[str, dict[str, float]]:
    """Metrics per model, with skill against both seasonal naive forecasts on the same points."""
    out: dict[str, dict[str, float]] = {}
    if forecasts.empty:
        return out
    naive_mae = {}
    for name, group in forecasts.groupby("model", sort=False):
        y = group["actual"].to_numpy(float)
        m = point_metrics(y, group["p50"].to_numpy(float), scale)
        preds = {q: group[label].to_numpy(float) for q, label in zip(spec.quantiles, spec.labels)}
        m |= quantile_metrics(y, preds)
        out[str(name)] = m
        if name in BASELINES:
            naive_mae[name] = m.get("mae", float("nan"))
    for m in out.values():
        for base, mae in naive_mae.items():
            key = "skill_" + base.removeprefix("naive_")
            m[key] = 1 - m["mae"] / mae if mae and np.isfinite(mae) and "mae" in m else float("nan")
    return out
