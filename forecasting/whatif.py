""""What if": forecasts of one fitted model under alternative plans for a controllable input.

The optimiser asks, for example, how the zone temperature would run over the next 2 h if the
chilled-water supply temperature were held at 6, 7 or 8 °C. The input must be one of the model's
future-known features; every other future-known value (the weather forecast) stays as given.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from ems.errors import UserError
from forecasting.contract import Forecaster


def scenarios(model: Forecaster, history: pd.DataFrame, future: pd.DataFrame, column: str,
              plans: Iterable[float | pd.Series]) -> dict[object, pd.DataFrame]:
    """One forecast per plan; a plan is a constant or a series over ``future.index``."""
    if column not in model.spec.future_known:
        raise UserError(f"'{column}' is not a future-known input of this {model.name} model "
                        f"(its inputs: {', '.join(model.spec.future_known) or 'none'})")
    out: dict[object, pd.DataFrame] = {}
    for k, plan in enumerate(plans):
        values = plan.reindex(future.index) if isinstance(plan, pd.Series) else plan
        key = plan if not isinstance(plan, pd.Series) else f"plan{k}"
        out[key] = model.predict(history, future.assign(**{column: values}))
    return out
