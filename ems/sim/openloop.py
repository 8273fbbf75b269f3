"""Open-loop simulation: a plant under its own (baseline) control over a date range.

The existing plant controllers: fixed 7 deg C chilled water, 29 deg C condenser water, automatic
chiller staging, pumps for the design delta-T, compressors in a pressure-band cascade at 6.5 barg,
and a battery that charges in the valley (00-08) and discharges 10-12 and 14-17 on working days.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ems.sim import model, onsite
from ems.sim.plants import PlantSpec


def simulate_open_loop(plant: PlantSpec, start: str | pd.Timestamp, days: float,
                       chws_setpoint_c: float = 7.0) -> tuple[pd.DataFrame, dict]:
    """Physics frame (one row per 15-min interval, interval-end local time) and extras."""
    idx = model.interval_index(start, days)
    exo = model.exogenous(plant, idx)
    n = len(idx)
    chws = np.full(n, chws_setpoint_c)
    limit = model.chiller_capacity_limit_kw(plant, chws, exo["wet_bulb_c"].to_numpy()) - exo["process_chw_kw"].to_numpy()
    zr = model.run_zones(plant, exo, chws, np.maximum(limit, 0.0))
    req = onsite.battery_tou_schedule(plant.battery, exo["hour"].to_numpy(), exo["workday"].to_numpy(), model.DT_H)
    soc, chg, dis = onsite.run_battery(plant.battery, req, model.DT_H)
    dec = {"chws_setpoint_c": chws, "cw_setpoint_c": 29.0, "air_pressure_setpoint_barg": 6.5}
    out = model.plant_outputs(plant, exo, zr, dec, chg, dis, soc)
    extras = {"air": out.pop("_air"), "exo": exo}
    return pd.DataFrame(out, index=idx), extras
