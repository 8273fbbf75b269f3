"""Forecasters, all following :class:`forecasting.contract.Forecaster`.

``build(name, spec)`` makes one by name: naive_day, naive_week (seasonal naive baselines), ets
(exponential smoothing), sarimax (SARIMAX with Fourier seasonality), gbm (gradient boosting).
"""

from __future__ import annotations

from ems.errors import UserError
from forecasting.contract import Forecaster, Spec

BASELINES = ("naive_day", "naive_week")
MODEL_NAMES = ("naive_day", "naive_week", "ets", "sarimax", "gbm")


def build(name: str, spec: Spec, **options) -> Forecaster:
    if name in BASELINES:
        from forecasting.models.naive import SeasonalNaive

        return SeasonalNaive(spec, period="day" if name == "naive_day" else "week", **options)
    if name == "ets":
        from forecasting.models.statistical import ExponentialSmoothingForecaster

        return ExponentialSmoothingForecaster(spec, **options)
    if name == "sarimax":
        from forecasting.models.statistical import SarimaxForecaster

        return SarimaxForecaster(spec, **options)
    if name == "gbm":
        from forecasting.models.gbm import GradientBoostingForecaster

        return GradientBoostingForecaster(spec, **options)
    raise UserError(f"unknown model '{name}'; known: {', '.join(MODEL_NAMES)}")


def parse_models(text: str | None) -> list[str]:
    """'ets,gbm' -> ['ets', 'gbm'] (validated). None -> every non-baseline model."""
    if not text:
        return [m for m in MODEL_NAMES if m not in BASELINES]
    names = [t.strip() for t in text.split(",") if t.strip()]
    for n in names:
        if n not in MODEL_NAMES:
            raise UserError(f"unknown model '{n}'; known: {', '.join(MODEL_NAMES)}", where="--models")
    return names
