"""Water-cooled electric chillers: EnergyPlus ``Chiller:Electric:EIR`` (DOE-2.1E formulation).

Model (EnergyPlus Input-Output and Engineering Reference, "Chiller:Electric:EIR"; DOE-2.1E):

    CAPFT(x, y)  = a + b x + c x^2 + d y + e y^2 + f x y     x = leaving CHW temp, y = entering CW temp [deg C]
    EIRFT(x, y)  = same biquadratic form
    EIRFPLR(p)   = a + b p + c p^2                              p = part-load ratio
    Q_avail      = Q_ref CAPFT
    PLR          = Q_load / Q_avail   (clamped to [PLR_min, PLR_max]; below PLR_min the chiller cycles)
    P_elec       = Q_avail / COP_ref x EIRFT x EIRFPLR(max(PLR, PLR_min)) x cycling ratio
    Q_cond       = P_elec x f_motor_to_cond + Q_evap   (hermetic: f = 1)

As in EnergyPlus, curve inputs are clamped to each curve's validity limits before evaluation
(biquadratics extrapolate badly outside them).

Coefficients: NREL EnergyPlus ``datasets/Chillers.idf`` (CoolTools, 1991-2001 manufacturer data),
as embedded verbatim in the Modelica Buildings Library records
``Buildings.Fluid.Chillers.Data.ElectricEIR.*`` (lbl-srg/modelica-buildings); DOE-2 generic set
also in the EnergyPlus I/O Reference (DOE-2.1E HERM-CENT-CAP-FT / -EIR-FT / -EIR-FPLR).
Transcribed in reference/plant-physics-and-data.md section 2.1.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True)
class ChillerCurves:
    """One chiller record: reference point, validity limits and the three curves."""

    name: str
    capacity_ref_kw: float
    cop_ref: float
    chw_leaving_ref_c: float
    cw_entering_ref_c: float
    chw_flow_ref_m3_per_s: float
    cw_flow_ref_m3_per_s: float
    plr_min: float
    plr_max: float
    chw_leaving_range_c: tuple[float, float]
    cw_entering_range_c: tuple[float, float]
    capft: tuple[float, float, float, float, float, float]
    eirft: tuple[float, float, float, float, float, float]
    eirfplr: tuple[float, float, float]
    refrigerant: str = "R134a"

    def scaled(self, capacity_kw: float, name: str | None = None) -> ChillerCurves:
        """Same curves at another size: Q_ref and both flows scale together (EnergyPlus advice)."""
        k = capacity_kw / self.capacity_ref_kw
        return replace(self, name=name or self.name, capacity_ref_kw=capacity_kw,
                       chw_flow_ref_m3_per_s=self.chw_flow_ref_m3_per_s * k,
                       cw_flow_ref_m3_per_s=self.cw_flow_ref_m3_per_s * k)


# DOE-2 Centrifugal/5.50COP (generic). Autosized in EnergyPlus; flows here sized for 5 K CHW
# and 5.5 K CW design temperature differences per 1000 kW (our choice, not from the record).
DOE2_CENTRIFUGAL = ChillerCurves(
    name="DOE-2 Centrifugal/5.50COP", capacity_ref_kw=1000.0, cop_ref=5.50,
    chw_leaving_ref_c=6.67, cw_entering_ref_c=29.4,
    chw_flow_ref_m3_per_s=1000.0 / (4.186 * 998.0 * 5.0), cw_flow_ref_m3_per_s=1000.0 * 1.18 / (4.186 * 998.0 * 5.5),
    plr_min=0.1, plr_max=1.0, chw_leaving_range_c=(5.0, 10.0), cw_entering_range_c=(24.0, 35.0),
    capft=(0.257896, 0.0389016, -2.17080e-4, 0.0468684, -9.42840e-4, -3.43440e-4),
    eirft=(0.933884, -0.058212, 4.50036e-3, 2.43000e-3, 4.86000e-4, -1.21500e-3),
    eirfplr=(0.222903, 0.313387, 0.463710),
)
# Carrier 19XR 1407kW/6.04COP/VSD (Chillers.idf via Modelica Buildings ElectricEIR record).
CARRIER_19XR_VSD = ChillerCurves(
    name="Carrier 19XR 1407kW/6.04COP/VSD", capacity_ref_kw=1406.6, cop_ref=6.04,
    chw_leaving_ref_c=6.67, cw_entering_ref_c=29.44,
    chw_flow_ref_m3_per_s=0.06057, cw_flow_ref_m3_per_s=0.07571,
    plr_min=0.20, plr_max=1.04, chw_leaving_range_c=(4.44, 10.00), cw_entering_range_c=(12.78, 32.22),
    capft=(1.042261, 2.644821e-3, -1.468026e-3, 0.01366256, -8.302334e-4, 1.573579e-3),
    eirft=(1.026340, -0.01612819, -1.092591e-3, -0.01784393, 7.961842e-4, -9.586049e-5),
    eirfplr=(0.1188880, 0.6723542, 0.2068754),
)
# Trane RTHB 1051kW/5.05COP/Valve (screw) (Chillers.idf via Modelica Buildings ElectricEIR record).
TRANE_RTHB_SCREW = ChillerCurves(
    name="Trane RTHB 1051kW/5.05COP/Valve", capacity_ref_kw=1051.4, cop_ref=5.05,
    chw_leaving_ref_c=6.67, cw_entering_ref_c=29.44,
    chw_flow_ref_m3_per_s=0.04527, cw_flow_ref_m3_per_s=0.05659,
    plr_min=0.20, plr_max=1.01, chw_leaving_range_c=(4.44, 8.89), cw_entering_range_c=(23.89, 35.00),
    capft=(0.9482157, 0.03306737, -6.450072e-5, -3.756522e-3, -6.501672e-5, 2.517986e-15),
    eirft=(0.4904181, -5.530317e-3, 1.209907e-3, 9.122333e-3, 5.923591e-4, -1.469958e-3),
    eirfplr=(0.2590465, 0.2148987, 0.5265039),
)
# York YK 1881kW/6.53COP/Vanes: valid only for entering CW 9.44-26.67 deg C, kept for reference.
YORK_YK_VANES = ChillerCurves(
    name="York YK 1881kW/6.53COP/Vanes", capacity_ref_kw=1881.4, cop_ref=6.53,
    chw_leaving_ref_c=8.89, cw_entering_ref_c=26.67,
    chw_flow_ref_m3_per_s=0.04397, cw_flow_ref_m3_per_s=0.1041,
    plr_min=0.19, plr_max=1.03, chw_leaving_range_c=(7.22, 12.78), cw_entering_range_c=(9.44, 26.67),
    capft=(0.8561286, 0.04130164, -7.109335e-4, 4.306273e-3, -6.336613e-4, 7.211635e-4),
    eirft=(0.4434989, 0.04361264, -1.733337e-3, 9.915503e-3, 4.312717e-4, -1.122346e-3),
    eirfplr=(0.05272116, 0.4176382, 0.5310870),
)
CHILLER_RECORDS = {c.name: c for c in (DOE2_CENTRIFUGAL, CARRIER_19XR_VSD, TRANE_RTHB_SCREW, YORK_YK_VANES)}


def _clamp(x, lo, hi):
    return np.minimum(np.maximum(x, lo), hi)


def biquadratic(coef, x, y):
    """a + b x + c x^2 + d y + e y^2 + f x y."""
    a, b, c, d, e, f = coef
    return a + b * x + c * x * x + d * y + e * y * y + f * x * y


def quadratic(coef, p):
    """a + b p + c p^2."""
    a, b, c = coef
    return a + b * p + c * p * p


def capft(ch: ChillerCurves, chw_leaving_c, cw_entering_c):
    """Capacity modifier vs temperatures (inputs clamped to the record's validity range)."""
    x = _clamp(chw_leaving_c, *ch.chw_leaving_range_c)
    y = _clamp(cw_entering_c, *ch.cw_entering_range_c)
    return biquadratic(ch.capft, x, y)


def eirft(ch: ChillerCurves, chw_leaving_c, cw_entering_c):
    """EIR modifier vs temperatures (inputs clamped to the record's validity range)."""
    x = _clamp(chw_leaving_c, *ch.chw_leaving_range_c)
    y = _clamp(cw_entering_c, *ch.cw_entering_range_c)
    return biquadratic(ch.eirft, x, y)


def eirfplr(ch: ChillerCurves, plr):
    """EIR modifier vs part-load ratio."""
    return quadratic(ch.eirfplr, plr)


def available_capacity_kw(ch: ChillerCurves, chw_leaving_c, cw_entering_c):
    """Q_avail = Q_ref CAPFT [kW]."""
    return ch.capacity_ref_kw * capft(ch, chw_leaving_c, cw_entering_c)


def chiller_power_kw(ch: ChillerCurves, load_kw, chw_leaving_c, cw_entering_c):
    """Electric input [kW] and delivered evaporator load [kW] of one chiller (0 load -> off).

    Returns (power_kw, evaporator_kw, plr). Load above PLR_max x Q_avail is not met (the
    delivered load is capped; the caller sees the shortfall).
    """
    load_kw = np.asarray(load_kw, dtype=float)
    q_avail = available_capacity_kw(ch, chw_leaving_c, cw_entering_c)
    q_evap = np.minimum(np.maximum(load_kw, 0.0), ch.plr_max * q_avail)
    plr = q_evap / q_avail
    cycling = np.where(plr < ch.plr_min, plr / ch.plr_min, 1.0)
    p = q_avail / ch.cop_ref * eirft(ch, chw_leaving_c, cw_entering_c) * eirfplr(ch, np.maximum(plr, ch.plr_min)) * cycling
    return np.where(q_evap > 0, p, 0.0), q_evap, plr


class ChillerBank:
    """Several chillers evaluated at once: curve coefficients stacked as (N, k) arrays.

    Same equations as :func:`chiller_power_kw`, broadcast over (T, N) so the plant model needs no
    Python loop over machines.
    """

    def __init__(self, chillers: tuple[ChillerCurves, ...]):
        self.q_ref = np.array([c.capacity_ref_kw for c in chillers])
        self.cop = np.array([c.cop_ref for c in chillers])
        self.plr_min = np.array([c.plr_min for c in chillers])
        self.plr_max = np.array([c.plr_max for c in chillers])
        self.x_lo = np.array([c.chw_leaving_range_c[0] for c in chillers])
        self.x_hi = np.array([c.chw_leaving_range_c[1] for c in chillers])
        self.y_lo = np.array([c.cw_entering_range_c[0] for c in chillers])
        self.y_hi = np.array([c.cw_entering_range_c[1] for c in chillers])
        self.cap = np.array([c.capft for c in chillers]).T     # (6, N)
        self.eir = np.array([c.eirft for c in chillers]).T
        self.plr = np.array([c.eirfplr for c in chillers]).T   # (3, N)

    def available_kw(self, chw_leaving_c, cw_entering_c):
        x = _clamp(chw_leaving_c, self.x_lo, self.x_hi)
        y = _clamp(cw_entering_c, self.y_lo, self.y_hi)
        return self.q_ref * biquadratic(self.cap, x, y)

    def power_kw(self, load_kw, chw_leaving_c, cw_entering_c):
        """(power_kw, evaporator_kw, plr, available_kw), each (T, N)."""
        x = _clamp(chw_leaving_c, self.x_lo, self.x_hi)
        y = _clamp(cw_entering_c, self.y_lo, self.y_hi)
        q_avail = self.q_ref * biquadratic(self.cap, x, y)
        q_evap = np.minimum(np.maximum(load_kw, 0.0), self.plr_max * q_avail)
        plr = q_evap / q_avail
        cycling = np.where(plr < self.plr_min, plr / self.plr_min, 1.0)
        p = q_avail / self.cop * biquadratic(self.eir, x, y) * quadratic(self.plr, np.maximum(plr, self.plr_min)) * cycling
        return np.where(q_evap > 0, p, 0.0), q_evap, plr, q_avail
