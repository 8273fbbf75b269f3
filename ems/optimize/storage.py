"""Battery and chilled-water (or ice) storage, day-ahead, under TOU prices, a demand charge and a PV
forecast: a linear programme built with cvxpy and solved with CLARABEL.

Battery: energy reservoir with power limits, charge/discharge efficiency sqrt(round-trip), SOC
bounds, end-of-day SOC at least the starting SOC. Thermal storage (optional): a tank charged by the
chillers at a worse COP (the ice-making penalty: ice builds at -5 deg C leaving brine, typically
25-35 % less efficient than 7 deg C chilled water [R]; the factor is an input) and discharged to
displace chiller electricity at the normal COP, limited by the cooling load. PV is used on site
(anti-backflow: no export; curtailed when it exceeds the load). Demand charge: price x the
increase of the month's peak over the month-to-date peak. Optional internal carbon price [CNY/kg]
with hourly grid factors [kg/kWh] adds price x factor to each kWh imported.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import cvxpy as cp
import numpy as np

DT_H = 0.25


@dataclass(frozen=True)
class BatteryParams:
    capacity_kwh: float
    power_kw: float
    round_trip_efficiency: float = 0.90
    soc_min: float = 0.10
    soc_max: float = 0.95


@dataclass(frozen=True)
class ThermalParams:
    capacity_kwh_th: float
    charge_kw_th: float
    discharge_kw_th: float
    cop_normal: float            # chiller COP when serving the load directly (fitted from history)
    charge_penalty: float = 0.7  # COP while charging = penalty x cop_normal (ice making)
    loss_per_step: float = 0.001


@dataclass
class StoragePlan:
    battery_kw: np.ndarray        # + discharge, - charge (AC terminals)
    thermal_charge_kw_th: np.ndarray
    thermal_discharge_kw_th: np.ndarray
    grid_kw: np.ndarray
    cost_cny: float
    status: str
    seconds: float


def plan_storage(load_kw, pv_kw, price_cny_per_kwh, demand_price_cny_per_kw: float, battery: BatteryParams,
                 soc0: float, peak_so_far_kw: float = 0.0, thermal: ThermalParams | None = None,
                 cooling_load_kw_th=None, tank0_kwh_th: float = 0.0, carbon_price_cny_per_kg: float = 0.0,
                 grid_factor_kg_per_kwh=None, month_index=None, peak_margin_kw=0.0,
                 charge_headroom_kw=None) -> StoragePlan:
    """Least-cost storage schedule. ``month_index`` (optional, ints per step) gives one demand peak per
    month for multi-month (perfect-foresight) runs; otherwise one peak over the horizon."""
    t0 = time.perf_counter()
    load, pv, price = (np.asarray(a, float) for a in (load_kw, pv_kw, price_cny_per_kwh))
    n = load.size
    eta = battery.round_trip_efficiency ** 0.5
    c = cp.Variable(n, nonneg=True)
    d = cp.Variable(n, nonneg=True)
    soc = cp.Variable(n + 1)
    pv_use = cp.Variable(n, nonneg=True)
    cons = [c <= battery.power_kw, d <= battery.power_kw, pv_use <= pv, soc[0] == soc0,
            soc[1:] == soc[:-1] + (eta * c - d / eta) * DT_H / battery.capacity_kwh,
            soc >= battery.soc_min, soc <= battery.soc_max, soc[n] >= soc0]
    grid = load - pv_use - d + c
    if charge_headroom_kw is not None:
        cons.append(c <= np.maximum(np.asarray(charge_headroom_kw, float), 0.0))
    qc = qd = None
    if thermal is not None:
        cool = np.asarray(cooling_load_kw_th, float)
        qc = cp.Variable(n, nonneg=True)
        qd = cp.Variable(n, nonneg=True)
        tank = cp.Variable(n + 1)
        cons += [qc <= thermal.charge_kw_th, qd <= thermal.discharge_kw_th, qd <= cool, tank[0] == tank0_kwh_th,
                 tank[1:] == (1 - thermal.loss_per_step) * tank[:-1] + (qc - qd) * DT_H,
                 tank >= 0, tank <= thermal.capacity_kwh_th, tank[n] >= tank0_kwh_th]
        grid = grid + qc / (thermal.cop_normal * thermal.charge_penalty) - qd / thermal.cop_normal
    cons.append(grid >= 0)
    unit = price.copy()
    if carbon_price_cny_per_kg and grid_factor_kg_per_kwh is not None:
        unit = unit + carbon_price_cny_per_kg * np.asarray(grid_factor_kg_per_kwh, float)
    months = np.zeros(n, int) if month_index is None else np.asarray(month_index, int)
    demand_cost = 0
    for m in np.unique(months):
        peak = cp.Variable()
        margin = np.broadcast_to(np.asarray(peak_margin_kw, float), (n,))[months == m]
        cons += [peak >= grid[months == m] + margin, peak >= peak_so_far_kw if month_index is None else peak >= 0]
        demand_cost = demand_cost + demand_price_cny_per_kw * (peak - (peak_so_far_kw if month_index is None else 0))
    obj = cp.sum(cp.multiply(unit * DT_H, grid)) + demand_cost
    prob = cp.Problem(cp.Minimize(obj), cons)
    prob.solve(solver=cp.CLARABEL)
    if prob.status not in ("optimal", "optimal_inaccurate"):
        z = np.zeros(n)
        return StoragePlan(z, z, z, np.maximum(load - pv, 0), float("nan"), prob.status, time.perf_counter() - t0)
    z = np.zeros(n)
    return StoragePlan(np.asarray(d.value - c.value), z if qc is None else np.asarray(qc.value),
                       z if qd is None else np.asarray(qd.value), np.asarray(grid.value), float(prob.value),
                       prob.status, time.perf_counter() - t0)
