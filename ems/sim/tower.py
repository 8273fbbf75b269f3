"""Cooling tower approach: the YorkCalc correlation (variable-speed tower).

Source: EnergyPlus ``CoolingTower:VariableSpeed`` model type ``YorkCalc``; coefficients hard-coded
in ``src/EnergyPlus/CondenserLoopTowers.cc`` and tabulated in the Engineering Reference
("Approach Temperature Correlation Coefficients"); identical in Modelica Buildings
``HeatExchangers/CoolingTowers/Correlations/yorkCalc.mo`` and the OpenStudio
``CoolingTowerPerformanceYorkCalc`` defaults (reference/plant-physics-and-data.md section 2.2).

    approach [K] = sum c_i term_i(t = T_wb, r = range, l = L/G = FR_water / FR_air)

Validity (EnergyPlus defaults): T_wb -34.4..26.67 deg C, range 1.11..22.22 K, approach 1.11..40 K,
L/G <= 8 (Modelica clips L/G to 0.05..8). Inputs are clamped to these limits.
Reference check: T_wb 25.6 deg C, range 5.6 K, L/G 1.0 -> approach 3.86 K.
With the fan off, free convection gives about 10 % of capacity (Modelica ``fraFreCon`` 0.1):
modelled as an equivalent air-flow ratio of 0.1.
"""

from __future__ import annotations

import numpy as np

YORKCALC_COEF = np.array([
    -0.359741205, -0.055053608, 0.0023850432, 0.173926877, -0.0248473764, 0.00048430224,
    -0.005589849456, 0.0005770079712, -0.00001342427256, 2.84765801111111, -0.121765149,
    0.0014599242, 1.680428651, -0.0166920786, -0.0007190532, -0.025485194448,
    0.0000487491696, 0.00002719234152, -0.0653766255555556, -0.002278167, 0.0002500254,
    -0.0910565458, 0.00318176316, 0.000038621772, -0.0034285382352, 0.00000856589904,
    -0.000001516821552,
])
FREE_CONVECTION_FR = 0.1


def _clamp(x, lo, hi):
    return np.minimum(np.maximum(x, lo), hi)


def _lg_polynomial(wet_bulb_c, range_k):
    """(A, B, C) with approach = A + B L/G + C (L/G)^2 at the clamped wet bulb and range."""
    t = _clamp(wet_bulb_c, -34.4, 26.67)
    r = _clamp(range_k, 1.11, 22.22)
    c = YORKCALC_COEF
    t2, r2 = t * t, r * r
    a = (c[0] + c[1] * t + c[2] * t2) + r * (c[3] + c[4] * t + c[5] * t2) + r2 * (c[6] + c[7] * t + c[8] * t2)
    b = (c[9] + c[10] * t + c[11] * t2) + r * (c[12] + c[13] * t + c[14] * t2) + r2 * (c[15] + c[16] * t + c[17] * t2)
    q = (c[18] + c[19] * t + c[20] * t2) + r * (c[21] + c[22] * t + c[23] * t2) + r2 * (c[24] + c[25] * t + c[26] * t2)
    return a, b, q


def yorkcalc_approach_k(wet_bulb_c, range_k, lg_ratio):
    """Approach [K] from the YorkCalc correlation (inputs clamped to the validity limits)."""
    return _approach(_lg_polynomial(wet_bulb_c, range_k), lg_ratio)


def _approach(abq, lg_ratio):
    a, b, q = abq
    lg = _clamp(lg_ratio, 0.05, 8.0)
    return _clamp(a + lg * b + lg * lg * q, 1.11, 40.0)


def tower_leaving_c(wet_bulb_c, range_k, water_flow_ratio, air_flow_ratio):
    """Leaving (cold) water temperature [deg C] = T_wb + approach."""
    fr_air = np.maximum(air_flow_ratio, FREE_CONVECTION_FR)
    return np.asarray(wet_bulb_c) + yorkcalc_approach_k(wet_bulb_c, range_k, np.asarray(water_flow_ratio) / fr_air)


def fan_ratio_for_setpoint(wet_bulb_c, range_k, water_flow_ratio, setpoint_c, min_ratio=0.2):
    """Air-flow ratio (0 or min_ratio..1) that brings the leaving water to the setpoint, and (A, B, C).

    The correlation is quadratic in L/G, so the L/G giving the target approach is solved in closed
    form (the root on the rising branch), then FR_air = FR_water / (L/G). 0 means the fan is off
    (free convection is cold enough); 1 means the setpoint cannot be reached at full speed.
    """
    wfr = np.asarray(water_flow_ratio, dtype=float)
    abq = _lg_polynomial(wet_bulb_c, range_k)
    a, b, q = abq
    target = np.asarray(setpoint_c) - np.asarray(wet_bulb_c)
    disc = np.maximum(b * b - 4.0 * q * (a - target), 0.0)
    sq = np.sqrt(disc)
    qs = np.where(np.abs(q) < 1e-12, 1e-12, q)
    r1 = (-b + sq) / (2.0 * qs)
    r2 = (-b - sq) / (2.0 * qs)
    # the rising branch: derivative b + 2 q lg > 0
    lg = np.where(b + 2.0 * q * r1 > 0, r1, r2)
    lg = np.where(np.abs(q) < 1e-12, (target - a) / np.where(b == 0, 1e-12, b), lg)
    fr = _clamp(wfr / np.maximum(lg, 1e-3), min_ratio, 1.0)
    full = (lg <= 0) | (_approach(abq, wfr) >= target)
    fr = np.where(full, 1.0, fr)
    off_ok = _approach(abq, wfr / FREE_CONVECTION_FR) <= target
    return np.where(off_ok, 0.0, fr), abq


def leaving_from_polynomial(wet_bulb_c, abq, water_flow_ratio, air_flow_ratio):
    """T_wb + approach using a precomputed (A, B, C) from :func:`fan_ratio_for_setpoint`."""
    fr_air = np.maximum(air_flow_ratio, FREE_CONVECTION_FR)
    return np.asarray(wet_bulb_c) + _approach(abq, np.asarray(water_flow_ratio) / fr_air)
