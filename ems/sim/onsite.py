"""On-site generation, storage and heat: rooftop PV, battery, gas boiler / purchased steam.

* PV: pvlib (Holmgren et al., JOSS 2018). Plane-of-array irradiance with the isotropic sky model
  (``pvlib.irradiance.get_total_irradiance``), cell temperature with the Sandia SAPM model
  (King et al. 2004, parameters ``close_mount_glass_glass`` for a roof), DC power with PVWatts
  (Dobos 2014, NREL/TP-6A20-62641: gamma_pdc = -0.0035 /K typical crystalline silicon), AC with the
  PVWatts inverter model (nominal efficiency 0.96) and the PVWatts default system losses of 14 %.
* Battery: an energy reservoir with power limits, round-trip efficiency (split evenly between
  charge and discharge) and SOC bounds (reference note section 2.5, "minimal citable form").
* Gas boiler: useful heat / (efficiency x NCV). NCV of natural gas 389.31 GJ per 10^4 Nm3
  (China provincial GHG inventory guideline default, see reference/carbon-standards-and-factors.md);
  nominal efficiency 0.92 is a typical nameplate for a gas hot-water boiler (not from a source).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

NG_NCV_MJ_PER_NM3 = 38.931
PVWATTS_LOSSES = 0.14


@dataclass(frozen=True)
class PVSpec:
    dc_kwp: float
    tilt_deg: float
    azimuth_deg: float = 180.0
    gamma_pdc_per_k: float = -0.0035
    inverter_efficiency: float = 0.96


def pv_ac_kw(spec: PVSpec, weather: pd.DataFrame) -> np.ndarray:
    """AC output [kW] of a rooftop array for the weather frame of :func:`ems.sim.weather.site_weather`."""
    import pvlib

    poa = pvlib.irradiance.get_total_irradiance(
        spec.tilt_deg, spec.azimuth_deg, weather["solar_zenith_deg"].to_numpy(),
        weather["solar_azimuth_deg"].to_numpy(), weather["dni_w_m2"].to_numpy(),
        weather["ghi_w_m2"].to_numpy(), weather["dhi_w_m2"].to_numpy(), model="isotropic")
    poa_global = np.nan_to_num(np.asarray(poa["poa_global"], dtype=float), nan=0.0).clip(0, 1400)
    params = pvlib.temperature.TEMPERATURE_MODEL_PARAMETERS["sapm"]["close_mount_glass_glass"]
    t_cell = pvlib.temperature.sapm_cell(poa_global, weather["temp_c"].to_numpy(), weather["wind_m_per_s"].to_numpy(),
                                         **params)
    pdc = pvlib.pvsystem.pvwatts_dc(poa_global, t_cell, spec.dc_kwp * 1000.0, spec.gamma_pdc_per_k)
    pdc = np.asarray(pdc) * (1 - PVWATTS_LOSSES)
    pac = pvlib.inverter.pvwatts(pdc, spec.dc_kwp * 1000.0 / 1.1, eta_inv_nom=spec.inverter_efficiency)
    return np.clip(np.nan_to_num(np.asarray(pac, dtype=float)), 0.0, None) / 1000.0


@dataclass(frozen=True)
class BatterySpec:
    capacity_kwh: float
    power_kw: float
    round_trip_efficiency: float = 0.90
    soc_min: float = 0.10
    soc_max: float = 0.95
    soc_initial: float = 0.5


def battery_step(spec: BatterySpec, soc: float, power_kw: float, dt_h: float) -> tuple[float, float, float]:
    """Apply a power request (+ discharge, - charge) for dt_h hours.

    Returns (new_soc, charge_kw, discharge_kw) at the AC terminals, limited by power and SOC.
    """
    eta = spec.round_trip_efficiency ** 0.5
    p = max(-spec.power_kw, min(spec.power_kw, power_kw))
    if p >= 0:
        avail = max(soc - spec.soc_min, 0.0) * spec.capacity_kwh * eta / dt_h
        p = min(p, avail)
        soc -= p * dt_h / eta / spec.capacity_kwh
        return soc, 0.0, p
    room = max(spec.soc_max - soc, 0.0) * spec.capacity_kwh / eta / dt_h
    c = min(-p, room)
    soc += c * dt_h * eta / spec.capacity_kwh
    return soc, c, 0.0


def battery_tou_schedule(spec: BatterySpec, hour: np.ndarray, workday: np.ndarray, dt_h: float) -> np.ndarray:
    """Request [kW] of the plant's existing battery controller: charge 00-08, discharge 10-12 and 14-17."""
    charge = (hour < 8.0)
    discharge = workday & (((hour >= 10) & (hour < 12)) | ((hour >= 14) & (hour < 17)))
    return np.where(discharge, spec.power_kw, np.where(charge, -spec.power_kw * 0.6, 0.0))


def run_battery(spec: BatterySpec, request_kw: np.ndarray, dt_h: float, soc0: float | None = None):
    """SOC trajectory for a request series. Returns (soc_end_of_step, charge_kw, discharge_kw)."""
    soc = spec.soc_initial if soc0 is None else soc0
    n = len(request_kw)
    socs, chg, dis = np.empty(n), np.empty(n), np.empty(n)
    for i, r in enumerate(request_kw.tolist()):
        soc, c, d = battery_step(spec, soc, r, dt_h)
        socs[i], chg[i], dis[i] = soc, c, d
    return socs, chg, dis


@dataclass(frozen=True)
class BoilerSpec:
    capacity_kw: float
    efficiency: float = 0.92


def boiler_gas_nm3_per_h(spec: BoilerSpec, heat_kw):
    """Natural gas [Nm3/h] for a useful heat output [kW] (capped at capacity)."""
    q = np.minimum(np.maximum(heat_kw, 0.0), spec.capacity_kw)
    return q * 3.6 / (NG_NCV_MJ_PER_NM3 * spec.efficiency)
