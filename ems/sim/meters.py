"""Meters as the field sees them: registers, noise, quantisation, gaps, a reset, a wrap, a drift.

Input: the twin's physics frame (true values) and the point catalogue (:mod:`ems.sim.points`).
Output: one wide frame of readings per resolution, columns = point codes, in each point's unit.

Injected faults (deterministic for a seed; listed in the returned manifest):

* register wrap: ``QD.CH1.kWh`` starts near its ``register_max`` (999999.9) and rolls over to 0;
* counter reset: ``FS.AC2.kWh`` is replaced at 45 % of the period and restarts from 0;
* drift: ``FS.CHW.F`` (ultrasonic flow meter) reads high by a growing +8 % per year;
* gaps: two SCADA outages per plant (every point blank for 2-8 h) and four single-point gaps
  (15 min to 24 h), empty cells in the export.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ems.sim.points import PointDef

WRAP_POINT = "QD.CH1.kWh"
RESET_POINT = "FS.AC2.kWh"
DRIFT_POINT = "FS.CHW.F"
DRIFT_PER_YEAR = 0.08


def _register(amount: np.ndarray, start: float, pt: PointDef) -> np.ndarray:
    reg = start + np.cumsum(amount)
    if pt.decimals == 0:
        reg = np.floor(reg)
    if pt.register_max is not None:
        reg = np.mod(reg, pt.register_max + 10.0 ** (-pt.decimals))
    return reg


def _amount(pt: PointDef, src: np.ndarray, step_h: float) -> np.ndarray:
    if pt.mode == "per_h":
        return src * step_h
    if pt.mode == "per_min":
        return src * step_h * 60.0
    return src


def readings_15min(points: list[PointDef], phys: pd.DataFrame, rng: np.random.Generator,
                   manifest: list[dict]) -> pd.DataFrame:
    """15-minute readings for the points whose interval is 15min (virtual points skipped)."""
    n = len(phys)
    step_h = 0.25
    elapsed_years = np.arange(1, n + 1) * step_h / 8760.0
    cols: dict[str, np.ndarray] = {}
    for pt in points:
        if pt.formula or pt.interval != "15min" or pt.source is None:
            continue
        src = np.nan_to_num(phys[pt.source].to_numpy(dtype=float), nan=0.0) * pt.scale
        if pt.kind == "instantaneous":
            val = src + rng.normal(0.0, 1.0, n) * pt.noise_sd + rng.normal(0.0, 1.0, n) * pt.noise_rel * np.abs(src)
            if pt.code == DRIFT_POINT:
                val = val * (1.0 + DRIFT_PER_YEAR * elapsed_years)
                manifest.append({"fault": "drift", "point": pt.code, "per_year": DRIFT_PER_YEAR,
                                 "from": str(phys.index[0])})
            if pt.min is not None:
                val = np.maximum(val, pt.min)
            if pt.max is not None:
                val = np.minimum(val, pt.max)
            cols[pt.code] = np.round(val, pt.decimals)
            continue
        amount = np.maximum(_amount(pt, src, step_h) * (1.0 + pt.noise_rel * rng.normal(0.0, 1.0, n)), 0.0)
        if pt.kind == "interval":
            cols[pt.code] = np.round(amount, pt.decimals)
            continue
        if pt.code == WRAP_POINT:
            start = pt.register_max - 0.2 * max(float(amount.sum()), 1.0)
        else:
            start = float(np.round(rng.uniform(1e3, 5e5), pt.decimals))
        reg = _register(amount, start, pt)
        if pt.register_max is not None and np.any(np.diff(reg) < 0):
            manifest.append({"fault": "wrap", "point": pt.code, "register_max": pt.register_max,
                             "at": str(phys.index[int(np.argmax(np.diff(reg) < 0)) + 1])})
        if pt.code == RESET_POINT:
            k = int(n * 0.45)
            reg[k:] = _register(amount[k:], 0.0, pt)
            manifest.append({"fault": "counter_reset", "point": pt.code, "at": str(phys.index[k]),
                             "reason": "meter replaced"})
        cols[pt.code] = np.round(reg, pt.decimals)
    return pd.DataFrame(cols, index=phys.index)


def readings_1min(points: list[PointDef], phys: pd.DataFrame, pressure_1min_barg: np.ndarray | None,
                  rng: np.random.Generator) -> pd.DataFrame:
    """1-minute readings for the points whose interval is 1min."""
    idx = pd.date_range(phys.index[0] - pd.Timedelta("14min"), periods=len(phys) * 15, freq="1min")
    cols: dict[str, np.ndarray] = {}
    for pt in points:
        if pt.interval != "1min" or pt.source is None:
            continue
        if pt.kind == "cumulative":
            kw = np.repeat(np.nan_to_num(phys[pt.source].to_numpy(dtype=float)), 15)
            # within-interval variation (AR(1) noise), renormalised so each 15-min total is unchanged
            e = rng.normal(0.0, 0.02, kw.size)
            shape = 1.0 + pd.Series(e).ewm(alpha=0.3).mean().to_numpy() * 3
            shape = shape.reshape(-1, 15)
            shape = (shape / shape.mean(axis=1, keepdims=True)).ravel()
            amount = kw * shape / 60.0 * pt.scale
            start = float(np.round(rng.uniform(1e6, 5e6), pt.decimals))
            cols[pt.code] = np.round(_register(amount, start, pt), pt.decimals)
        else:
            val = (pressure_1min_barg if pt.source == "air_header_barg" else
                   np.repeat(phys[pt.source].to_numpy(dtype=float), 15)) * pt.scale
            cols[pt.code] = np.round(val, pt.decimals)
    return pd.DataFrame(cols, index=idx)


def inject_gaps(frames: dict[str, pd.DataFrame], rng: np.random.Generator, manifest: list[dict], plant: str) -> None:
    """Blank two SCADA outages (all points) and four single-point gaps, in place."""
    f15 = frames["15min"]
    n = len(f15)
    if n < 200:
        outages = [(int(n * 0.3), max(2, n // 50))]
    else:
        outages = [(int(rng.integers(50, n - 50)), int(rng.integers(8, 33))) for _ in range(2)]
    for pos, length in outages:
        t0, t1 = f15.index[pos], f15.index[min(pos + length, n) - 1]
        for df in frames.values():
            df.loc[(df.index >= t0 - pd.Timedelta("14min")) & (df.index <= t1)] = np.nan
        manifest.append({"fault": "gap", "plant": plant, "point": "*", "from": str(t0), "to": str(t1),
                         "reason": "SCADA outage"})
    cols = list(f15.columns)
    for _ in range(4):
        code = cols[int(rng.integers(0, len(cols)))]
        length = int(rng.integers(1, 97))
        pos = int(rng.integers(0, max(n - length, 1)))
        f15.iloc[pos:pos + length, f15.columns.get_loc(code)] = np.nan
        manifest.append({"fault": "gap", "plant": plant, "point": code, "from": str(f15.index[pos]),
                         "to": str(f15.index[min(pos + length, n) - 1]), "reason": "meter comms"})
