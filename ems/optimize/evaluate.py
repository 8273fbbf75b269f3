"""Closed-loop proof on the plant twin: each system's baseline vs optimised energy, cost, violations.

* Chilled water: models fitted on the 2024 commissioning-test season (:mod:`ems.optimize.history`),
  then the optimiser drives the twin every 15 min over the evaluation window, compared with the
  fixed 7 deg C baseline and the trim-and-respond reset (``ems.sim.twin`` policies) over the same window.
* Compressed air: models fitted on the same history; day-ahead MILP schedule each midnight vs the
  pressure-band cascade, at the same minimum header pressure.
* Storage: day-ahead LP each midnight with forecasts available at the time (yesterday's metered
  load and PV: seasonal naive), executed on the twin, vs no storage and vs the perfect-foresight LP
  over the whole window (also executed on the twin).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from ems.optimize import tariffs
from ems.optimize.closed_loop import DT_H, energy_kwh, production_plan, run_controller, violation_hours
from ems.optimize.config import PlantConfig, plant_config

TRAIN = ("2024-05-01", "2024-10-01")
HEADROOM_ERROR = 0.10   # charging keeps the forecast import + 10 % below the month's demand peak


def window(days: float, start: str = "2025-05-01") -> tuple[str, str]:
    end = pd.Timestamp(start) + pd.Timedelta(days=days)
    return start, str(end.date())


def _plan_fn(plant: str, start: str, end: str):
    full = production_plan(plant, pd.date_range(pd.Timestamp(start), pd.Timestamp(end) + pd.Timedelta("1D"),
                                                freq="15min"))
    return lambda idx: full.reindex(idx, method="nearest")


def _money(kw: pd.Series, pc: PlantConfig) -> dict[str, float]:
    kwh = energy_kwh(kw)
    return {"kwh": kwh, "cost_cny": tariffs.cost_cny(kw, pc.tariff_id, demand=False)["energy_cny"],
            "tco2": kwh * pc.grid_factor_kg_per_kwh / 1000.0}


def training(plant: str) -> pd.DataFrame:
    from ems.optimize.history import training_history

    return training_history(plant, *TRAIN)


def evaluate_chw(plant: str, start: str, end: str, history: pd.DataFrame | None = None) -> dict:
    from ems.optimize.chw_control import ChwOptimiser, fit_models
    from ems.sim.twin import run_policy

    pc = plant_config(plant)
    hist = training(plant) if history is None else history
    pm, zm = fit_models(hist, production_plan(plant, hist.index), pc.chw)
    opt = ChwOptimiser(pc.chw, pm, zm, plan=_plan_fn(plant, start, end))
    notes: list[str] = []

    def decide(obs, last):
        o = opt.decide(obs, last)
        if o.reason:
            notes.append(o.reason)
        return o.decision, {"feasible": bool(o.solution.feasible) if o.solution else True}

    t0 = time.perf_counter()
    run = run_controller(plant, decide, start, end)
    seconds = time.perf_counter() - t0
    base = run_policy(plant, "baseline", start, end)
    trim = run_policy(plant, "chw_reset_vsd_trim", start, end)
    res = {"system": "chilled_water", "plant": plant, "start": start, "end": end}
    for name, df in (("baseline", base), ("trim_and_respond", trim), ("optimised", run)):
        res[name] = _money(df["chp_kw"], pc) | {"violation_zone_hours": violation_hours(df, pc.chw.zones)}
    b, t, o = res["baseline"]["kwh"], res["trim_and_respond"]["kwh"], res["optimised"]["kwh"]
    res["saving_vs_baseline_pct"] = 100.0 * (1 - o / b)
    res["saving_vs_trim_pct"] = 100.0 * (1 - o / t)
    res["extra_violation_zone_hours"] = (res["optimised"]["violation_zone_hours"]
                                         - res["baseline"]["violation_zone_hours"])
    res["solve_s_mean"] = float(run["solve_s"].mean())
    res["solve_s_p99"] = float(run["solve_s"].quantile(0.99))
    res["solve_s_max"] = float(run["solve_s"].max())
    res["infeasible_steps"] = int((~run["feasible"].astype(bool)).sum())
    res["run_seconds"] = seconds
    res["fit"] = {"plant": pm.stats, "zones": zm.stats}
    return res


def evaluate_air(plant: str, start: str, end: str, history: pd.DataFrame | None = None) -> dict:
    from ems.optimize.air_control import AirPolicy
    from ems.optimize.fit_air import dryer_demand_control_saving, fit_air
    from ems.sim.twin import run_policy

    pc = plant_config(plant)
    hist = training(plant) if history is None else history
    model = fit_air(hist, production_plan(plant, hist.index)["intensity"],
                    {c: ctl for c, ctl, _ in pc.air.compressors})
    pol = AirPolicy(model, pc.air, _plan_fn(plant, start, end), tuple(c for c, _, _ in pc.air.compressors))
    run = run_policy(plant, pol, start, end)
    base = run_policy(plant, "baseline", start, end)
    res = {"system": "compressed_air", "plant": plant, "start": start, "end": end}
    for name, df, lowest in (("baseline", base, base["air_header_barg"].min() - pc.air.band_bar / 2),
                             ("optimised", run, run["air_header_barg"].min())):
        res[name] = _money(df["air_kw"], pc) | {
            "violation_zone_hours": 0.0, "min_header_barg": float(lowest),
            "unmet_m3": float(((df["air_demand_m3_per_min"] - df["air_flow_m3_per_min"]).clip(lower=0)).sum() * 15)}
    res["saving_vs_baseline_pct"] = 100.0 * (1 - res["optimised"]["kwh"] / res["baseline"]["kwh"])
    res["solve_s_max"] = float(max(pol.solve_s))
    res["solve_s_mean"] = float(np.mean(pol.solve_s))
    dry = dryer_demand_control_saving(model, run["air_flow_m3_per_min"].to_numpy(),
                                      float(sum(r for _, _, r in pc.air.compressors)))
    res["dryer_demand_control_estimate"] = dry | {"kwh": dry["saved_kw"] * len(run) * DT_H}
    res["fit"] = model.stats
    return res


def evaluate_storage(plant: str, start: str, end: str) -> dict:
    from ems.optimize.storage import BatteryParams, plan_storage
    from ems.optimize.storage_forecast import day_forecast, day_of
    from ems.sim.model import Decision
    from ems.sim.twin import run_policy

    pc = plant_config(plant)
    st = pc.storage
    bat = BatteryParams(st["battery_kwh"], st["battery_kw"])
    base = run_policy(plant, "baseline", start, end)           # battery idle = no storage
    # forecasts available at each midnight (ems.optimize.storage_forecast): metered load and PV of
    # an earlier day of the same type; the two weeks before the window are history
    pre = run_policy(plant, "baseline", str((pd.Timestamp(start) - pd.Timedelta("14D")).date()), start)
    hist = pd.concat([pre, base])[["load_kw", "pv_kw"]]
    idx = base.index
    price = tariffs.prices(idx, pc.tariff_id)
    dprice = tariffs.demand_price(pc.tariff_id)
    soc_init = 0.5
    days = sorted(set(day_of(idx)))
    span = pd.date_range(pd.Timestamp(start) - pd.Timedelta("15D"), pd.Timestamp(end) + pd.Timedelta("2D"),
                         freq="15min", inclusive="right")
    kind = production_plan(plant, span)["intensity"]
    day_kind = kind.groupby(day_of(kind.index)).sum().round(3)
    schedule = pd.Series(0.0, index=idx)
    peak: dict = {}
    soc = soc_init
    solve_s = []
    eta = bat.round_trip_efficiency ** 0.5
    for day in days:
        rows = day_of(idx) == day
        day_idx = idx[rows]
        known = hist[hist.index <= day]                  # metered up to this midnight
        # today and tomorrow (the schedule looks one day further, so it can hold a reserve for a
        # forecast peak early tomorrow, e.g. a Monday pull-down); only today is executed
        fcs = [day_forecast(known, d, day_kind) for d in (day, day + pd.Timedelta("1D"))]
        load, pv, load_high, pv_low = (np.concatenate([f[k] for f in fcs]) for k in ("load", "pv", "load_high", "pv_low"))
        h_idx = pd.date_range(day + pd.Timedelta("15min"), periods=load.size, freq="15min")
        month = day.to_period("M")
        net_fc = load - pv
        ref = max(peak.get(month, 0.0), float(net_fc.max()))
        # forecast-error allowance: the highest recent load x (1 + error) and the lowest recent PV
        headroom = ref - (load_high * (1 + HEADROOM_ERROR) - pv_low)
        plan = plan_storage(load, pv, tariffs.prices(h_idx, pc.tariff_id), dprice, bat, soc,
                            peak.get(month, 0.0), charge_headroom_kw=headroom)
        solve_s.append(plan.seconds)
        today = plan.battery_kw[: rows.sum()]
        schedule[day_idx] = today
        # the SOC the battery reaches if the plan is executed (the controller reads it at midnight)
        for p in today:
            soc = soc - (p / eta if p > 0 else p * eta) * DT_H / bat.capacity_kwh
            soc = min(max(soc, bat.soc_min), bat.soc_max)
        planned_grid = np.maximum(base.loc[day_idx, "load_kw"].to_numpy() - base.loc[day_idx, "pv_kw"].to_numpy()
                                  - today, 0.0)
        peak[month] = max(peak.get(month, 0.0), float(planned_grid.max()))
    months = pd.PeriodIndex((idx - pd.Timedelta("15min")), freq="M")
    pf = plan_storage(base["load_kw"].to_numpy(), base["pv_kw"].to_numpy(), price, dprice, bat, soc_init,
                      month_index=pd.factorize(months)[0])
    runs = {}
    for name, sched in (("forecast", schedule), ("perfect_foresight", pd.Series(pf.battery_kw, index=idx))):
        runs[name] = run_policy(plant, lambda obs, s=sched: Decision(battery_kw=float(s.get(obs["time"], 0.0))),
                                start, end)
    res = {"system": "storage", "plant": plant, "start": start, "end": end}
    res["baseline"] = tariffs.cost_cny(base["grid_kw"], pc.tariff_id) | {"kwh": energy_kwh(base["grid_kw"])}
    for name, df in runs.items():
        res[name] = tariffs.cost_cny(df["grid_kw"], pc.tariff_id) | {"kwh": energy_kwh(df["grid_kw"])}
    for r in ("baseline", "forecast", "perfect_foresight"):
        res[r]["tco2"] = res[r]["kwh"] * pc.grid_factor_kg_per_kwh / 1000.0
        res[r]["violation_zone_hours"] = 0.0
    b, f, p = (res[k]["total_cny"] for k in ("baseline", "forecast", "perfect_foresight"))
    res["optimised"] = res["forecast"]
    res["saving_vs_no_storage_cny"] = b - f
    res["saving_vs_baseline_pct"] = 100.0 * (b - f) / b
    res["gap_to_perfect_foresight_pct"] = 100.0 * (f - p) / p
    res["share_of_perfect_foresight_saving_pct"] = 100.0 * (b - f) / (b - p) if b > p else float("nan")
    res["solve_s_max"] = float(max(solve_s))
    return res
