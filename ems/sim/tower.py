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


def yorkcalc_approach_k(wet_bulb_c, range_k, lg_ratio):
    """Approach [K] from the YorkCalc correlation (inputs clamped to the validity limits)."""
    t = np.clip(wet_bulb_c, -34.4, 26.67)
    r = np.clip(range_k, 1.11, 22.22)
    lg = np.clip(lg_ratio, 0.05, 8.0)
    c = YORKCALC_COEF
    tr = (c[0] + c[1] * t + c[2] * t * t) + r * (c[3] + c[4] * t + c[5] * t * t) + r * r * (c[6] + c[7] * t + c[8] * t * t)
    tr_l = (c[9] + c[10] * t + c[11] * t * t) + r * (c[12] + c[13] * t + c[14] * t * t) + r * r * (c[15] + c[16] * t + c[17] * t * t)
    tr_l2 = (c[18] + c[19] * t + c[20] * t * t) + r * (c[21] + c[22] * t + c[23] * t * t) + r * r * (c[24] + c[25] * t + c[26] * t * t)
    return np.clip(tr + lg * tr_l + lg * lg * tr_l2, 1.11, 40.0)


def tower_leaving_c(wet_bulb_c, range_k, water_flow_ratio, air_flow_ratio):
    """Leaving (cold) water temperature [deg C] = T_wb + approach."""
    fr_air = np.maximum(air_flow_ratio, FREE_CONVECTION_FR)
    return np.asarray(wet_bulb_c) + yorkcalc_approach_k(wet_bulb_c, range_k, np.asarray(water_flow_ratio) / fr_air)


def fan_ratio_for_setpoint(wet_bulb_c, range_k, water_flow_ratio, setpoint_c, min_ratio=0.2, iterations=14):
    """Air-flow ratio in [0, 1] that brings the leaving water to the setpoint (bisection).

    0 means the fan is off (free convection already cold enough); 1 means the setpoint cannot be
    reached (fan at full speed, leaving water above setpoint).
    """
    wb = np.asarray(wet_bulb_c, dtype=float)
    lo = np.full(np.broadcast(wb, range_k, water_flow_ratio, setpoint_c).shape, min_ratio)
    hi = np.ones_like(lo)
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        too_warm = tower_leaving_c(wb, range_k, water_flow_ratio, mid) > setpoint_c
        lo = np.where(too_warm, mid, lo)
        hi = np.where(too_warm, hi, mid)
    fr = hi
    off_ok = tower_leaving_c(wb, range_k, water_flow_ratio, 0.0) <= setpoint_c
    return np.where(off_ok, 0.0, fr)
