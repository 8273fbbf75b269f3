"""Design matrices for direct multi-step forecasting, built only from what is known at issue time.

A row is one (issue position ``i``, step ``h``) pair: the issue time is index ``i`` of the series
(the last observed target), the target time is ``i + h``. Every target-derived feature reads the
target at positions ``<= i`` only; calendar features and future-known features (weather forecasts,
controllable inputs) are read at the target time. This is what makes backtests honest: see
``tests/test_forecast_backtest.py`` for the test that plants a future-only signal.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.calendar_features import calendar_features
from forecasting.contract import Spec


def _rolling_mean(y: np.ndarray, window: int) -> np.ndarray:
    """Mean of y[j - window + 1 .. j] for each j (NaNs ignored; NaN when the window holds none)."""
    return pd.Series(y).rolling(window, min_periods=1).mean().to_numpy()


class DirectDesign:
    """Builds the (issue, step) feature matrix for one target series plus future-known features.

    ``y``: target values over ``index`` (NaN for unknown, e.g. the forecast horizon); ``x``: the
    future-known feature columns over the same index.
    """

    def __init__(self, spec: Spec, index: pd.DatetimeIndex, y: np.ndarray, x: pd.DataFrame):
        self.spec = spec
        self.index = index
        self.y = np.asarray(y, dtype=float)
        self.x = x
        steps_per_hour = max(1, int(pd.Timedelta("1h") / spec.freq))
        self.roll = {
            "mean_1h": _rolling_mean(self.y, steps_per_hour),
            "mean_6h": _rolling_mean(self.y, 6 * steps_per_hour),
            "mean_1d": _rolling_mean(self.y, spec.season_steps),
        }
        self.cal = calendar_features(index, spec.tz, spec.calendar)

    def _at(self, values: np.ndarray, pos: np.ndarray) -> np.ndarray:
        out = np.full(pos.shape, np.nan)
        ok = (pos >= 0) & (pos < len(values))
        out[ok] = values[pos[ok]]
        return out

    def rows(self, issue: np.ndarray, steps: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
        """Feature frame and target positions for all pairs of ``issue`` positions and ``steps``."""
        i = np.repeat(np.asarray(issue, int), len(steps))
        h = np.tile(np.asarray(steps, int), len(issue))
        tau = i + h
        s, w = self.spec.season_steps, self.spec.week_steps
        k_day = -(-h // s)  # smallest k with h <= k * s: the slot k days back is known at issue
        lag_day = tau - k_day * s
        lag_week = tau - (-(-h // w)) * w
        cols: dict[str, np.ndarray] = {
            "step": h.astype(float),
            "y_issue": self._at(self.y, i),
            "lag_day": self._at(self.y, lag_day),
            "lag_2day": self._at(self.y, lag_day - s),
            "lag_week": self._at(self.y, lag_week),
        }
        for name, values in self.roll.items():
            cols[name] = self._at(values, i)
        cols["lag_day_minus_mean"] = cols["lag_day"] - cols["mean_1d"]
        for name in self.cal.columns:
            cols[name] = self._at(self.cal[name].to_numpy(), tau)
        cols["lag_day_is_workday"] = self._at(self.cal["is_workday"].to_numpy(), lag_day)
        for name in self.spec.future_known:
            v = self.x[name].to_numpy(dtype=float)
            cols[f"x_{name}"] = self._at(v, tau)
            cols[f"x_{name}_issue"] = v[i]
            cols[f"x_{name}_lag_day"] = self._at(v, lag_day)
        return pd.DataFrame(cols), tau


def training_rows(spec: Spec, history: pd.DataFrame, max_rows: int = 60_000, min_issue: int | None = None
                  ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Training matrix, targets and issue positions from a history frame (rows with an unknown target
    dropped), in issue order.

    Issue positions are taken every ``stride`` steps, the stride chosen to keep at most about
    ``max_rows`` rows; a stride coprime with a day spreads issue times over all times of day.
    """
    y = history[spec.target].to_numpy(dtype=float)
    design = DirectDesign(spec, history.index, y, history[list(spec.future_known)])
    n, horizon = len(y), spec.horizon
    first = spec.season_steps if min_issue is None else min_issue
    last = n - 2  # at least one step ahead must be inside the history
    if last < first:
        first = max(0, last)
    candidates = last - first + 1
    stride = max(1, int(np.ceil(candidates * horizon / max_rows)))
    while stride > 1 and np.gcd(stride, spec.season_steps) != 1:
        stride += 1
    issue = np.arange(last, first - 1, -stride)[::-1]
    frame, tau = design.rows(issue, np.arange(1, horizon + 1))
    keep = tau < n
    target = np.full(tau.shape, np.nan)
    target[keep] = y[tau[keep]]
    keep &= ~np.isnan(target)
    issue_pos = np.repeat(issue, horizon)
    return frame[keep].reset_index(drop=True), target[keep], issue_pos[keep]


def forecast_rows(spec: Spec, history: pd.DataFrame, future: pd.DataFrame) -> pd.DataFrame:
    """Feature matrix for the steps of ``future`` after the end of ``history`` (issue = last row)."""
    index = history.index.append(future.index)
    y = np.concatenate([history[spec.target].to_numpy(dtype=float), np.full(len(future), np.nan)])
    cols = list(spec.future_known)
    x = pd.concat([history[cols], future[cols]]) if cols else pd.DataFrame(index=index)
    design = DirectDesign(spec, index, y, x)
    frame, _ = design.rows(np.array([len(history) - 1]), np.arange(1, len(future) + 1))
    return frame
