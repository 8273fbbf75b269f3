"""Pumps, motors and variable-frequency drives, and cooling-tower fans.

* Affinity laws (speed ratio s): Q ~ s, H ~ s^2, P_shaft ~ s^3 at similar operating points.
  The operating point is where the pump curve H = s^2 H_shutoff - c Q^2 meets the system curve
  H = H_min + (H_design - H_min) (Q/Q_design)^2 (a differential-pressure setpoint H_min keeps
  the cube law from holding; reference/plant-physics-and-data.md section 2.3).
* Wire-to-water power P_elec = rho g Q H / (eta_pump eta_motor eta_VFD).
* VFD efficiency (Bernier & Bourret 1999, "Pumping energy and variable frequency drives",
  ASHRAE Journal; polynomial form as used in third-party code citing the paper, flagged in the
  reference note as "check against the paper"): eta_VFD(s) = 0.5087 + 1.283 s - 1.42 s^2 + 0.5834 s^3.
* Motor efficiency vs speed (same third-party code): eta_m(s) = 0.9695 (1 - exp(-9.4625 s)).
* Pump efficiency speed correction (same code): 0.816 + 0.403 s - 0.218 s^2 (~1.0 at s = 1).
* EnergyPlus ``Pump:VariableSpeed`` part-load curves used by NREL openstudio-standards for
  ASHRAE 90.1 App. G (``PumpVariableSpeed.rb``): P/P_design = C1 + C2 f + C3 f^2 + C4 f^3; kept
  here as a cross-check (tests compare the physical model with them).
* Fan affinity law for tower fans: P = P_design FR_air^3 (reference note section 2.2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

G_M_PER_S2 = 9.80665
RHO_WATER = 998.0

PUMP_CURVE_90_1 = {
    "constant_flow": (0.0, 1.0, 0.0, 0.0),
    "riding_curve": (0.0, 3.2485, -4.7443, 2.5294),
    "vsd_fixed_dp": (0.0, 0.5726, -0.301, 0.7347),
    "vsd_dp_reset": (0.0, 0.0205, 0.4101, 0.5753),
}


def part_load_curve_90_1(kind: str, flow_fraction):
    """ASHRAE 90.1 App. G pump part-load power fraction (openstudio-standards coefficients)."""
    c1, c2, c3, c4 = PUMP_CURVE_90_1[kind]
    f = np.asarray(flow_fraction, dtype=float)
    return c1 + c2 * f + c3 * f ** 2 + c4 * f ** 3


def vfd_efficiency(speed):
    """VFD efficiency vs speed fraction (Bernier & Bourret 1999 form). 0.955 at s = 1."""
    s = np.clip(speed, 0.05, 1.1)
    return 0.5087 + 1.283 * s - 1.42 * s * s + 0.5834 * s ** 3


def motor_efficiency(speed):
    """Motor efficiency vs speed fraction, 0.9695 (1 - exp(-9.4625 s))."""
    return 0.9695 * (1.0 - np.exp(-9.4625 * np.clip(speed, 0.05, 1.1)))


def pump_efficiency_correction(speed):
    """Pump hydraulic-efficiency correction vs speed, 0.816 + 0.403 s - 0.218 s^2 (1.001 at s = 1)."""
    s = np.clip(speed, 0.05, 1.1)
    return 0.816 + 0.403 * s - 0.218 * s * s


@dataclass(frozen=True)
class PumpSpec:
    """A centrifugal pump at design: flow, head, pump efficiency; shut-off head 1.25 x design."""

    design_flow_m3_per_h: float
    design_head_m: float
    pump_efficiency: float = 0.80
    shutoff_head_ratio: float = 1.25
    has_vfd: bool = True

    @property
    def rated_power_kw(self) -> float:
        """Electric input at design flow and head, full speed [kW]."""
        return self.power_at(self.design_flow_m3_per_h, self.design_head_m, 1.0)

    def power_at(self, flow_m3_per_h, head_m, speed):
        q = np.asarray(flow_m3_per_h, dtype=float) / 3600.0
        hyd_kw = RHO_WATER * G_M_PER_S2 * q * np.asarray(head_m) / 1000.0
        drive = vfd_efficiency(speed) if self.has_vfd else 1.0
        eta = self.pump_efficiency * pump_efficiency_correction(speed) * motor_efficiency(speed) * drive
        return hyd_kw / eta


def pump_speed_for(spec: PumpSpec, flow_per_pump_m3_per_h, head_m):
    """Speed fraction at which the pump delivers the flow at the head (affinity-scaled curve)."""
    h0 = spec.shutoff_head_ratio * spec.design_head_m
    c = (h0 - spec.design_head_m) / spec.design_flow_m3_per_h ** 2
    s2 = (np.asarray(head_m) + c * np.asarray(flow_per_pump_m3_per_h) ** 2) / h0
    return np.sqrt(np.maximum(s2, 0.0))


def system_head_m(flow_m3_per_h, design_flow_m3_per_h, design_head_m, min_head_m):
    """System curve with a DP setpoint: H = H_min + (H_design - H_min) (Q/Q_design)^2."""
    f = np.asarray(flow_m3_per_h, dtype=float) / design_flow_m3_per_h
    return min_head_m + (design_head_m - min_head_m) * f * f


def flow_at_speed_m3_per_h(spec: PumpSpec, speed, n_running, design_flow_m3_per_h, design_head_m, min_head_m):
    """Total flow [m3/h] of n identical pumps at a speed fraction against the system curve.

    Solves s^2 H0 - c (Q/n)^2 = H_min + k Q^2 for Q (closed form), 0 if the pumps cannot lift H_min.
    """
    h0 = spec.shutoff_head_ratio * spec.design_head_m
    c = (h0 - spec.design_head_m) / spec.design_flow_m3_per_h ** 2
    k = (design_head_m - min_head_m) / design_flow_m3_per_h ** 2
    n = np.maximum(np.asarray(n_running, dtype=float), 1e-9)
    s = np.asarray(speed, dtype=float)
    q2 = (s * s * h0 - min_head_m) / (c / (n * n) + k)
    return np.where(np.asarray(n_running) > 0, np.sqrt(np.maximum(q2, 0.0)), 0.0)


def pump_group_power_kw(spec: PumpSpec, total_flow_m3_per_h, n_running, head_m):
    """Total electric power [kW] and speed of n identical parallel pumps sharing the flow."""
    n = np.asarray(n_running, dtype=float)
    per = np.where(n > 0, np.asarray(total_flow_m3_per_h) / np.maximum(n, 1), 0.0)
    speed = np.where(n > 0, pump_speed_for(spec, per, head_m), 0.0)
    power = np.where(n > 0, n * spec.power_at(per, head_m, np.maximum(speed, 0.05)), 0.0)
    return power, speed


def fan_power_kw(design_kw: float, air_flow_ratio):
    """Tower fan power by the fan affinity law P = P_design FR^3 [kW] (VFD fan)."""
    fr = np.clip(air_flow_ratio, 0.0, 1.0)
    return design_kw * fr ** 3
