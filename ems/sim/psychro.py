"""Moist-air psychrometrics (SI units, vectorised over numpy arrays).

Sources:

* Saturation vapour pressure over water: Magnus form with the Alduchov & Eskridge (1996)
  coefficients, e_s = 610.94 Pa * exp(17.625 T / (T + 243.04)), T in deg C
  (J. Appl. Meteor. 35, 601-609). Good to 0.4 % between -40 and 50 deg C.
* Humidity ratio W = 0.621945 p_w / (p - p_w) and moist-air enthalpy
  h = 1.006 T + W (2501 + 1.86 T) kJ/kg dry air: ASHRAE Handbook Fundamentals 2017, ch. 1,
  eqs. 20 and 32.
* Wet-bulb temperature: Stull (2011), "Wet-bulb temperature from relative humidity and air
  temperature", J. Appl. Meteor. Climatol. 50, 2267-2269, valid for RH 5-99 % and
  T -20..50 deg C at standard pressure (error within about 1 K, mostly < 0.3 K).
"""

from __future__ import annotations

import numpy as np

MAGNUS_A = 17.625
MAGNUS_B_C = 243.04
MAGNUS_E0_PA = 610.94
CP_AIR_KJ_PER_KG_K = 1.006       # ASHRAE Fundamentals 2017 ch. 1
H_FG_KJ_PER_KG = 2501.0          # latent heat of vaporisation at 0 deg C, ASHRAE
CP_WATER_KJ_PER_KG_K = 4.186     # liquid water near 10-30 deg C
RHO_WATER_KG_PER_M3 = 998.0


def saturation_pressure_pa(temp_c):
    """Saturation vapour pressure over liquid water [Pa] (Alduchov & Eskridge 1996)."""
    t = np.asarray(temp_c, dtype=float)
    return MAGNUS_E0_PA * np.exp(MAGNUS_A * t / (t + MAGNUS_B_C))


def dew_point_c(temp_c, rh_pct):
    """Dew point [deg C] from dry-bulb [deg C] and relative humidity [%] (inverse Magnus)."""
    rh = np.clip(np.asarray(rh_pct, dtype=float), 0.5, 100.0)
    g = np.log(rh / 100.0) + MAGNUS_A * np.asarray(temp_c) / (MAGNUS_B_C + np.asarray(temp_c))
    return MAGNUS_B_C * g / (MAGNUS_A - g)


def rh_from_dew_point_pct(temp_c, dew_point_c_):
    """Relative humidity [%] from dry-bulb and dew point [deg C]."""
    return 100.0 * saturation_pressure_pa(dew_point_c_) / saturation_pressure_pa(temp_c)


def humidity_ratio(temp_c, rh_pct, pressure_pa=101325.0):
    """Humidity ratio [kg water / kg dry air] (ASHRAE Fundamentals 2017 ch. 1 eq. 20)."""
    pw = np.asarray(rh_pct, dtype=float) / 100.0 * saturation_pressure_pa(temp_c)
    return 0.621945 * pw / (np.asarray(pressure_pa) - pw)


def saturation_humidity_ratio(temp_c, pressure_pa=101325.0):
    """Humidity ratio at saturation [kg/kg]."""
    return humidity_ratio(temp_c, 100.0, pressure_pa)


def rh_from_humidity_ratio_pct(temp_c, w, pressure_pa=101325.0):
    """Relative humidity [%] of air at temp_c with humidity ratio w [kg/kg], clipped to 0..100."""
    w = np.asarray(w, dtype=float)
    pw = np.asarray(pressure_pa) * w / (0.621945 + w)
    return np.clip(100.0 * pw / saturation_pressure_pa(temp_c), 0.0, 100.0)


def enthalpy_kj_per_kg(temp_c, w):
    """Moist-air enthalpy [kJ/kg dry air] (ASHRAE Fundamentals 2017 ch. 1 eq. 32)."""
    t = np.asarray(temp_c, dtype=float)
    return CP_AIR_KJ_PER_KG_K * t + np.asarray(w) * (H_FG_KJ_PER_KG + 1.86 * t)


def wet_bulb_stull_c(temp_c, rh_pct):
    """Wet-bulb temperature [deg C] from dry-bulb [deg C] and RH [%] (Stull 2011, closed form)."""
    t = np.asarray(temp_c, dtype=float)
    rh = np.clip(np.asarray(rh_pct, dtype=float), 5.0, 99.0)
    twb = (t * np.arctan(0.151977 * np.sqrt(rh + 8.313659)) + np.arctan(t + rh)
           - np.arctan(rh - 1.676331) + 0.00391838 * rh ** 1.5 * np.arctan(0.023101 * rh) - 4.686035)
    return np.minimum(twb, t)
