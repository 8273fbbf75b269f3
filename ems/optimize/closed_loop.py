"""Closed-loop runs on the plant twin (``ems.sim.twin``), used only to *prove* savings.

The twin is a black box here: decisions in, meters out. The production plan and HVAC schedule
the controllers see are the twin's observation (what the plant's calendar tells a controller).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from ems.sim.model import Decision

DT_H = 0.25


def production_plan(plant: str, index: pd.DatetimeIndex) -> pd.DataFrame:
    """The plant's production plan and HVAC schedule over an index (intensity, hvac_on)."""
    from ems.sim import model
    from ems.sim.plants import get_plant

    return model.exogenous(get_plant(plant), index)[["intensity", "hvac_on"]]


def run_controller(plant: str, decide, start: str, end: str) -> pd.DataFrame:
    """Drive the twin step by step: ``decide(obs, last_meters) -> (decision dict, info dict)``.

    Returns one row per interval with the physical meter values (``_``-prefixed twin keys without
    the prefix), the decision and the controller's solve time.
    """
    from ems.sim.twin import PlantTwin

    days = (pd.Timestamp(end) - pd.Timestamp(start)).total_seconds() / 86400.0
    twin = PlantTwin(plant, start=start, days=days)
    rows, last = [], None
    while not twin.done:
        obs = twin.observe()
        t0 = time.perf_counter()
        dec, info = decide(obs, last)
        dt = time.perf_counter() - t0
        last = twin.step(Decision(**dec))
        row = {k[1:]: v for k, v in last.items() if k.startswith("_")}
        row.update({"decision_" + k: v for k, v in dec.items()})
        row["solve_s"] = dt
        row.update(info)
        rows.append(row)
    return pd.DataFrame(rows, index=twin.index)


def violation_hours(df: pd.DataFrame, zones) -> float:
    """Zone-hours with an occupied zone (AHU running) above its temperature or humidity limit."""
    total = 0.0
    for j, zl in enumerate(zones):
        on = df[f"ws{j + 1}_ahu_kw"] > 0
        bad = on & ((df[f"ws{j + 1}_t_c"] > zl.t_max_c) | (df[f"ws{j + 1}_rh_pct"] > zl.rh_max_pct))
        total += float(bad.sum()) * DT_H
    return total


def energy_kwh(series: pd.Series) -> float:
    return float(np.nansum(series.to_numpy()) * DT_H)
