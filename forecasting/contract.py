"""The one contract every forecaster follows, and the shape of a forecast.

A forecaster is fitted on a *history* frame: a regular DatetimeIndex (one row per step, tz-aware),
the target column and optional feature columns. It then forecasts the steps after the end of a
history frame (the issue time is the last index of that history) for the timestamps of a *future*
frame. The future frame carries only what is known at the issue time for those timestamps:
weather forecasts and controllable inputs (e.g. a chilled-water supply temperature the optimiser
wants to try). It never carries the target.

A forecast is a frame indexed by the future timestamps with one column per quantile, named by
:func:`quantile_label` (``p10``, ``p50``, ``p90`` ...); ``p50`` is the median and always present.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ems.errors import UserError

DEFAULT_QUANTILES: tuple[float, ...] = (0.1, 0.5, 0.9)


def quantile_label(q: float) -> str:
    """0.1 -> 'p10', 0.5 -> 'p50', 0.025 -> 'p2.5'."""
    return f"p{q * 100:g}"


def step_text(delta: pd.Timedelta) -> str:
    """pd.Timedelta('15min') -> '15min', 1 day -> '1d', 90 min -> '90min'."""
    minutes = delta / pd.Timedelta("1min")
    if minutes % 1440 == 0:
        return f"{int(minutes // 1440)}d"
    if minutes % 60 == 0:
        return f"{int(minutes // 60)}h"
    return f"{minutes:g}min"


def check_quantiles(quantiles: Sequence[float]) -> tuple[float, ...]:
    qs = tuple(sorted({float(q) for q in quantiles}))
    if not qs or any(not 0.0 < q < 1.0 for q in qs):
        raise UserError(f"quantiles must lie strictly between 0 and 1, got {list(quantiles)}")
    if 0.5 not in qs:
        qs = tuple(sorted((*qs, 0.5)))
    return qs


@dataclass
class Spec:
    """What a forecaster is asked to do.

    ``season_steps``: steps in one day (96 at 15 min); ``week_steps``: steps in one week.
    ``future_known``: feature columns whose values are known for the forecast horizon at issue time
    (weather forecasts, schedules, controllable inputs). Any other feature column of the history is
    treated as past-only and is not used by the models in this package.
    ``calendar``: 'CN' for Chinese public holidays and adjusted working days, or None for a plain
    Monday-to-Friday week.
    """

    target: str
    freq: pd.Timedelta
    horizon: int
    quantiles: tuple[float, ...] = DEFAULT_QUANTILES
    future_known: tuple[str, ...] = ()
    calendar: str | None = "CN"
    tz: str = "UTC"
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.freq = pd.Timedelta(self.freq)
        self.quantiles = check_quantiles(self.quantiles)
        self.future_known = tuple(self.future_known)
        if self.horizon < 1:
            raise UserError("the horizon must be at least one step")

    @property
    def season_steps(self) -> int:
        return max(1, int(pd.Timedelta("1D") / self.freq))

    @property
    def week_steps(self) -> int:
        return 7 * self.season_steps

    @property
    def labels(self) -> list[str]:
        return [quantile_label(q) for q in self.quantiles]


class Forecaster(ABC):
    """Base class: ``fit(history)`` learns parameters; ``predict(history, future)`` forecasts.

    ``predict`` may be given a longer history than ``fit`` saw (newer data arrived since training);
    forecasters use it for their recent state but do not refit.
    """

    name: str = "forecaster"

    def __init__(self, spec: Spec):
        self.spec = spec
        self.fitted = False

    @abstractmethod
    def fit(self, history: pd.DataFrame) -> Forecaster: ...

    @abstractmethod
    def _predict(self, history: pd.DataFrame, future: pd.DataFrame) -> pd.DataFrame: ...

    def params(self) -> dict:
        """Parameters worth recording in the model registry (JSON-serialisable)."""
        return {}

    def predict(self, history: pd.DataFrame, future: pd.DataFrame) -> pd.DataFrame:
        if not self.fitted:
            raise RuntimeError(f"{self.name}: predict called before fit")
        if self.spec.target in future.columns:
            raise ValueError("the future frame must not carry the target")
        missing = [c for c in self.spec.future_known if c not in future.columns]
        if missing:
            raise UserError(f"{self.name}: the future frame lacks the future-known features {missing}")
        out = self._predict(history, future)
        return sort_quantiles(out, self.spec)


def sort_quantiles(frame: pd.DataFrame, spec: Spec) -> pd.DataFrame:
    """Order the quantile columns and remove quantile crossing (sorting each row)."""
    labels = spec.labels
    values = np.sort(frame[labels].to_numpy(dtype=float), axis=1)
    return pd.DataFrame(values, index=frame.index, columns=labels)


def future_index(history: pd.DataFrame, spec: Spec, horizon: int | None = None) -> pd.DatetimeIndex:
    """The timestamps of the ``horizon`` steps after the end of ``history``."""
    n = spec.horizon if horizon is None else horizon
    start = history.index[-1] + spec.freq
    return pd.date_range(start, periods=n, freq=spec.freq)


def normal_quantiles(mean: np.ndarray, sd: np.ndarray, spec: Spec) -> dict[str, np.ndarray]:
    """Quantile columns from a Gaussian predictive distribution."""
    from scipy.stats import norm

    return {quantile_label(q): mean + norm.ppf(q) * sd for q in spec.quantiles}
