"""Compressed-air station: screw compressors (load/unload and VSD), receiver, dryers, leaks.

Part-load models follow DOE MEASUR / AMO-Tools-Suite (ORNL-AMO/AMO-Tools-Suite,
``include/calculator/util/Compressors.h`` / ``src/calculator/util/Compressors.cpp``;
reference/plant-physics-and-data.md section 2.4). C = capacity fraction, P = power fraction of
full-load package power.

* Load/unload lubricant-injected screw: loaded at full power for a fraction C of the time,
  unloaded at ``no_load_fraction`` (MEASUR example: 17 %) otherwise, plus the blowdown loss of each
  unload (MEASUR example blowdown 40 s; modelled as an extra (1 - no_load) x 15 s of full-power-
  equivalent per cycle). The cycle period comes from the receiver: pump-up time
  V dP / (P_atm (Q_c - Q_d)) plus unload time V dP / (P_atm Q_d), the same storage relation
  MEASUR uses (pump-up from receiver volume, atmospheric pressure and capacity). This is a
  simplified form of MEASUR's cycle model, not its 77-point polynomial.
* VFD screw (MEASUR ``compressorsVFDTest`` machine, 100 psig): linear from no-load power
  (11.2 kW at C = 0) to the turndown point (55.8 kW at 202 acfm), then the quadratic through
  turndown, mid-turndown (115 kW at 605 acfm) and full load (174.4 kW at 1009 acfm).
* Discharge-pressure correction (MEASUR): kW ~ [(P_d/P_in)^((n-1)/n) - 1], n = 1.4; capacity x
  (1 - 0.00075 dP_psi).
* Example machines: MEASUR load/unload inventory example, 89.5 kW at 457 acfm (12.9 m3/min),
  115 psig (7.9 barg), no-load 17 %; MEASUR VFD test machine above (28.6 m3/min).
* Leaks and unregulated end uses behave as fixed orifices: choked flow proportional to the
  absolute upstream pressure, so a higher header pressure raises the demand.
* Desiccant dryers: heatless (pressure-swing) dryers purge a fixed share of their rated flow
  while running (typically about 15 %, Compressed Air Challenge "Best Practices" - value
  recalled, [R]); heated-blower dryers purge ~2 % and use heater/blower power.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

P_ATM_BAR = 1.01325
PSI_PER_BAR = 14.5038
N_POLY = 1.4
BLOWDOWN_EQUIV_S = 15.0


@dataclass(frozen=True)
class CompressorSpec:
    code: str
    control: str                 # 'load_unload' or 'vsd'
    full_load_kw: float
    capacity_m3_per_min: float   # free air delivery at rated pressure
    rated_pressure_barg: float
    no_load_fraction: float = 0.17
    # VFD curve points as capacity fraction, power fraction (MEASUR compressorsVFDTest)
    vsd_turndown: tuple[float, float] = (202 / 1009, 55.8 / 174.4)
    vsd_mid: tuple[float, float] = (605 / 1009, 115.0 / 174.4)
    vsd_no_load: float = 11.2 / 174.4

    def scaled(self, code: str, capacity_m3_per_min: float) -> CompressorSpec:
        k = capacity_m3_per_min / self.capacity_m3_per_min
        return CompressorSpec(code, self.control, self.full_load_kw * k, capacity_m3_per_min, self.rated_pressure_barg,
                              self.no_load_fraction, self.vsd_turndown, self.vsd_mid, self.vsd_no_load)


MEASUR_LOAD_UNLOAD = CompressorSpec("LU-89.5kW", "load_unload", 89.5, 457 * 0.0283168, 7.9)
MEASUR_VSD = CompressorSpec("VSD-174.4kW", "vsd", 174.4, 1009 * 0.0283168, 6.9, no_load_fraction=11.2 / 174.4)


@dataclass(frozen=True)
class DryerSpec:
    code: str
    kind: str                    # 'heatless' or 'heated_blower'
    rated_m3_per_min: float
    purge_fraction: float
    electric_kw: float


def pressure_power_factor(p_barg, rated_barg):
    """Full-load power at p_barg relative to rated (MEASUR polytropic correction, n = 1.4)."""
    e = (N_POLY - 1) / N_POLY
    return (((np.asarray(p_barg) + P_ATM_BAR) / P_ATM_BAR) ** e - 1) / (((rated_barg + P_ATM_BAR) / P_ATM_BAR) ** e - 1)


def pressure_capacity_factor(p_barg, rated_barg):
    """Capacity at p_barg relative to rated: 1 - 0.00075 per psi above rated (MEASUR)."""
    return 1.0 - 0.00075 * (np.asarray(p_barg) - rated_barg) * PSI_PER_BAR


def vsd_power_fraction(spec: CompressorSpec, c):
    """MEASUR VFD model: linear to turndown, quadratic through turndown, mid and full load."""
    c = np.clip(c, 0.0, 1.0)
    (c1, p1), (c2, p2), (c3, p3) = spec.vsd_turndown, spec.vsd_mid, (1.0, 1.0)
    lin = spec.vsd_no_load + (p1 - spec.vsd_no_load) * c / c1
    # Lagrange form of the quadratic through the three points
    quad = (p1 * (c - c2) * (c - c3) / ((c1 - c2) * (c1 - c3)) + p2 * (c - c1) * (c - c3) / ((c2 - c1) * (c2 - c3))
            + p3 * (c - c1) * (c - c2) / ((c3 - c1) * (c3 - c2)))
    return np.where(c < c1, lin, quad)


def load_unload_cycle_s(capacity_m3_per_min, c, storage_m3, band_bar):
    """Load/unload cycle period [s] from receiver storage (pump-up + unload times)."""
    q = np.asarray(capacity_m3_per_min) / 60.0
    c = np.clip(c, 1e-3, 1 - 1e-3)
    k = storage_m3 * band_bar / P_ATM_BAR
    return k / (q * (1 - c)) + k / (q * c)


def load_unload_power_fraction(spec: CompressorSpec, c, storage_m3, band_bar):
    """Average power fraction of a load/unload screw at capacity fraction c (0 = stopped)."""
    c = np.clip(c, 0.0, 1.0)
    period = load_unload_cycle_s(spec.capacity_m3_per_min, c, storage_m3, band_bar)
    cycling = (c > 0) & (c < 1)
    blowdown = np.where(cycling, (1 - spec.no_load_fraction) * np.minimum(BLOWDOWN_EQUIV_S, (1 - c) * period) / period, 0.0)
    p = c + (1 - c) * spec.no_load_fraction + blowdown
    return np.where(c > 0, np.minimum(p, 1.0), 0.0)


def power_fraction(spec: CompressorSpec, c, storage_m3, band_bar):
    if spec.control == "vsd":
        return np.where(np.asarray(c) > 0, vsd_power_fraction(spec, c), 0.0)
    return load_unload_power_fraction(spec, c, storage_m3, band_bar)


@dataclass(frozen=True)
class AirStationSpec:
    compressors: tuple[CompressorSpec, ...]
    dryers: tuple[DryerSpec, ...]
    storage_m3: float = 15.0           # receiver + piping
    band_bar: float = 0.6               # load/unload pressure band
    cascade_step_bar: float = 0.15      # each later machine in a cascade cuts in this much lower
    leak_m3_per_min_at_7barg: float = 6.0
    unregulated_share: float = 0.3      # share of production demand that rises with pressure


def station_demand_m3_per_min(spec: AirStationSpec, production_m3_per_min, header_barg):
    """Free-air demand [m3/min]: production use + leaks + dryer purge at the header pressure."""
    pr = (np.asarray(header_barg) + P_ATM_BAR) / (7.0 + P_ATM_BAR)
    use = np.asarray(production_m3_per_min) * (1 - spec.unregulated_share + spec.unregulated_share * pr)
    leaks = spec.leak_m3_per_min_at_7barg * pr
    purge = sum(d.rated_m3_per_min * d.purge_fraction for d in spec.dryers)
    return use + leaks + purge, use, leaks, np.full(np.shape(use), purge)


def simulate_air_station(spec: AirStationSpec, production_m3_per_min, pressure_setpoint_barg=6.5,
                         order: tuple[int, ...] | None = None, trim: int | None = None) -> dict[str, np.ndarray]:
    """Allocate demand to compressors and compute power (vectorised over time).

    order: machine indices in loading order (default: spec order = baseline cascade).
    trim: index of the machine that trims (takes the remainder) while the others load fully
          in order; None = plain cascade (each machine loads in turn, the last one cycles).
    pressure_setpoint_barg: cut-in pressure of the lead machine (cascade) or the VSD target.
    """
    prod = np.asarray(production_m3_per_min, dtype=float).ravel()
    t = prod.size
    p_set = np.broadcast_to(np.asarray(pressure_setpoint_barg, dtype=float), (t,))
    n = len(spec.compressors)
    order = tuple(range(n)) if order is None else tuple(order)
    comps = spec.compressors
    # header pressure estimate: cascade -> mid-band of the trim machine; VSD trim -> setpoint
    header = p_set + spec.band_bar / 2
    for _ in range(2):
        demand, use, leaks, purge = station_demand_m3_per_min(spec, prod, header)
        caps = np.stack([comps[i].capacity_m3_per_min * pressure_capacity_factor(header + spec.band_bar / 2,
                                                                                  comps[i].rated_pressure_barg)
                         for i in range(n)], axis=1)  # (T, N), column = machine index
        load = np.zeros((t, n))
        if trim is None:
            remaining = demand.copy()
            trim_idx = np.full(t, order[0])
            for k, i in enumerate(order):
                take = np.minimum(remaining, caps[:, i])
                load[:, i] = take
                trim_idx = np.where((take > 0) & (take < caps[:, i] - 1e-9), i, trim_idx)
                trim_idx = np.where((remaining > 0) & (k == len(order) - 1) & (take >= caps[:, i] - 1e-9), i, trim_idx)
                remaining = remaining - take
            # stagger: later machines in the cascade cut in lower
            pos = np.array([order.index(i) for i in range(n)])[trim_idx]
            header_new = p_set - spec.cascade_step_bar * pos + spec.band_bar / 2
            unmet = remaining
        else:
            base = [i for i in order if i != trim]
            need_base = np.maximum(demand - caps[:, trim], 0.0)
            remaining = need_base
            for i in base:
                full = remaining > 0
                load[:, i] = np.where(full, caps[:, i], 0.0)
                remaining = remaining - load[:, i]
            load[:, trim] = np.minimum(np.maximum(demand - load.sum(axis=1), 0.0), caps[:, trim])
            unmet = np.maximum(demand - load.sum(axis=1), 0.0)
            trim_idx = np.full(t, trim)
            is_vsd = comps[trim].control == "vsd"
            header_new = p_set if is_vsd else p_set + spec.band_bar / 2
        header = np.broadcast_to(header_new, (t,)).astype(float)
    frac = load / np.maximum(caps, 1e-9)
    kw = np.zeros((t, n))
    for i, c in enumerate(comps):
        ppf = pressure_power_factor(header + spec.band_bar / 2 if c.control != "vsd" else header, c.rated_pressure_barg)
        kw[:, i] = c.full_load_kw * ppf * power_fraction(c, frac[:, i], spec.storage_m3, spec.band_bar)
    trim_frac = frac[np.arange(t), trim_idx]
    trim_is_lu = np.array([comps[i].control != "vsd" for i in range(n)])[trim_idx]
    period = np.where(trim_is_lu, load_unload_cycle_s(caps[np.arange(t), trim_idx], trim_frac, spec.storage_m3,
                                                      spec.band_bar), np.inf)
    dryer_kw = np.array([d.electric_kw for d in spec.dryers])
    on = demand > 0
    return {
        "compressor_kw": kw, "compressor_load_m3_per_min": load, "compressor_fraction": frac,
        "delivered_m3_per_min": load.sum(axis=1), "demand_m3_per_min": demand, "use_m3_per_min": use,
        "leak_m3_per_min": leaks, "purge_m3_per_min": purge, "unmet_m3_per_min": unmet,
        "header_barg": header, "trim_index": trim_idx, "trim_fraction": trim_frac, "cycle_s": period,
        "trim_is_load_unload": trim_is_lu, "cut_in_barg": header - spec.band_bar / 2,
        "dryer_kw": np.outer(on, dryer_kw), "station_kw": kw.sum(axis=1) + (np.outer(on, dryer_kw)).sum(axis=1),
    }


def header_pressure_1min(result: dict[str, np.ndarray], step_s: int, band_bar: float, rng: np.random.Generator,
                         noise_bar: float = 0.02) -> np.ndarray:
    """1-minute samples of header pressure [barg] within each step (sawtooth for load/unload trim).

    While a load/unload machine trims, pressure climbs from cut-in to cut-out during its loaded
    part of the cycle and falls back while unloaded; the cycle phase advances continuously, so
    1-minute sampling sees the band the way a SCADA poll does. A VSD trim holds the setpoint.
    """
    per = step_s // 60
    t = result["header_barg"].size
    cycle = np.repeat(np.where(np.isfinite(result["cycle_s"]), result["cycle_s"], 1e9), per)
    phase = np.cumsum(60.0 / cycle) % 1.0
    c = np.clip(np.repeat(result["trim_fraction"], per), 0.02, 0.98)
    tri = np.where(phase < c, phase / c, (1 - phase) / (1 - c))
    lu = np.repeat(result["trim_is_load_unload"], per)
    cut_in = np.repeat(result["cut_in_barg"], per)
    p = np.where(lu, cut_in + band_bar * tri, np.repeat(result["header_barg"], per))
    return p + rng.normal(0.0, noise_bar, t * per)
