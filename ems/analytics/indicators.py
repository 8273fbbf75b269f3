"""Period tables of equipment EnPIs from hourly roll-ups: chiller plant and compressed-air station.

Pure functions over hourly series indexed by site-local bucket start (as :mod:`ems.analytics.sources`
returns them). Each table has one row per period (``day`` or ``month``) with the indicator, the sums
it is made of and its coverage, so a gap shows up as low coverage rather than a better number.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ems.analytics.enpi import (
    KW_PER_RT,
    dryer_purge_share,
    leak_baseline,
    low_delta_t_summary,
    period_ratio,
)

PERIODS = {"day": "D", "month": "M"}


def period_labels(index: pd.DatetimeIndex, by: str) -> pd.Index:
    """Local period start (date for days, first of month for months) of each bucket."""
    if by not in PERIODS:
        raise ValueError(f"period must be one of {sorted(PERIODS)}, got '{by}'")
    naive = index.tz_localize(None) if index.tz is not None else index
    return pd.Index(naive.to_period(PERIODS[by]).start_time.date, name=by)


def _frame(**series: pd.Series) -> pd.DataFrame:
    present = {k: v for k, v in series.items() if v is not None}
    return pd.DataFrame(present).sort_index() if present else pd.DataFrame()


def chiller_plant_table(power_kwh: pd.Series, cooling_kwh: pd.Series, supply_c: pd.Series | None = None,
                        return_c: pd.Series | None = None, *, by: str = "month",
                        design_delta_t_k: float = 5.0) -> pd.DataFrame:
    """kW/kW, kW/RT and COP of a chiller plant and its chilled-water delta-T per period.

    Hourly inputs: plant electricity (kWh), delivered cooling (kWh of cold), supply and return
    temperatures (hourly means, degC). Ratios are sums over hours where both energies are present;
    delta-T statistics use running hours (cooling > 0). Low delta-T: an hour below 60 % of the design
    delta-T; the syndrome flag is set when more than half the running hours are low.
    """
    f = _frame(power=power_kwh, cooling=cooling_kwh, supply=supply_c, ret=return_c)
    if f.empty:
        return pd.DataFrame()
    rows = []
    for label, g in f.groupby(period_labels(pd.DatetimeIndex(f.index), by)):
        ratio = period_ratio(g["power"], g["cooling"], unit="kW/kW")
        row = {by: label, "plant_kwh": ratio.numerator_sum, "cooling_kwh": ratio.denominator_sum,
               "kw_per_kw": ratio.value, "kw_per_rt": ratio.value * KW_PER_RT,
               "cop": 1.0 / ratio.value if ratio.value and np.isfinite(ratio.value) else float("nan"),
               "coverage": ratio.coverage, "running_hours": int((g["cooling"] > 0).sum())}
        if "supply" in g and "ret" in g:
            running = g["cooling"] > 0
            summary = low_delta_t_summary(g["ret"] - g["supply"], design_delta_t_k, running=running)
            row.update({"mean_delta_t_k": summary.mean_delta_t_c, "low_delta_t_share": summary.share_low,
                        "low_delta_t_syndrome": summary.syndrome})
        rows.append(row)
    return pd.DataFrame(rows)


def air_station_table(station_kwh: pd.Series, air_m3: pd.Series, flow_m3_per_min: pd.Series | None = None,
                      purge_m3_per_min: pd.Series | None = None, production_units: pd.Series | None = None,
                      *, by: str = "month") -> pd.DataFrame:
    """Specific power, leak baseline and dryer purge share of a compressed-air station per period.

    Hourly inputs: station electricity (kWh), delivered free air (m3), mean flow and purge flow
    (m3/min), production output (units; an hour with no output is a non-production hour). Specific
    power kW/(m3/min) = 60 x kWh / m3 over hours with both. The leak baseline is the median flow of
    non-production hours, also as a share of the mean production flow.
    """
    f = _frame(kwh=station_kwh, m3=air_m3, flow=flow_m3_per_min, purge=purge_m3_per_min, units=production_units)
    if f.empty:
        return pd.DataFrame()
    rows = []
    for label, g in f.groupby(period_labels(pd.DatetimeIndex(f.index), by)):
        ratio = period_ratio(g["kwh"], g["m3"], unit="kWh/m3")
        row = {by: label, "station_kwh": ratio.numerator_sum, "air_m3": ratio.denominator_sum,
               "kw_per_m3_per_min": ratio.value * 60.0, "kwh_per_m3": ratio.value, "coverage": ratio.coverage}
        if "flow" in g and "units" in g:
            leak = leak_baseline(g["flow"], (g["units"] > 0).where(g["units"].notna()))
            row.update({"leak_m3_per_min": leak.leak_flow_m3_per_min, "leak_share": leak.leak_share,
                        "nonproduction_hours": leak.n_nonproduction})
        if "flow" in g and "purge" in g:
            row["dryer_purge_share"] = dryer_purge_share(g["purge"], g["flow"]).value
        rows.append(row)
    return pd.DataFrame(rows)


def intensity_table(energy: pd.DataFrame, output: pd.DataFrame, *, by: str = "month") -> pd.DataFrame:
    """Energy per unit of output per (entity, period).

    ``energy`` and ``output``: long frames with columns ``entity``, ``bucket`` (local timestamps) and
    ``value``; energy in kWh, output in units. Periods without output are reported with the flag
    'zero_output', never divided.
    """
    from ems.analytics.enpi import energy_intensity

    def per_period(frame: pd.DataFrame, name: str) -> pd.Series:
        if frame.empty:
            return pd.Series(dtype="float64", name=name)
        labels = period_labels(pd.DatetimeIndex(frame["bucket"]), by)
        return frame.assign(period=labels).groupby(["entity", "period"])["value"].sum(min_count=1).rename(name)

    joined = pd.concat([per_period(energy, "energy_kwh"), per_period(output, "output")], axis=1)
    if joined.empty:
        return pd.DataFrame(columns=["entity", by, "energy_kwh", "output", "kwh_per_unit", "flag"])
    res = energy_intensity(joined["energy_kwh"], joined["output"])
    joined["kwh_per_unit"], joined["flag"] = res["intensity"], res["flag"]
    return joined.reset_index().rename(columns={"period": by})
