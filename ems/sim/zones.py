"""Air-conditioned workshops: lumped RC thermal and moisture model with an AHU cooling coil.

Each zone is one well-mixed air node coupled to a lumped thermal capacitance (air, structure and
contents), with:

* envelope conductance UA [kW/K] to outdoors and solar gain through the roof (GHI x factor),
* internal gains from the production schedule (process heat to space, people), lighting and the
  AHU fan heat,
* outdoor air at the AHU while the HVAC runs (infiltration otherwise),
* a chilled-water coil: sensible capacity Q_max = eps m_sa cp (T_mix - T_chws) (effectiveness
  model, eps = 0.8 at design); the valve holds the cooling setpoint when it can;
* moisture: latent gains from people and process; the coil dries the air to the saturation
  humidity at an effective surface temperature between the CHW supply and the coil leaving-air
  temperature (bypass factor 0.1). A warmer chilled-water supply therefore both lowers the coil
  capacity (zone runs warmer on hot days) and dries less (zone runs more humid);
* optional heating from a hot-water coil (boiler) to a heating setpoint.

The update is backward Euler over the step (stable for any step length). This is a textbook
lumped-parameter model (e.g. ASHRAE Handbook Fundamentals 2017 ch. 19, simplified); the
parameters in the demo plants are engineering estimates, not measured.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ems.sim.psychro import CP_AIR_KJ_PER_KG_K, H_FG_KJ_PER_KG, MAGNUS_A, MAGNUS_B_C, MAGNUS_E0_PA

COIL_EFFECTIVENESS = 0.8
COIL_BYPASS_FACTOR = 0.1
COIL_SURFACE_FRACTION = 0.35   # surface temp = T_chws + 0.35 (T_leaving_air - T_chws)
RHO_AIR = 1.2
MOISTURE_BUFFER = 6.0          # hygroscopic buffering of contents, x air moisture mass


@dataclass(frozen=True)
class ZoneSpec:
    code: str
    name_zh: str
    name_en: str
    floor_area_m2: float
    height_m: float
    ua_kw_per_k: float
    capacitance_kj_per_k_m2: float
    process_heat_kw: float          # to the space at full production
    process_latent_kg_per_h: float  # moisture to the space at full production
    lighting_kw: float
    people: int
    oa_kg_per_s: float              # outdoor air while the HVAC runs
    supply_air_kg_per_s: float
    ahu_fan_kw: float
    solar_factor: float = 0.015     # kW of gain per kW/m2 of GHI per m2 of roof (sol-air through an insulated roof + skylights)
    cooling_setpoint_c: float = 26.0
    heating_setpoint_c: float = 16.0
    setback_heating_c: float = 8.0
    process_chw_kw: float = 0.0     # process cooling water load on the CHW loop at full production
    lines: int = 2
    units_per_h_per_line: float = 60.0

    @property
    def capacitance_kj_per_k(self) -> float:
        return self.capacitance_kj_per_k_m2 * self.floor_area_m2

    @property
    def moisture_mass_kg(self) -> float:
        return RHO_AIR * self.floor_area_m2 * self.height_m * MOISTURE_BUFFER


class ZoneArrays:
    """Zone parameters stacked as arrays so one step updates every zone at once."""

    def __init__(self, zones: tuple[ZoneSpec, ...]):
        f = lambda name: np.array([getattr(z, name) for z in zones], dtype=float)  # noqa: E731
        self.n = len(zones)
        self.c = f("capacitance_kj_per_k")
        self.ua = f("ua_kw_per_k")
        self.m_oa = f("oa_kg_per_s")
        self.m_sa = f("supply_air_kg_per_s")
        self.m_inf = 0.3 * self.m_oa
        self.fan_kw = f("ahu_fan_kw")
        self.proc_kw = f("process_heat_kw")
        self.proc_lat_kg_s = f("process_latent_kg_per_h") / 3600.0
        self.light_kw = f("lighting_kw")
        self.people = f("people")
        self.solar = f("solar_factor") * f("floor_area_m2")
        self.t_cool = f("cooling_setpoint_c")
        self.t_heat = f("heating_setpoint_c")
        self.t_setback = f("setback_heating_c")
        self.m_moist = f("moisture_mass_kg")
        self.process_chw_kw = f("process_chw_kw")
        # plain-float copies for the scalar step kernel
        for name in ("c", "ua", "m_oa", "m_sa", "m_inf", "fan_kw", "proc_kw", "proc_lat_kg_s", "light_kw", "people",
                     "solar", "t_cool", "t_heat", "t_setback", "m_moist"):
            setattr(self, name.replace("_kw", "").replace("_kg_s", "") + "_l", getattr(self, name).tolist())


def coil_max_sensible_kw(za: ZoneArrays, t_mix_c, chws_c):
    """Air-side sensible capacity of each zone's coil [kW] at the CHW supply temperature."""
    return np.maximum(COIL_EFFECTIVENESS * za.m_sa * CP_AIR_KJ_PER_KG_K * (t_mix_c - chws_c), 0.0)


def _w_sat(t_c: float) -> float:
    """Saturation humidity ratio at 101.325 kPa (scalar form of psychro.saturation_humidity_ratio)."""
    pw = MAGNUS_E0_PA * math.exp(MAGNUS_A * t_c / (t_c + MAGNUS_B_C))
    return 0.621945 * pw / (101325.0 - pw)


def zone_step(za: ZoneArrays, t_z, w_z, *, outdoor_c, outdoor_w, ghi_w_m2, intensity, hvac_on, lights_on,
              chws_c, dt_s, heating_available=False, coil_limit_kw=math.inf, heating_limit_kw=math.inf):
    """Advance every zone by one step. Returns a dict of new states and loads (arrays over zones).

    coil_limit_kw: total (sensible + latent) cooling the CHW plant can deliver to all coils this
    step; coil loads are scaled down proportionally above it. Scalar Python arithmetic per zone:
    for a handful of zones this is several times faster than numpy on tiny arrays.
    """
    hv = 1.0 if hvac_on else 0.0
    light_f = 1.0 if lights_on else 0.1
    to, wo, chws = float(outdoor_c), float(outdoor_w), float(chws_c)
    res = []
    for i in range(za.n):
        tz, wz = float(t_z[i]), float(w_z[i])
        cdt = za.c_l[i] / dt_s
        gain = (za.proc_l[i] * intensity + za.light_l[i] * light_f + 0.075 * za.people_l[i] * intensity
                + za.solar_l[i] * ghi_w_m2 / 1000.0 + za.fan_l[i] * hv)
        g = za.ua_l[i] + (za.m_oa_l[i] * hv + za.m_inf_l[i] * (1.0 - hv)) * CP_AIR_KJ_PER_KG_K
        base = cdt * tz + gain + g * to
        den = cdt + g
        q_req = max(base - den * za.t_cool_l[i], 0.0) * hv
        msa = za.m_sa_l[i]
        x = za.m_oa_l[i] / msa
        t_mix = x * to + (1.0 - x) * tz
        w_mix = x * wo + (1.0 - x) * wz
        q_max = max(COIL_EFFECTIVENESS * msa * CP_AIR_KJ_PER_KG_K * (t_mix - chws), 0.0)
        q_sens = min(q_req, q_max) * hv
        if q_sens > 0:
            t_la = t_mix - q_sens / (msa * CP_AIR_KJ_PER_KG_K)
            t_surf = chws + COIL_SURFACE_FRACTION * (t_la - chws)
            w_la = min(w_mix, COIL_BYPASS_FACTOR * w_mix + (1 - COIL_BYPASS_FACTOR) * _w_sat(t_surf))
        else:
            w_la = w_mix
        q_lat = msa * (w_mix - w_la) * H_FG_KJ_PER_KG * hv
        res.append([tz, wz, base, den, q_sens, q_lat, w_mix, w_la])
    total = sum(r[4] + r[5] for r in res)
    scale = min(1.0, float(coil_limit_kw) / max(total, 1e-9))
    heat_sp = za.t_heat_l if hvac_on else za.t_setback_l
    q_heat = [max(r[3] * heat_sp[i] - r[2], 0.0) if heating_available else 0.0 for i, r in enumerate(res)]
    hscale = min(1.0, float(heating_limit_kw) / max(sum(q_heat), 1e-9))
    out = {k: np.empty(za.n) for k in ("t_c", "w", "q_sens_kw", "q_lat_kw", "q_coil_kw", "q_heat_kw", "t_free_c")}
    for i, (_tz, wz, base, den, q_sens, q_lat, w_mix, w_la) in enumerate(res):
        q_sens, q_lat = q_sens * scale, q_lat * scale
        w_la = w_mix - (w_mix - w_la) * scale
        qh = q_heat[i] * hscale
        mdt = za.m_moist_l[i] / dt_s
        lat_in = za.proc_lat_l[i] * intensity + 0.0001 * za.people_l[i] * intensity  # ~100 g/h per worker
        m_flow = za.m_sa_l[i] * hv + za.m_inf_l[i] * (1.0 - hv)
        w_in = w_la if hv > 0 else wo
        out["t_c"][i] = (base - q_sens + qh) / den
        out["w"][i] = (mdt * wz + m_flow * w_in + lat_in) / (mdt + m_flow)
        out["q_sens_kw"][i], out["q_lat_kw"][i], out["q_coil_kw"][i] = q_sens, q_lat, q_sens + q_lat
        out["q_heat_kw"][i], out["t_free_c"][i] = qh, base / den
    out["ahu_kw"] = za.fan_kw * hv
    out["lighting_kw"] = za.light_kw * light_f
    return out
