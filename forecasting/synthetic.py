"""Synthetic series with known structure, for tests and benchmarks (not for accuracy claims).

``load_series``: a working-day/weekend daily profile, a temperature effect and Gaussian noise.
``zone_series``: a zone temperature that follows the outdoor temperature and the chilled-water
supply temperature (a controllable input) through a first-order lag.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def load_series(days: int = 28, freq: str = "1h", start: str = "2024-03-04", tz: str = "Asia/Shanghai",
                noise: float = 0.5, seed: int = 0) -> pd.DataFrame:
    """Columns ``load`` (kW-like) and ``temp_c`` (future-known outdoor temperature), UTC index."""
    rng = np.random.default_rng(seed)
    idx = pd.date_range(pd.Timestamp(start, tz=tz), periods=int(days * pd.Timedelta("1D") / pd.Timedelta(freq)),
                        freq=freq).tz_convert("UTC")
    local = idx.tz_convert(tz)
    hour = np.asarray(local.hour + local.minute / 60.0)
    workday = np.asarray(local.day_of_week < 5)
    shift = np.where((hour >= 8) & (hour < 20), 1.0, 0.0)
    temp = 18 + 6 * np.sin(2 * np.pi * (hour - 9) / 24) + np.cumsum(rng.normal(0, 0.05, len(idx)))
    load = 20 + 30 * shift * workday + 5 * shift + 0.8 * (temp - 18) + rng.normal(0, noise, len(idx))
    return pd.DataFrame({"load": load, "temp_c": temp}, index=idx)


def zone_series(days: int = 14, freq: str = "15min", start: str = "2024-07-01", seed: int = 1) -> pd.DataFrame:
    """Columns ``zone_temp_c``, ``outdoor_temp_c`` and ``chw_supply_temp_c`` (controllable)."""
    rng = np.random.default_rng(seed)
    idx = pd.date_range(pd.Timestamp(start, tz="UTC"), periods=int(days * pd.Timedelta("1D") / pd.Timedelta(freq)),
                        freq=freq)
    hour = np.asarray(idx.hour + idx.minute / 60.0)
    outdoor = 30 + 5 * np.sin(2 * np.pi * (hour - 9) / 24) + rng.normal(0, 0.3, len(idx))
    chw = 7 + np.round(rng.uniform(-1.5, 1.5, len(idx) // 8 + 1).repeat(8)[:len(idx)], 1)  # 2 h blocks
    zone = np.empty(len(idx))
    zone[0] = 24.0
    for t in range(1, len(idx)):
        target = 17.0 + 0.15 * outdoor[t] + 0.6 * chw[t]
        zone[t] = zone[t - 1] + 0.3 * (target - zone[t - 1]) + rng.normal(0, 0.03)
    return pd.DataFrame({"zone_temp_c": zone, "outdoor_temp_c": outdoor, "chw_supply_temp_c": chw}, index=idx)
