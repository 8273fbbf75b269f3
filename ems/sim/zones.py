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

from dataclasses import dataclass

import numpy as np

from ems.sim.psychro import CP_AIR_KJ_PER_KG_K, H_FG_KJ_PER_KG, saturation_humidity_ratio

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
    solar_factor: float = 0.03      # kW of gain per kW/m2 of GHI per m2 of roof
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
        self.m_inf = 0.1 * self.m_oa
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


def coil_max_sensible_kw(za: ZoneArrays, t_mix_c, chws_c):
    """Air-side sensible capacity of each zone's coil [kW] at the CHW supply temperature."""
    return np.maximum(COIL_EFFECTIVENESS * za.m_sa * CP_AIR_KJ_PER_KG_K * (t_mix_c - chws_c), 0.0)


def zone_step(za: ZoneArrays, t_z, w_z, *, outdoor_c, outdoor_w, ghi_w_m2, intensity, hvac_on, lights_on,
              chws_c, dt_s, heating_available=False, coil_limit_kw=np.inf, heating_limit_kw=np.inf):
    """Advance every zone by one step. Returns a dict of new states and loads (arrays over zones).

    coil_limit_kw: total (sensible + latent) cooling the CHW plant can deliver to all coils this
    step; coil loads are scaled down proportionally above it.
    """
    hv = 1.0 if hvac_on else 0.0
    cdt = za.c / dt_s
    gain = (za.proc_kw * intensity + za.light_kw * (1.0 if lights_on else 0.1) + 0.075 * za.people * intensity
            + za.solar * ghi_w_m2 / 1000.0 + za.fan_kw * hv)
    g_air = (za.m_oa * hv + za.m_inf * (1.0 - hv)) * CP_AIR_KJ_PER_KG_K
    g = za.ua + g_air
    base = cdt * t_z + gain + g * outdoor_c
    den = cdt + g
    t_free = base / den
    q_cool_req = np.maximum(base - den * za.t_cool, 0.0) * hv

    x_oa = za.m_oa / za.m_sa
    t_mix = x_oa * outdoor_c + (1.0 - x_oa) * t_z
    w_mix = x_oa * outdoor_w + (1.0 - x_oa) * w_z
    q_sens = np.minimum(q_cool_req, coil_max_sensible_kw(za, t_mix, chws_c)) * hv
    # latent: leaving-air humidity from the coil's effective surface temperature
    t_la = t_mix - q_sens / (za.m_sa * CP_AIR_KJ_PER_KG_K)
    t_surf = chws_c + COIL_SURFACE_FRACTION * (t_la - chws_c)
    w_la = np.where(q_sens > 0, np.minimum(w_mix, COIL_BYPASS_FACTOR * w_mix
                                           + (1 - COIL_BYPASS_FACTOR) * saturation_humidity_ratio(t_surf)), w_mix)
    q_lat = za.m_sa * (w_mix - w_la) * H_FG_KJ_PER_KG * hv
    total = q_sens + q_lat
    scale = min(1.0, float(coil_limit_kw) / max(float(total.sum()), 1e-9))
    q_sens, q_lat, w_la = q_sens * scale, q_lat * scale, w_mix - (w_mix - w_la) * scale

    heat_setpoint = za.t_heat if hvac_on else za.t_setback
    q_heat = np.maximum(den * heat_setpoint - base, 0.0) if heating_available else np.zeros(za.n)
    hscale = min(1.0, float(heating_limit_kw) / max(float(q_heat.sum()), 1e-9))
    q_heat = q_heat * hscale
    t_new = (base - q_sens + q_heat) / den

    mdt = za.m_moist / dt_s
    lat_in = za.proc_lat_kg_s * intensity + 0.0001 * za.people * intensity  # ~100 g/h per worker
    m_flow = za.m_sa * hv + za.m_inf * (1.0 - hv)
    w_in = np.where(hv > 0, w_la, outdoor_w)
    w_new = (mdt * w_z + m_flow * w_in + lat_in) / (mdt + m_flow)
    return {"t_c": t_new, "w": w_new, "q_sens_kw": q_sens, "q_lat_kw": q_lat, "q_coil_kw": q_sens + q_lat,
            "q_heat_kw": q_heat, "t_free_c": t_free, "ahu_kw": za.fan_kw * hv,
            "lighting_kw": za.light_kw * (1.0 if lights_on else 0.1)}
