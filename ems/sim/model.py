"""One plant's physics over time: exogenous drivers, the zone loop, and all plant outputs.

Used by both the open-loop generator (whole year, vectorised except the zone RC loop) and the
closed-loop twin (one step at a time with the same functions on length-1 arrays).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ems.sim import air, onsite, pumps, schedule, weather, zones
from ems.sim.chiller_plant import simulate_chiller_plant
from ems.sim.plants import PlantSpec
from ems.sim.psychro import CP_WATER_KJ_PER_KG_K, RHO_WATER_KG_PER_M3, rh_from_humidity_ratio_pct

STEP = "15min"
DT_S = 900
DT_H = 0.25
GJ_PER_KWH = 0.0036


@dataclass(frozen=True)
class Decision:
    """Setpoints for one step. ``None`` means: let the plant's own (baseline) control decide.

    chws_setpoint_c: chilled-water supply setpoint; cw_setpoint_c: tower leaving setpoint;
    n_chillers: chillers running (plant staging order); n_chw_pumps and chw_pump_hz: CHW pump
    staging and VFD frequency (50 Hz = full speed; sets the flow through the system curve);
    compressor_order: compressor codes in loading order; compressor_trim: code of the trim
    machine (None = plain cascade); air_pressure_setpoint_barg: cut-in / VSD target pressure;
    battery_kw: battery power at the AC terminals (+ discharge, - charge).
    """

    chws_setpoint_c: float = 7.0
    cw_setpoint_c: float = 29.0
    n_chillers: int | None = None
    n_chw_pumps: int | None = None
    chw_pump_hz: float | None = None
    compressor_order: tuple[str, ...] | None = None
    compressor_trim: str | None = None
    air_pressure_setpoint_barg: float = 6.5
    battery_kw: float = 0.0


def interval_index(start: str | pd.Timestamp, days: float, step: str = STEP) -> pd.DatetimeIndex:
    """Naive local interval-end timestamps covering ``days`` days from ``start`` (local midnight)."""
    start = pd.Timestamp(start)
    n = int(round(days * 86400 / pd.Timedelta(step).total_seconds()))
    return pd.date_range(start + pd.Timedelta(step), periods=n, freq=step)


def exogenous(plant: PlantSpec, index: pd.DatetimeIndex) -> pd.DataFrame:
    """Drivers that do not depend on control decisions (vectorised)."""
    wx = weather.site_weather(plant.site, index, STEP)
    sch = schedule.production_schedule(index, plant.shifts, STEP)
    mid = index - pd.Timedelta(STEP) / 2
    hour = (mid.hour + mid.minute / 60.0).to_numpy()
    inten = sch["intensity"].to_numpy()
    df = pd.concat([wx, sch], axis=1)
    df["hour"] = hour
    df["pv_potential_kw"] = onsite.pv_ac_kw(plant.pv, wx)
    prod_air = sum(w.air_m3_per_min for w in plant.workshops) * inten + 1.5
    df["production_air_m3_per_min"] = prod_air
    df["process_chw_kw"] = sum(w.zone.process_chw_kw for w in plant.workshops) * inten
    day = (hour >= 8) & (hour < 18) & sch["workday"].to_numpy()
    df["office_kw"] = np.where(day, plant.office_day_kw, plant.office_night_kw)
    meals = ((hour >= 10.5) & (hour < 12.5)) | ((hour >= 16.5) & (hour < 18.5)) | ((hour >= 22.5) & (hour < 23.5))
    df["canteen_gas_nm3_per_h"] = np.where(meals & (inten > 0), plant.canteen_gas_nm3_per_h, 0.0)
    df["hot_water_kw"] = plant.hot_water_kw * inten
    df["steam_t_per_h"] = np.where(sch["workday"].to_numpy(), plant.steam_t_per_h * inten + 0.1 * (plant.steam_t_per_h > 0), 0.0)
    df["lights_on"] = sch["hvac_on"].to_numpy() | sch["shift_on"].to_numpy()
    return df


class ZoneState:
    """Zone temperatures [deg C] and humidity ratios [kg/kg] carried between steps."""

    def __init__(self, plant: PlantSpec, t0_c: float = 22.0, w0: float = 0.008):
        self.za = zones.ZoneArrays(tuple(w.zone for w in plant.workshops))
        self.t_c = np.full(self.za.n, t0_c)
        self.w = np.full(self.za.n, w0)


def chiller_capacity_limit_kw(plant: PlantSpec, chws_c, wet_bulb_c, cw_setpoint_c=29.0, n_chillers=None):
    """Most cooling the chillers can deliver this step [kW] (PLR_max x Q_avail of those allowed)."""
    spec = plant.chiller_plant
    bank = spec._cache[0]
    cw = np.maximum(np.maximum(np.asarray(cw_setpoint_c, dtype=float), np.asarray(wet_bulb_c) + 4.0), spec.cw_min_c)
    cap = bank.available_kw(np.asarray(chws_c, dtype=float)[..., None], cw[..., None]) * bank.plr_max
    n = spec.n if n_chillers is None else int(n_chillers)
    return cap[..., :n].sum(axis=-1)


def run_zones(plant: PlantSpec, exo: pd.DataFrame, chws_c: np.ndarray, coil_limit_kw: np.ndarray,
              state: ZoneState | None = None) -> dict[str, np.ndarray]:
    """Step the zone RC model through every row of ``exo`` (the only sequential part). (T, Z) arrays."""
    st = state or ZoneState(plant)
    za = st.za
    n = len(exo)
    keys = ("t_c", "w", "q_sens_kw", "q_lat_kw", "q_coil_kw", "q_heat_kw", "ahu_kw", "lighting_kw")
    out = {k: np.empty((n, za.n)) for k in keys}
    cols = [exo[c].to_numpy() for c in ("temp_c", "humidity_ratio", "ghi_w_m2", "intensity", "hvac_on", "lights_on",
                                        "hot_water_kw")]
    heat_cap = plant.boiler.capacity_kw if plant.boiler else 0.0
    for i in range(n):
        r = zones.zone_step(za, st.t_c, st.w, outdoor_c=cols[0][i], outdoor_w=cols[1][i], ghi_w_m2=cols[2][i],
                            intensity=cols[3][i], hvac_on=bool(cols[4][i]), lights_on=bool(cols[5][i]),
                            chws_c=chws_c[i], dt_s=DT_S, heating_available=plant.boiler is not None,
                            coil_limit_kw=coil_limit_kw[i], heating_limit_kw=max(heat_cap - cols[6][i], 0.0))
        st.t_c, st.w = r["t_c"], r["w"]
        for k in keys:
            out[k][i] = r[k]
    return out


def plant_outputs(plant: PlantSpec, exo: pd.DataFrame, zr: dict[str, np.ndarray], dec: dict[str, np.ndarray | None],
                  battery_chg_kw: np.ndarray, battery_dis_kw: np.ndarray, battery_soc: np.ndarray) -> dict[str, np.ndarray]:
    """Every physical output for the rows of ``exo`` (vectorised). Keys carry units.

    ``dec``: chws_setpoint_c, cw_setpoint_c, air_pressure_setpoint_barg (scalars or arrays);
    optional n_chillers / n_chw_pumps (arrays, negative = automatic), chw_pump_hz (NaN = automatic),
    compressor_order / compressor_trim (one choice for all rows).
    """
    out: dict[str, np.ndarray] = {}
    inten = np.asarray(exo["intensity"], dtype=float)
    n = inten.size
    cp = plant.chiller_plant
    coil = zr["q_coil_kw"].sum(axis=1)
    load_kw = coil + np.asarray(exo["process_chw_kw"])
    flow = None
    if dec.get("chw_pump_hz") is not None:
        hz = np.broadcast_to(np.asarray(dec["chw_pump_hz"], dtype=float), (n,))
        npumps = np.full(n, -1.0) if dec.get("n_chw_pumps") is None else np.asarray(dec["n_chw_pumps"], dtype=float)
        npumps = np.where(npumps >= 0, npumps, cp.n)
        total = float(cp.chw_design_flow_m3_per_h.sum())
        flow = np.where(np.isnan(hz), np.nan, pumps.flow_at_speed_m3_per_h(
            cp.chw_pump, np.nan_to_num(hz) / 50.0, npumps, total, cp.chw_pump.design_head_m, cp.chw_min_head_m))
    chp = simulate_chiller_plant(cp, load_kw, dec["chws_setpoint_c"], np.asarray(exo["wet_bulb_c"]), dec["cw_setpoint_c"],
                                 n_chillers=dec.get("n_chillers"), chw_flow_m3_per_h=flow,
                                 n_chw_pumps=dec.get("n_chw_pumps"))
    for i in range(cp.n):
        out[f"ch{i + 1}_kw"] = chp["chiller_kw"][:, i]
        out[f"ch{i + 1}_evap_kw"] = chp["chiller_evap_kw"][:, i]
        out[f"ch{i + 1}_plr"] = chp["chiller_plr"][:, i]
    out["chwp_kw"] = chp["chwp_kw"]
    out["chwp_hz"] = 50.0 * chp["chwp_speed"]
    out["chwp_n"] = chp["chwp_n"].astype(float)
    out["cwp_kw"] = chp["cwp_kw"].sum(axis=1)
    out["ct_kw"] = chp["tower_fan_kw"].sum(axis=1)
    out["chws_c"], out["chwr_c"] = chp["chws_c"], chp["chwr_c"]
    out["chw_flow_m3_per_h"] = chp["chw_flow_m3_per_h"]
    out["chw_load_kw"] = load_kw
    out["chw_evap_kw"] = chp["evap_kw"]
    out["chw_unmet_kw"] = chp["unmet_kw"]
    out["cws_c"], out["cwr_c"] = chp["cw_supply_c"], chp["cw_return_c"]
    out["n_chillers"] = chp["n_chillers"].astype(float)
    out["chp_kw"] = chp["plant_kw"] * 1.005  # 0.5 % panel losses and controls

    st = plant.air_station
    codes = plant.compressor_codes
    order = None if dec.get("compressor_order") is None else tuple(codes.index(c) for c in dec["compressor_order"])
    trim = None if dec.get("compressor_trim") is None else codes.index(dec["compressor_trim"])
    ar = air.simulate_air_station(st, np.asarray(exo["production_air_m3_per_min"]), dec["air_pressure_setpoint_barg"],
                                  order=order, trim=trim)
    for i in range(len(codes)):
        out[f"ac{i + 1}_kw"] = ar["compressor_kw"][:, i]
        out[f"ac{i + 1}_m3_per_min"] = ar["compressor_load_m3_per_min"][:, i]
    out["dryer_kw"] = ar["dryer_kw"].sum(axis=1)
    out["air_flow_m3_per_min"] = ar["delivered_m3_per_min"]
    out["air_demand_m3_per_min"] = ar["demand_m3_per_min"]
    out["air_leak_m3_per_min"] = ar["leak_m3_per_min"]
    out["air_purge_m3_per_min"] = ar["purge_m3_per_min"]
    out["air_header_barg"] = ar["header_barg"]
    out["air_kw"] = ar["station_kw"]
    out["_air"] = ar  # kept for the 1-minute pressure trace

    ws_total = np.zeros(n)
    water = np.zeros(n)
    oven_gas = np.zeros(n)
    for j, w in enumerate(plant.workshops):
        proc = w.idle_kw + (w.process_kw - w.idle_kw) * inten
        line_sum = np.zeros(n)
        for k, ln in enumerate(w.lines):
            out[f"ws{j + 1}_l{k + 1}_kw"] = proc * ln.share
            out[f"ws{j + 1}_l{k + 1}_units_per_h"] = ln.units_per_h * inten
            line_sum += proc * ln.share
        light = zr["lighting_kw"][:, j]
        out[f"ws{j + 1}_light_kw"] = light
        out[f"ws{j + 1}_ahu_kw"] = zr["ahu_kw"][:, j]
        out[f"ws{j + 1}_kw"] = line_sum + light + zr["ahu_kw"][:, j] + 0.03 * proc
        out[f"ws{j + 1}_t_c"] = zr["t_c"][:, j]
        out[f"ws{j + 1}_rh_pct"] = rh_from_humidity_ratio_pct(zr["t_c"][:, j], zr["w"][:, j])
        out[f"ws{j + 1}_q_coil_kw"] = zr["q_coil_kw"][:, j]
        out[f"ws{j + 1}_oven_gas_nm3_per_h"] = w.oven_gas_nm3_per_h * inten
        oven_gas += w.oven_gas_nm3_per_h * inten
        ws_total += out[f"ws{j + 1}_kw"]
        water += w.water_m3_per_h * inten

    heat = zr["q_heat_kw"].sum(axis=1) + np.asarray(exo["hot_water_kw"])
    if plant.boiler is not None:
        out["boiler_heat_kw"] = np.minimum(heat, plant.boiler.capacity_kw)
        out["boiler_gas_nm3_per_h"] = onsite.boiler_gas_nm3_per_h(plant.boiler, heat)
    else:
        out["boiler_heat_kw"] = np.zeros(n)
        out["boiler_gas_nm3_per_h"] = np.zeros(n)
    out["office_kw"] = np.asarray(exo["office_kw"]) + 0.015 * out["boiler_heat_kw"]
    out["canteen_gas_nm3_per_h"] = np.asarray(exo["canteen_gas_nm3_per_h"])
    out["oven_gas_nm3_per_h"] = oven_gas
    out["gas_nm3_per_h"] = out["boiler_gas_nm3_per_h"] + out["canteen_gas_nm3_per_h"] + oven_gas
    out["steam_t_per_h"] = np.asarray(exo["steam_t_per_h"])
    out["makeup_m3_per_h"] = chp["makeup_m3_per_h"]
    presence = np.maximum(inten, 0.1)
    out["water_m3_per_h"] = 1.02 * (water + plant.people * 0.004 * presence + chp["makeup_m3_per_h"])

    load = out["chp_kw"] + out["air_kw"] + ws_total + out["office_kw"]
    out["load_kw"] = load
    out["pv_kw"] = np.minimum(np.asarray(exo["pv_potential_kw"]), 0.9 * load)  # anti-backflow curtailment
    out["bat_chg_kw"], out["bat_dis_kw"], out["bat_soc_pct"] = battery_chg_kw, battery_dis_kw, 100.0 * battery_soc
    out["grid_kw"] = np.maximum(load - out["pv_kw"] - battery_dis_kw + battery_chg_kw, 0.0)
    out["wx_temp_c"], out["wx_rh_pct"] = np.asarray(exo["temp_c"]), np.asarray(exo["rh_pct"])
    out["wx_ghi_w_m2"], out["wx_wet_bulb_c"] = np.asarray(exo["ghi_w_m2"]), np.asarray(exo["wet_bulb_c"])
    out["water_side_kw"] = (RHO_WATER_KG_PER_M3 * CP_WATER_KJ_PER_KG_K / 3600.0 * chp["chw_flow_m3_per_h"]
                            * np.nan_to_num(chp["chwr_c"] - chp["chws_c"]))
    return out
