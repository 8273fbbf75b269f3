"""Seasonal naive: the value of the same slot one day (or one week) earlier.

It is the baseline every other model is measured against. The quantiles are the empirical
quantiles of its own in-sample errors, widened by sqrt(k) when the slot is k seasons back.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.contract import Forecaster, Spec, quantile_label


class SeasonalNaive(Forecaster):
    def __init__(self, spec: Spec, period: str = "day", error_window_days: int = 28):
        super().__init__(spec)
        self.period = period
        self.name = f"naive_{period}"
        self.error_window_days = error_window_days
        self.offsets: dict[str, float] = {}

    @property
    def lag(self) -> int:
        return self.spec.season_steps if self.period == "day" else self.spec.week_steps

    def fit(self, history: pd.DataFrame) -> SeasonalNaive:
        y = history[self.spec.target].to_numpy(dtype=float)
        y = y[-(self.error_window_days * self.spec.season_steps + self.lag):]
        errors = y[self.lag:] - y[:-self.lag] if len(y) > self.lag else np.array([])
        errors = errors[~np.isnan(errors)]
        for q in self.spec.quantiles:
            self.offsets[quantile_label(q)] = float(np.quantile(errors, q)) if len(errors) else 0.0
        self.fitted = True
        return self

    def params(self) -> dict:
        return {"lag_steps": self.lag, "error_offsets": self.offsets}

    def point(self, history: pd.DataFrame, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Median forecast for the next ``n`` steps and the number of seasons back each one uses."""
        y = history[self.spec.target].to_numpy(dtype=float)
        h = np.arange(1, n + 1)
        k = -(-h // self.lag)
        pos = len(y) - 1 + h - k * self.lag
        out = np.full(n, np.nan)
        for _ in range(4):  # a missing slot falls back to the same slot one more season back
            todo = np.isnan(out) & (pos >= 0)
            out[todo] = y[pos[todo]]
            pos = pos - self.lag
            k = np.where(todo & np.isnan(out), k + 1, k)
        return out, k

    def _predict(self, history: pd.DataFrame, future: pd.DataFrame) -> pd.DataFrame:
        median, k = self.point(history, len(future))
        widen = np.sqrt(k)
        cols = {label: median + off * widen for label, off in self.offsets.items()}
        cols["p50"] = median
        return pd.DataFrame(cols, index=future.index)
