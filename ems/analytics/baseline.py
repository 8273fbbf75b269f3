"""Weather- and production-normalised energy baselines and savings (IPMVP Option C style).

A baseline is an ordinary-least-squares regression of a node's energy use per period (hour, day or
month) on drivers such as cooling and heating degree days, production output and day-type
dummies, fitted on a chosen base period. Savings in a reporting period are the *avoided energy
use*: the baseline's prediction under the reporting period's conditions minus the metered use.

Goodness of fit follows ASHRAE Guideline 14-2014, with the degrees-of-freedom correction
(n observations, p model parameters incl. the intercept, y-bar the mean observed use):

    CV(RMSE) = 100 % x sqrt( sum (y_i - yhat_i)^2 / (n - p) ) / y-bar
    NMBE     = 100 % x sum (y_i - yhat_i) / ((n - p) x y-bar)

Acceptance thresholds used here are Guideline 14's calibration criteria: monthly data CV(RMSE)
<= 15 % and |NMBE| <= 5 %; hourly data 30 % and 10 % (daily models are held to the hourly
criteria). These are quoted in reference/plant-physics-and-data.md §4 as "from memory" [R].

Savings uncertainty follows ASHRAE Guideline 14-2014 Annex B (fractional savings uncertainty,
after Reddy & Claridge 2000; the same form is used by LBNL's RMV2.0 and ECAM) [R]:

    dE_save / E_save = t x 1.26 x CV x sqrt( (n / n') x (1 + 2 / n') x (1 / m) ) / F

with t the two-sided Student-t value at the confidence level, CV = CV(RMSE) as a fraction, n the
baseline points, n' = n (1 - rho) / (1 + rho) the effective points for lag-1 residual
autocorrelation rho (rho <= 0 is taken as 0, conservatively), m the reporting points and F the
fractional savings. Multiplying by E_save = F x E_base gives the absolute half-width
``t x 1.26 x CV x sqrt((n/n')(1+2/n')/m) x E_base``, which is what is reported per period (m = 1)
and cumulatively (m = periods so far). Degrees of freedom for t: n' - p (the conservative choice
used by ECAM; with no autocorrelation this is Guideline 14's n - p).

Degree days: Chinese building codes (GB 50176-2016; JGJ 134/JGJ 26 climate indices HDD18, CDD26)
use base temperatures 18 degC for heating and 26 degC for cooling [R]; these are the defaults.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from ems.analytics.series import local_sorted

Granularity = Literal["hourly", "daily", "monthly"]
THRESHOLDS: dict[str, dict[str, float]] = {
    "monthly": {"cv_rmse_pct": 15.0, "nmbe_pct": 5.0},
    "daily": {"cv_rmse_pct": 30.0, "nmbe_pct": 10.0},
    "hourly": {"cv_rmse_pct": 30.0, "nmbe_pct": 10.0},
}
CONFIDENCES: tuple[float, ...] = (0.68, 0.90, 0.95)
G14_EMPIRICAL_FACTOR = 1.26  # ASHRAE Guideline 14-2014 Annex B, fractional savings uncertainty


# --- degree days ---------------------------------------------------------------------------------

def _daily_degree(temp_c: pd.Series, base_c: float, sign: int, method: str, tz: str | None,
                  min_coverage: float) -> pd.Series:
    t = local_sorted(temp_c, tz, "temperature")
    steps = t.index.to_series().diff().dropna()
    step = steps.median() if len(steps) else pd.Timedelta("1D")
    if step >= pd.Timedelta("1D"):  # already daily means
        return (sign * (t - base_c)).clip(lower=0).rename("degree_days")
    per_day = max(int(round(pd.Timedelta("1D") / step)), 1)
    day = t.resample("1D")
    counts = day.count()
    if method == "mean":
        dd = (sign * (day.mean() - base_c)).clip(lower=0)
    elif method == "integrated":  # degree-hours / 24: counts partial hours above/below the base
        dd = (sign * (t - base_c)).clip(lower=0).resample("1D").mean()
    else:
        raise ValueError(f"method must be 'mean' or 'integrated', got '{method}'")
    return dd.where(counts >= min_coverage * per_day).rename("degree_days")


def heating_degree_days(temp_c: pd.Series, base_c: float = 18.0, *, method: str = "mean",
                        tz: str | None = None, min_coverage: float = 0.8) -> pd.Series:
    """Daily heating degree days, K.d: ``max(0, base_c - T)`` per day.

    Daily input is used as daily mean temperature. Sub-daily (e.g. hourly) input is reduced per
    local day (in ``tz``): ``method='mean'`` uses the daily mean temperature (the Chinese code
    and CIBSE convention), ``'integrated'`` averages hourly ``max(0, base - T_h)`` (degree-hours /
    24). Days with fewer than ``min_coverage`` of their samples are NaN, never 0.
    """
    return _daily_degree(temp_c, base_c, -1, method, tz, min_coverage)


def cooling_degree_days(temp_c: pd.Series, base_c: float = 26.0, *, method: str = "mean",
                        tz: str | None = None, min_coverage: float = 0.8) -> pd.Series:
    """Daily cooling degree days, K.d: ``max(0, T - base_c)`` per day (see heating_degree_days)."""
    return _daily_degree(temp_c, base_c, +1, method, tz, min_coverage)


def sum_by_period(daily: pd.Series, freq: str = "MS") -> pd.Series:
    """Sum a daily series (degree days, output) per period; a period with a missing day is NaN."""
    return daily.resample(freq).sum(min_count=1).where(daily.isna().resample(freq).sum() == 0)


# --- model ---------------------------------------------------------------------------------------

@dataclass
class BaselineModel:
    """A fitted baseline; JSON-able through :meth:`to_dict` / :meth:`from_dict`."""

    target: str
    features: list[str]
    categorical: dict[str, list[str]]            # column -> levels (first level is the reference)
    design_columns: list[str]                    # 'const', numeric features, 'col[level]' dummies
    coefficients: dict[str, float]
    std_errors: dict[str, float]
    p_values: dict[str, float]
    period: dict[str, str]                       # {'start': iso, 'end': iso}, half-open
    granularity: str
    metrics: dict[str, float]
    thresholds: dict[str, float]
    feature_ranges: dict[str, list[float]] = field(default_factory=dict)

    @property
    def acceptable(self) -> bool:
        """Guideline 14 criteria met (CV(RMSE) and |NMBE| within the thresholds of the granularity)."""
        return bool(self.metrics["cv_rmse_pct"] <= self.thresholds["cv_rmse_pct"]
                    and abs(self.metrics["nmbe_pct"]) <= self.thresholds["nmbe_pct"])

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["kind"] = "ols_baseline"
        d["version"] = 1
        d["acceptable"] = self.acceptable
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BaselineModel:
        if d.get("kind") != "ols_baseline":
            raise ValueError(f"not a stored OLS baseline (kind={d.get('kind')!r})")
        names = cls.__dataclass_fields__.keys()
        return cls(**{k: v for k, v in d.items() if k in names})


def infer_granularity(index: pd.DatetimeIndex) -> str:
    """'monthly' (step >= 28 d), 'daily' (>= 1 d) or 'hourly' from the median index step."""
    steps = pd.Series(index).diff().dropna()
    if steps.empty:
        raise ValueError("cannot infer granularity from fewer than two timestamps")
    step = steps.median()
    if step >= pd.Timedelta("28D"):
        return "monthly"
    return "daily" if step >= pd.Timedelta("1D") else "hourly"


def _design(frame: pd.DataFrame, features: Sequence[str], categorical: dict[str, list[str]]) -> pd.DataFrame:
    x = pd.DataFrame(index=frame.index)
    x["const"] = 1.0
    for col in features:
        if col not in frame.columns:
            raise ValueError(f"feature '{col}' not in frame (columns: {list(frame.columns)})")
        if col in categorical:
            values = frame[col].astype("string")
            unknown = set(values.dropna()) - set(categorical[col])
            if unknown:
                raise ValueError(f"feature '{col}' has levels {sorted(unknown)} not seen in the base period")
            for level in categorical[col][1:]:
                x[f"{col}[{level}]"] = (values == level).astype(float).where(values.notna())
        else:
            x[col] = frame[col].astype(float)
    return x


def _bound(value: Any, tz: Any) -> pd.Timestamp | None:
    if value is None:
        return None
    ts = pd.Timestamp(value)
    if tz is not None and ts.tz is None:
        return ts.tz_localize(tz)
    return ts


def _period_slice(frame: pd.DataFrame, period: tuple[Any, Any] | None) -> pd.DataFrame:
    """Rows with start <= index < end (either bound may be None)."""
    if period is None:
        return frame
    idx = pd.DatetimeIndex(frame.index)
    start, end = _bound(period[0], idx.tz), _bound(period[1], idx.tz)
    mask = np.ones(len(frame), dtype=bool)
    if start is not None:
        mask &= np.asarray(idx >= start)
    if end is not None:
        mask &= np.asarray(idx < end)
    return frame[mask]


def lag1_autocorrelation(residuals: np.ndarray) -> float:
    """rho = sum(e_t e_{t-1}) / sum(e_t^2) of time-ordered residuals."""
    e = np.asarray(residuals, dtype=float)
    den = float(np.sum(e * e))
    return float(np.sum(e[1:] * e[:-1]) / den) if len(e) > 1 and den > 0 else 0.0


def fit_metrics(y: np.ndarray, yhat: np.ndarray, p: int) -> dict[str, float]:
    """R2, RMSE, CV(RMSE) % and NMBE % (Guideline 14 with n - p), lag-1 rho and effective n'."""
    y, yhat = np.asarray(y, float), np.asarray(yhat, float)
    n = len(y)
    if n <= p:
        raise ValueError(f"need more observations ({n}) than model parameters ({p})")
    e = y - yhat
    ybar = float(np.mean(y))
    rmse = float(np.sqrt(np.sum(e**2) / (n - p)))
    ss_tot = float(np.sum((y - ybar) ** 2))
    rho = lag1_autocorrelation(e)
    rho_pos = max(rho, 0.0)
    return {
        "n": float(n), "p": float(p), "mean_y": ybar, "rmse": rmse,
        "r2": 1.0 - float(np.sum(e**2)) / ss_tot if ss_tot > 0 else float("nan"),
        "cv_rmse_pct": 100.0 * rmse / ybar if ybar else float("nan"),
        "nmbe_pct": 100.0 * float(np.sum(e)) / ((n - p) * ybar) if ybar else float("nan"),
        "rho_lag1": rho, "n_effective": n * (1.0 - rho_pos) / (1.0 + rho_pos),
    }


def fit_baseline(frame: pd.DataFrame, target: str, features: Sequence[str],
                 period: tuple[Any, Any] | None = None, *, granularity: Granularity | None = None) -> BaselineModel:
    """Fit ``target ~ const + features`` by OLS (statsmodels) on ``period`` = (start, end), half-open.

    ``frame``: one row per period with a DatetimeIndex (period start), the target (e.g.
    ``energy_kwh``) and feature columns (e.g. ``cdd``, ``hdd``, ``output_count``). Non-numeric
    (string/category) feature columns, such as ``day_type`` from :func:`add_day_type`, become
    dummies against their first sorted level. Rows with a missing target or feature are left out
    and counted (``metrics['n_dropped']``).
    """
    if target not in frame.columns:
        raise ValueError(f"target '{target}' not in frame")
    base = _period_slice(frame.sort_index(), period)
    categorical = {c: sorted(base[c].dropna().astype(str).unique()) for c in features
                   if c in base.columns and not pd.api.types.is_numeric_dtype(base[c])}
    x = _design(base, features, categorical)
    y = base[target].astype(float)
    ok = x.notna().all(axis=1) & y.notna()
    x, y = x[ok], y[ok]
    if len(y) < 2:
        raise ValueError(f"base period has {len(y)} complete rows; cannot fit a baseline")
    res = sm.OLS(y.to_numpy(), x.to_numpy()).fit()
    cols = list(x.columns)
    metrics = fit_metrics(y.to_numpy(), res.fittedvalues, len(cols))
    metrics["adj_r2"] = float(res.rsquared_adj)
    metrics["n_dropped"] = float((~ok).sum())
    gran = granularity or infer_granularity(x.index)  # type: ignore[arg-type]
    numeric = [c for c in features if c not in categorical]
    return BaselineModel(
        target=target, features=list(features), categorical=categorical, design_columns=cols,
        coefficients=dict(zip(cols, map(float, res.params))), std_errors=dict(zip(cols, map(float, res.bse))),
        p_values=dict(zip(cols, map(float, res.pvalues))),
        period={"start": str(x.index.min()) if period is None or period[0] is None else str(pd.Timestamp(period[0])),
                "end": str(x.index.max()) if period is None or period[1] is None else str(pd.Timestamp(period[1]))},
        granularity=gran, metrics=metrics, thresholds=dict(THRESHOLDS[gran]),
        feature_ranges={c: [float(base[c].min()), float(base[c].max())] for c in numeric},
    )


def predict(model: BaselineModel, frame: pd.DataFrame) -> pd.Series:
    """Baseline prediction for each row of ``frame`` (NaN where a feature is missing)."""
    x = _design(frame, model.features, model.categorical)
    beta = np.array([model.coefficients[c] for c in model.design_columns])
    return pd.Series(x[model.design_columns].to_numpy() @ beta, index=frame.index, name="baseline")


def t_value(confidence: float, dof: float) -> float:
    """Two-sided Student-t critical value at ``confidence`` with ``dof`` degrees of freedom (>= 1)."""
    return float(stats.t.ppf((1.0 + confidence) / 2.0, max(float(dof), 1.0)))


def savings(model: BaselineModel, frame_reporting: pd.DataFrame,
            confidences: Sequence[float] = CONFIDENCES) -> pd.DataFrame:
    """Avoided energy use per reporting period with ASHRAE Guideline 14 uncertainty.

    Columns: ``baseline`` (adjusted baseline), ``actual``, ``savings`` (= baseline - actual),
    ``cumulative_savings``, ``savings_u68``/``u90``/``u95`` (half-width of the per-period savings at
    that confidence), ``cumulative_u68``/..., ``extrapolated`` (a driver outside the base period's
    range: IPMVP cautions against it). Rows with a missing driver or actual have NaN savings and
    are left out of the cumulative sums. ``attrs['summary']`` holds totals, fractional savings F
    and the fractional savings uncertainty per confidence (FSU; Guideline 14 asks for FSU < 50 % at
    68 % for savings to be reported as significant).
    """
    m_ = model.metrics
    n, p, n_eff = m_["n"], m_["p"], m_["n_effective"]
    cv = m_["cv_rmse_pct"] / 100.0
    out = pd.DataFrame(index=frame_reporting.index)
    out["baseline"] = predict(model, frame_reporting)
    out["actual"] = frame_reporting[model.target].astype(float)
    out["savings"] = out["baseline"] - out["actual"]
    valid = out["savings"].notna()
    out["cumulative_savings"] = out["savings"].where(valid, 0.0).cumsum().where(valid)
    cum_base = out["baseline"].where(valid, 0.0).cumsum()
    m_cum = valid.cumsum()
    shape = np.sqrt((n / n_eff) * (1.0 + 2.0 / n_eff))
    summary: dict[str, float] = {}
    total_base = float(out.loc[valid, "baseline"].sum())
    total_save = float(out.loc[valid, "savings"].sum())
    m_total = int(valid.sum())
    frac = total_save / total_base if total_base else float("nan")
    for c in confidences:
        key = f"u{round(c * 100):d}"
        k = G14_EMPIRICAL_FACTOR * t_value(c, n_eff - p) * cv * shape
        out[f"savings_{key}"] = (k * out["baseline"]).where(valid)
        out[f"cumulative_{key}"] = (k * cum_base / np.sqrt(m_cum.where(m_cum > 0))).where(valid)
        abs_total = k * total_base / np.sqrt(m_total) if m_total else float("nan")
        summary[f"savings_total_{key}"] = float(abs_total)
        summary[f"fsu_{key}"] = float(abs_total / abs(total_save)) if total_save else float("nan")
    out["extrapolated"] = _extrapolated(model, frame_reporting)
    summary.update({"baseline_total": total_base, "actual_total": float(out.loc[valid, "actual"].sum()),
                    "savings_total": total_save, "fractional_savings": frac, "m": float(m_total),
                    "n_missing": float((~valid).sum())})
    if "fsu_u68" in summary:
        summary["significant_at_68"] = float(summary["fsu_u68"] < 0.5)
    out.attrs["summary"] = summary
    return out


def _extrapolated(model: BaselineModel, frame: pd.DataFrame) -> pd.Series:
    flag = pd.Series(False, index=frame.index)
    for col, (lo, hi) in model.feature_ranges.items():
        v = frame[col].astype(float)
        flag |= (v < lo) | (v > hi)
    return flag


def add_day_type(frame: pd.DataFrame, tz: str, column: str = "day_type") -> pd.DataFrame:
    """Copy of a daily frame with a ``day_type`` column (workday/weekend/holiday, Chinese calendar)."""
    from ems.analytics.profiles import china_day_type

    idx = frame.index.tz_convert(tz) if frame.index.tz is not None else frame.index  # type: ignore[union-attr]
    out = frame.copy()
    out[column] = [china_day_type(d).rstrip("?") for d in idx.date]  # type: ignore[union-attr]
    return out
