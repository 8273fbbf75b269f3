"""Energy performance indicators (EnPIs) for chiller plants, compressed air and sites.

All functions are pure and unit-explicit. Inputs may be floats or pandas Series on a common index.
Element-wise indicators return NaN where an input is missing or a denominator is zero or negative
(never inf). Period indicators (:class:`Ratio`) are ratios of sums over the intervals where both
inputs are present, with the coverage (share of intervals used) reported next to the value, so a
gap in the data shows up as low coverage, not as a silently better or worse number.

Published constants:

* 1 refrigeration ton (RT) = 12 000 Btu/h = 3.516 853 kW (pint's definition; ASHRAE Fundamentals).
* Water density and isobaric specific heat at 0.1 MPa, 0-40 degC, from the IAPWS-95 formulation
  as tabulated by NIST (Lemmon, McLinden & Friend, NIST Chemistry WebBook SRD 69) [R: table values
  recalled, to within 0.05 %]: see ``_RHO_T_C`` / ``_CP_T_C`` below.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from ems.units import conversion

Num = float | pd.Series

# IAPWS-95 / NIST at 0.101325 MPa. Density kg/m3 and cp kJ/(kg K) [R].
_RHO_T_C = np.array([0.01, 4.0, 10.0, 15.0, 20.0, 25.0, 30.0, 35.0, 40.0])
_WATER_RHO_KG_PER_M3 = np.array([999.84, 999.97, 999.70, 999.10, 998.21, 997.05, 995.65, 994.03, 992.22])
_CP_T_C = np.array([0.01, 10.0, 20.0, 25.0, 30.0, 40.0])
_WATER_CP_KJ_PER_KG_K = np.array([4.2199, 4.1955, 4.1844, 4.1816, 4.1801, 4.1796])
_T_MIN_C, _T_MAX_C = -1.0, 41.0  # outside this band: not liquid chilled/cooling water, NaN
KW_PER_RT = conversion("RT", "kW")[0]  # 3.516853 kW per refrigeration ton (12 000 Btu/h)


@dataclass(frozen=True)
class Ratio:
    """A period indicator: ``value = sum(numerator) / sum(denominator)`` over paired valid intervals."""

    value: float
    numerator_sum: float
    denominator_sum: float
    n_valid: int
    n_total: int
    unit: str

    @property
    def coverage(self) -> float:
        """Share of intervals with both inputs present (0..1); NaN for empty input."""
        return self.n_valid / self.n_total if self.n_total else float("nan")


class Intensity(NamedTuple):
    """Scalar energy intensity with its flag ('ok', 'zero_output', 'missing_energy', ...)."""

    value: float
    flag: str


def _is_series(*xs: object) -> bool:
    return any(isinstance(x, pd.Series) for x in xs)


def safe_divide(numerator: Num, denominator: Num) -> Num:
    """numerator / denominator, NaN where the denominator is <= 0, either input is missing or the
    quotient overflows (a denormal denominator): never inf."""
    if _is_series(numerator, denominator):
        index = (numerator if isinstance(numerator, pd.Series) else denominator).index  # type: ignore[union-attr]
        num = numerator.astype(float) if isinstance(numerator, pd.Series) else pd.Series(float(numerator), index=index)
        den = denominator.astype(float) if isinstance(denominator, pd.Series) \
            else pd.Series(float(denominator), index=index)
        with np.errstate(over="ignore", invalid="ignore"):
            out = num / den.where(den > 0)
        return out.where(np.isfinite(out))
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        d = np.float64(denominator)
        q = np.float64(numerator) / d if d > 0 else np.float64("nan")
    return float(q) if np.isfinite(q) else float("nan")


def period_ratio(numerator: pd.Series, denominator: pd.Series, unit: str = "") -> Ratio:
    """Ratio of sums over the intervals where both series are present (aligned on the index).

    This is the correct period EnPI (energy-weighted); the mean of interval ratios is not.
    Intervals with a non-positive denominator still count in the sums (a zero-load interval
    adds its power to the numerator), so idle consumption is not hidden.
    """
    num, den = numerator.astype(float).align(denominator.astype(float), join="outer")
    ok = num.notna() & den.notna()
    s_num, s_den = float(num[ok].sum()), float(den[ok].sum())
    value = safe_divide(s_num, s_den)
    return Ratio(value, s_num, s_den, int(ok.sum()), len(num), unit)


# --- chiller plant -------------------------------------------------------------------------------

def chiller_plant_kw_per_kw(plant_power_kw: Num, cooling_kw: Num) -> Num:
    """Plant electric power per unit cooling delivered, kW/kW (lower is better).

    Plant power is chillers + chilled- and condenser-water pumps + cooling-tower fans.
    1,000 kW cooling at 180 kW plant power -> 0.18 kW/kW.
    """
    return safe_divide(plant_power_kw, cooling_kw)


def kw_per_rt(power_kw: Num, cooling_kw: Num) -> Num:
    """Electric power per refrigeration ton, kW/RT (1 RT = 3.516853 kW): 0.18 kW/kW -> 0.633 kW/RT."""
    return safe_divide(power_kw, cooling_kw / KW_PER_RT)  # cooling in RT


def cop(cooling_kw: Num, power_kw: Num) -> Num:
    """Coefficient of performance, kW cooling per kW electric (dimensionless): 1000/180 -> 5.56."""
    return safe_divide(cooling_kw, power_kw)


def water_density_kg_per_m3(temp_c: Num) -> Num:
    """Liquid water density at 0.1 MPa, kg/m3, linear in IAPWS-95 table values 0-40 degC."""
    return _interp(temp_c, _RHO_T_C, _WATER_RHO_KG_PER_M3)


def water_cp_kj_per_kg_k(temp_c: Num) -> Num:
    """Liquid water isobaric specific heat at 0.1 MPa, kJ/(kg K), IAPWS-95 table values 0-40 degC."""
    return _interp(temp_c, _CP_T_C, _WATER_CP_KJ_PER_KG_K)


def _interp(temp_c: Num, grid_c: np.ndarray, table: np.ndarray) -> Num:
    if isinstance(temp_c, pd.Series):
        t = temp_c.astype(float).to_numpy(copy=True)
        out = np.interp(t, grid_c, table)
        out[~np.isfinite(t) | (t < _T_MIN_C) | (t > _T_MAX_C)] = np.nan
        return pd.Series(out, index=temp_c.index)
    t = float(temp_c)
    if not np.isfinite(t) or t < _T_MIN_C or t > _T_MAX_C:
        return float("nan")
    return float(np.interp(t, grid_c, table))


def delta_t_c(supply_c: Num, return_c: Num) -> Num:
    """Chilled-water temperature difference, K: return minus supply (positive when cooling)."""
    return return_c - supply_c


def cooling_kw_from_water(flow_m3_per_h: Num, supply_c: Num, return_c: Num) -> Num:
    """Cooling delivered by a chilled-water stream, kW.

    Q = V/3600 x rho(T_mean) x cp(T_mean) x (T_return - T_supply), with IAPWS-95 density and cp at
    the mean water temperature (see module docstring). 100 m3/h at 7/12 degC -> 582.7 kW
    (rho 999.72 kg/m3, cp 4.1967 kJ/(kg K); 580.2 kW with the rounded 998 kg/m3 and 4.186).
    Temperatures outside 0-40 degC give NaN (not chilled water, or a sensor fault).
    """
    mean_c = (supply_c + return_c) / 2.0
    rho_cp = water_density_kg_per_m3(mean_c) * water_cp_kj_per_kg_k(mean_c)
    return flow_m3_per_h / 3600.0 * rho_cp * delta_t_c(supply_c, return_c)


def low_delta_t_flag(delta_t: pd.Series, design_delta_t_c: float = 5.0, threshold_share: float = 0.6,
                     running: pd.Series | None = None) -> pd.Series:
    """Intervals with low chilled-water delta-T: ``delta_t < threshold_share x design_delta_t_c``.

    Returns a nullable boolean Series: <NA> where delta-T is missing or the plant is not running
    (``running`` False), so gaps are never counted as healthy or faulty. Low delta-T syndrome
    (more flow pumped per kW of cooling than designed) is judged from the share of flagged
    intervals, see :func:`low_delta_t_summary`.
    """
    dt = delta_t.astype(float)
    flag = pd.Series(pd.array(dt < threshold_share * design_delta_t_c, dtype="boolean"), index=dt.index)
    mask = dt.isna()
    if running is not None:
        mask |= ~running.reindex(dt.index).fillna(False).astype(bool)
    flag[mask] = pd.NA
    return flag


@dataclass(frozen=True)
class LowDeltaT:
    share_low: float       # share of valid running intervals below the threshold
    mean_delta_t_c: float  # mean delta-T over valid running intervals
    coverage: float        # valid running intervals / all intervals
    syndrome: bool         # share_low > syndrome_share


def low_delta_t_summary(delta_t: pd.Series, design_delta_t_c: float = 5.0, threshold_share: float = 0.6,
                        running: pd.Series | None = None, syndrome_share: float = 0.5) -> LowDeltaT:
    """Summarise :func:`low_delta_t_flag`: syndrome when more than ``syndrome_share`` of intervals are low."""
    flag = low_delta_t_flag(delta_t, design_delta_t_c, threshold_share, running)
    valid = flag.notna()
    n = int(valid.sum())
    share = float(flag[valid].astype(bool).mean()) if n else float("nan")
    mean_dt = float(delta_t[valid.to_numpy()].mean()) if n else float("nan")
    coverage = n / len(flag) if len(flag) else float("nan")
    return LowDeltaT(share, mean_dt, coverage, bool(n and share > syndrome_share))


# --- compressed air ------------------------------------------------------------------------------

def specific_power_kw_per_m3_per_min(power_kw: Num, flow_m3_per_min: Num) -> Num:
    """Compressor specific power, kW per (m3/min) of free air delivered.

    Typical full-load values at ~7 barg: 5.6-6.9 kW/(m3/min) (plant-physics-and-data.md §2.4,
    MEASUR examples); rises with pressure and at part load.
    """
    return safe_divide(power_kw, flow_m3_per_min)


@dataclass(frozen=True)
class LeakBaseline:
    leak_flow_m3_per_min: float        # statistic of non-production flow
    production_flow_m3_per_min: float  # mean flow during production
    leak_share: float                  # leak flow / mean production flow
    n_nonproduction: int
    n_production: int
    coverage: float                    # intervals with flow and flag present / all intervals
    method: str


def leak_baseline(flow_m3_per_min: pd.Series, production_flag: pd.Series,
                  percentile: float | None = None, min_samples: int = 4) -> LeakBaseline:
    """Compressed-air leak baseline from non-production hours.

    With production stopped, the remaining demand is mostly leakage. The leak flow is the median
    (default) or the given low ``percentile`` (0-100) of flow in non-production intervals, and is
    reported as a share of the mean production flow (a well-kept system: below ~10-20 %).
    ``production_flag`` is True while producing; missing flags or flows are excluded and reduce
    coverage. Fewer than ``min_samples`` non-production intervals gives NaN.
    """
    flow, prod = flow_m3_per_min.astype(float).align(production_flag, join="outer")
    ok = flow.notna() & prod.notna()
    prod_b = prod[ok].astype(bool)
    off = flow[ok][~prod_b]
    on = flow[ok][prod_b]
    method = "median" if percentile is None else f"p{percentile:g}"
    if len(off) < min_samples:
        leak = float("nan")
    else:
        leak = float(off.median()) if percentile is None else float(np.percentile(off, percentile))
    prod_mean = float(on.mean()) if len(on) else float("nan")
    share = leak / prod_mean if np.isfinite(leak) and prod_mean > 0 else float("nan")
    coverage = int(ok.sum()) / len(flow) if len(flow) else float("nan")
    return LeakBaseline(leak, prod_mean, share, len(off), len(on), coverage, method)


def dryer_purge_share(purge_flow: pd.Series, total_flow: pd.Series) -> Ratio:
    """Share of compressed air used as desiccant-dryer purge: sum(purge) / sum(compressor output).

    Both flows in the same unit (e.g. m3/min). Typical: heatless desiccant ~15-20 %, heated ~5-8 %,
    blower purge ~0-3 % (manufacturer literature, [R]).
    """
    return period_ratio(purge_flow, total_flow, unit="1")


# --- site and product line -----------------------------------------------------------------------

def energy_intensity(energy: Num, output: Num) -> pd.DataFrame | Intensity:
    """Energy per unit of output (e.g. kWh per unit produced). Never inf.

    Scalars return :class:`Intensity` (value, flag); Series return a DataFrame with columns
    ``energy``, ``output``, ``intensity`` and ``flag``. Flags: 'ok', 'zero_output' (output <= 0:
    NaN, a non-producing period is reported, not divided), 'missing_energy', 'missing_output'.
    """
    if not _is_series(energy, output):
        e, o = float(energy), float(output)
        if not np.isfinite(e):
            return Intensity(float("nan"), "missing_energy")
        if not np.isfinite(o):
            return Intensity(float("nan"), "missing_output")
        if o <= 0:
            return Intensity(float("nan"), "zero_output")
        return Intensity(float(safe_divide(e, o)), "ok")
    frame = pd.DataFrame({"energy": energy, "output": output}).astype(float)
    frame["intensity"] = safe_divide(frame["energy"], frame["output"])
    flag = np.where(frame["energy"].isna(), "missing_energy",
                    np.where(frame["output"].isna(), "missing_output",
                             np.where(frame["output"] <= 0, "zero_output", "ok")))
    frame["flag"] = flag
    return frame


def energy_intensity_table(frame: pd.DataFrame, by: list[str], energy_col: str = "energy_kwh",
                           output_col: str = "output_count") -> pd.DataFrame:
    """Energy intensity per group (e.g. ``by=['site', 'product_line']``) over the frame's period.

    Sums energy and output per group (NaN rows are skipped and counted in ``n_missing``), then
    divides. Columns: the ``by`` keys, ``energy``, ``output``, ``intensity``, ``flag``, ``n_rows``,
    ``n_missing``.
    """
    g = frame.groupby(by, dropna=False, sort=True)
    agg = pd.DataFrame({
        "energy": g[energy_col].sum(min_count=1),
        "output": g[output_col].sum(min_count=1),
        "n_rows": g.size(),
        "n_missing": g.apply(lambda d: int((d[energy_col].isna() | d[output_col].isna()).sum()),
                             include_groups=False),
    })
    res = energy_intensity(agg["energy"], agg["output"])
    assert isinstance(res, pd.DataFrame)
    agg["intensity"] = res["intensity"]
    agg["flag"] = res["flag"]
    return agg.reset_index()[[*by, "energy", "output", "intensity", "flag", "n_rows", "n_missing"]]
