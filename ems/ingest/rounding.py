"""Rounding that removes binary floating-point noise far below any meter's resolution."""

from __future__ import annotations

import numpy as np


def round_significant(values: np.ndarray, digits: int = 12) -> np.ndarray:
    """Round to ``digits`` significant digits: removes binary noise of unit conversion (0.5121 MWh ->
    512.1 kWh, not 512.1000000000001) far below any meter's resolution."""
    with np.errstate(divide="ignore", invalid="ignore"):
        mag = np.floor(np.log10(np.abs(values)))
    decimals = np.where(np.isfinite(mag), digits - 1 - mag, 0).astype(np.int64)
    out = values.copy()
    for d in np.unique(decimals):
        sel = decimals == d
        out[sel] = np.round(values[sel], int(d))
    return out


def round_to_register_resolution(delta: np.ndarray, point_id: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Drop the binary noise of register differences (1158.0 - 1146.5 -> 11.5, not 11.500000000000227):
    round each point's deltas at the 12th significant digit of its largest register value."""
    if not np.isfinite(delta).any():
        return delta
    out = delta.copy()
    bounds = np.flatnonzero(np.r_[True, point_id[1:] != point_id[:-1], True])
    for a, b in zip(bounds[:-1], bounds[1:]):
        top = np.nanmax(np.abs(value[a:b])) if b > a else 0.0
        decimals = 11 - int(np.floor(np.log10(top))) if top > 0 else 9
        out[a:b] = np.round(delta[a:b], decimals)
    return out
