"""Statistical forecasters from statsmodels.

- ``ets``: additive exponential smoothing (``ETSModel``, error/seasonal additive, no trend) with a
  weekly season when the window holds three weeks or more (else daily; ``season`` forces either),
  fitted on the most recent ``window_days``; Gaussian prediction intervals from the model.
- ``sarimax``: dynamic harmonic regression: SARIMAX(p, 0, q) errors around Fourier terms of the day
  (and week, with two weeks of history or more), the working-day flag and its product with the daily
  terms (a separate daily profile for days off), and the future-known features.
  A seasonal ARIMA with a 96-step season is not practical; Fourier terms are the standard substitute.
  Fitted in two stages (ridge regression, then ARMA on its residuals): a joint maximum-likelihood fit
  took 5 s instead of 0.3 s on a 3-week hourly series and was unstable with collinear terms.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from forecasting.calendar_features import day_flags
from forecasting.contract import Forecaster, Spec, normal_quantiles


def single_threaded(method):
    """Run with one BLAS thread: these fits do many tiny matrix operations, where thread start-up costs
    far more than it saves (measured: SARIMAX fit 0.09 s with one thread, 5 s with two on a busy machine).
    Parallelism comes from fanning series out over processes (forecasting.fanout)."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        with threadpool_limits(1):
            return method(*args, **kwargs)

    return wrapper


def _clean(y: pd.Series) -> pd.Series:
    """statsmodels wants no gaps: interpolate short holes, edge-fill the rest."""
    return y.astype(float).interpolate(limit_direction="both")


class ExponentialSmoothingForecaster(Forecaster):
    name = "ets"

    def __init__(self, spec: Spec, window_days: int = 28, season: str = "auto"):
        super().__init__(spec)
        self.window_days = window_days
        self.season = season
        self.fitted_params: np.ndarray | None = None

    def _model(self, y: pd.Series):
        from statsmodels.tsa.exponential_smoothing.ets import ETSModel

        week = self.season == "week" or (self.season == "auto" and len(y) >= 3 * self.spec.week_steps)
        season = self.spec.week_steps if week else self.spec.season_steps
        seasonal = "add" if len(y) >= 2 * season and season > 1 else None
        return ETSModel(pd.Series(_clean(y).to_numpy()), error="add", trend=None, seasonal=seasonal,
                        seasonal_periods=season if seasonal else None, initialization_method="heuristic"
                        if seasonal else "estimated")

    def _window(self, history: pd.DataFrame) -> pd.Series:
        return history[self.spec.target].iloc[-self.window_days * self.spec.season_steps:]

    @single_threaded
    def fit(self, history: pd.DataFrame) -> ExponentialSmoothingForecaster:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = self._model(self._window(history)).fit(disp=False, maxiter=200)
        self.fitted_params = np.asarray(result.params)
        self.fitted = True
        return self

    def params(self) -> dict:
        return {"window_days": self.window_days, "season": self.season, "smoothing": [float(v) for v in self.fitted_params[:3]]}

    @single_threaded
    def _predict(self, history: pd.DataFrame, future: pd.DataFrame) -> pd.DataFrame:
        y = self._window(history)
        model = self._model(y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                result = model.smooth(self.fitted_params)
            except (ValueError, IndexError):  # window shape changed (e.g. shorter history): refit
                result = model.fit(disp=False, maxiter=200)
            pred = result.get_prediction(start=len(y), end=len(y) + len(future) - 1)
            frame = pred.summary_frame(alpha=0.2)
        from scipy.stats import norm

        mean = frame["mean"].to_numpy()
        sd = (frame["pi_upper"].to_numpy() - frame["pi_lower"].to_numpy()) / (2 * norm.ppf(0.9))
        return pd.DataFrame(normal_quantiles(mean, np.maximum(sd, 0.0), self.spec), index=future.index)


def fourier_terms(index: pd.DatetimeIndex, tz: str, day_k: int, week_k: int) -> pd.DataFrame:
    local = index.tz_convert(tz)
    hours = local.hour + local.minute / 60.0 + local.second / 3600.0
    cols: dict[str, np.ndarray] = {}
    for k in range(1, day_k + 1):
        a = 2 * np.pi * k * np.asarray(hours) / 24.0
        cols[f"d_sin{k}"], cols[f"d_cos{k}"] = np.sin(a), np.cos(a)
    week_hours = np.asarray(local.day_of_week) * 24.0 + np.asarray(hours)
    for k in range(1, week_k + 1):
        a = 2 * np.pi * k * week_hours / 168.0
        cols[f"w_sin{k}"], cols[f"w_cos{k}"] = np.sin(a), np.cos(a)
    return pd.DataFrame(cols, index=index)


class SarimaxForecaster(Forecaster):
    name = "sarimax"

    def __init__(self, spec: Spec, order: tuple[int, int, int] = (2, 0, 1), day_harmonics: int = 4,
                 week_harmonics: int = 2, window_days: int = 21, ridge: float = 1e-3):
        super().__init__(spec)
        self.order = tuple(order)
        self.day_k, self.week_k = day_harmonics, week_harmonics
        self.window_days = window_days
        self.ridge = ridge
        self.use_week = False
        self.result = None
        self.beta: np.ndarray | None = None
        self.x_mean: pd.Series | None = None
        self.x_std: pd.Series | None = None

    def _exog(self, index: pd.DatetimeIndex, x: pd.DataFrame) -> np.ndarray:
        terms = fourier_terms(index, self.spec.tz, self.day_k, self.week_k if self.use_week else 0)
        work, _ = day_flags(index.tz_convert(self.spec.tz), self.spec.calendar)
        day_cols = [c for c in terms.columns if c.startswith("d_")]
        # working days and days off get their own daily profile (workday x daily harmonics)
        parts = [pd.DataFrame({"const": 1.0, "workday": work}, index=index), terms,
                 terms[day_cols].mul(work, axis=0).add_prefix("work_")]
        if self.spec.future_known:
            # standardised, so one ridge penalty suits every column (pressure in Pa, radiation in J/m2)
            x = x[list(self.spec.future_known)].astype(float).fillna(self.x_mean)
            parts.append((x - self.x_mean) / self.x_std)
        return pd.concat(parts, axis=1).to_numpy()

    def _window(self, history: pd.DataFrame) -> pd.DataFrame:
        return history.iloc[-self.window_days * self.spec.season_steps:]

    def _regress(self, hist: pd.DataFrame) -> np.ndarray:
        X = self._exog(hist.index, hist)
        y = hist[self.spec.target].astype(float).to_numpy()
        ok = ~np.isnan(y)
        penalty = self.ridge * len(y) * np.eye(X.shape[1])
        penalty[0, 0] = 0.0  # the constant is not shrunk
        return np.linalg.solve(X[ok].T @ X[ok] + penalty, X[ok].T @ y[ok])

    def _residual(self, hist: pd.DataFrame) -> np.ndarray:
        y = _clean(hist[self.spec.target]).to_numpy()
        return y - self._exog(hist.index, hist) @ self.beta

    @single_threaded
    def fit(self, history: pd.DataFrame) -> SarimaxForecaster:
        """Two stages: ridge least squares for the regression, then ARMA by maximum likelihood on its
        residuals. (A joint fit is slower and was numerically unstable with collinear Fourier terms.)"""
        from statsmodels.tsa.statespace.sarimax import SARIMAX

        hist = self._window(history)
        self.use_week = len(hist) >= 2 * self.spec.week_steps
        if self.spec.future_known:
            known = hist[list(self.spec.future_known)].astype(float)
            self.x_mean, self.x_std = known.mean(), known.std().replace(0.0, 1.0).fillna(1.0)
        self.beta = self._regress(hist)
        model = SARIMAX(self._residual(hist), order=self.order)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.result = model.fit(disp=False, maxiter=100)
        self.fitted = True
        return self

    def params(self) -> dict:
        return {"order": list(self.order), "day_harmonics": self.day_k, "week_harmonics": self.week_k,
                "use_week": self.use_week, "window_days": self.window_days, "ridge": self.ridge,
                "regression": [float(v) for v in self.beta],
                "arma": [float(v) for v in np.asarray(self.result.params)]}

    @single_threaded
    def _predict(self, history: pd.DataFrame, future: pd.DataFrame) -> pd.DataFrame:
        hist = self._window(history)
        # the regression is re-estimated on the newest window (cheap, like the filtered regression
        # states of a joint state-space fit); the ARMA parameters stay as fitted
        self.beta = self._regress(hist)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = self.result.apply(self._residual(hist))
            fc = res.get_forecast(steps=len(future))
        mean = self._exog(future.index, future) @ self.beta + np.asarray(fc.predicted_mean)
        sd = np.sqrt(np.maximum(np.asarray(fc.var_pred_mean), 0.0))
        return pd.DataFrame(normal_quantiles(mean, sd, self.spec), index=future.index)
