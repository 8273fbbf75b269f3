"""Input checks run before any model is fitted: completeness, flatline, outliers.

A target that fails is reported with every reason (``InputCheckError``, a user error), never
silently fitted. Problems below the failure thresholds are returned as warnings in the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ems.errors import UserError


class InputCheckError(UserError):
    """The target series is not fit for forecasting; ``report`` holds the details."""

    def __init__(self, report: CheckReport):
        self.report = report
        super().__init__(f"target '{report.target}' failed the input checks: " + "; ".join(report.failures))


@dataclass
class CheckLimits:
    """Failure thresholds.

    ``min_completeness``: share of expected steps with a value; ``min_days``: history length;
    ``flatline_days``: longest run of one repeated non-zero value (a stuck meter; runs of zero are a
    plant that is off and are allowed); ``outlier_z``: robust z-score (deviation from a one-day rolling
    median over 1.4826 x MAD) above which a value counts as an outlier; ``max_outlier_share``.
    """

    min_completeness: float = 0.9
    min_days: float = 2.0
    flatline_days: float = 1.0
    outlier_z: float = 10.0
    max_outlier_share: float = 0.01


@dataclass
class CheckReport:
    target: str
    n_expected: int
    n_present: int
    completeness: float
    longest_flatline_steps: int
    flatline_value: float | None
    n_outliers: int
    outlier_times: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items()} | {"ok": self.ok}


def _longest_run(values: np.ndarray) -> tuple[int, float | None]:
    """Longest run of equal consecutive non-NaN, non-zero values: (length, value)."""
    best, best_value, run = 0, None, 0
    prev = np.nan
    for v in values:
        if not np.isnan(v) and v != 0 and v == prev:
            run += 1
        else:
            run = 1 if (not np.isnan(v) and v != 0) else 0
        if run > best:
            best, best_value = run, float(v)
        prev = v
    return best, best_value


def robust_z(y: pd.Series, window: int) -> pd.Series:
    """Deviation from a centred rolling median, in robust standard deviations (1.4826 x MAD)."""
    med = y.rolling(window, center=True, min_periods=max(3, window // 4)).median()
    dev = y - med
    mad = float(np.nanmedian(np.abs(dev - np.nanmedian(dev))))
    scale = 1.4826 * mad
    if not np.isfinite(scale) or scale == 0:
        scale = float(np.nanstd(dev)) or 1.0
    return dev / scale


def check_target(y: pd.Series, freq: pd.Timedelta, limits: CheckLimits | None = None,
                 name: str | None = None) -> CheckReport:
    """Check a regular series (NaN marks a missing step) against ``limits``."""
    limits = limits or CheckLimits()
    freq = pd.Timedelta(freq)
    target = name or str(y.name)
    day = max(1, int(pd.Timedelta("1D") / freq))
    values = y.to_numpy(dtype=float)
    n_expected = int((y.index[-1] - y.index[0]) / freq) + 1 if len(y) else 0
    n_present = int(np.count_nonzero(~np.isnan(values)))
    completeness = n_present / n_expected if n_expected else 0.0
    run, run_value = _longest_run(values)
    z = robust_z(y.astype(float), day) if n_present else pd.Series(dtype=float)
    outliers = z.index[np.abs(z.to_numpy()) > limits.outlier_z] if n_present else []
    report = CheckReport(target, n_expected, n_present, completeness, run, run_value, len(outliers),
                         [str(t) for t in list(outliers)[:20]])
    if n_expected < limits.min_days * day:
        report.failures.append(f"only {n_expected / day:.1f} days of history, at least {limits.min_days:g} needed")
    if completeness < limits.min_completeness:
        report.failures.append(f"completeness {completeness:.1%} is below {limits.min_completeness:.0%}")
    elif completeness < 1:
        report.warnings.append(f"completeness {completeness:.2%}: {n_expected - n_present} steps missing")
    if n_present and np.nanstd(values) == 0:
        report.failures.append(f"the series is constant ({values[~np.isnan(values)][0]:g})")
    elif run >= limits.flatline_days * day:
        report.failures.append(f"flatline: the value {run_value:g} repeats for {run} steps "
                               f"({run / day:.1f} days; a stuck meter?)")
    share = len(outliers) / max(n_present, 1)
    if share > limits.max_outlier_share:
        report.failures.append(f"{len(outliers)} outliers ({share:.1%} of values, robust z > {limits.outlier_z:g}), "
                               f"first at {report.outlier_times[0]}")
    elif len(outliers):
        report.warnings.append(f"{len(outliers)} outlier(s) kept (robust z > {limits.outlier_z:g}), "
                               f"first at {report.outlier_times[0]}")
    return report


def require_ok(y: pd.Series, freq: pd.Timedelta, limits: CheckLimits | None = None,
               name: str | None = None) -> CheckReport:
    """Run :func:`check_target`; raise :class:`InputCheckError` when the target fails."""
    report = check_target(y, freq, limits, name)
    if not report.ok:
        raise InputCheckError(report)
    return report
