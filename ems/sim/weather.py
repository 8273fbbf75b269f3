"""Typical-year weather for the demo sites, derived from the TMY3 file shipped inside pvlib.

Source data: NREL NSRDB TMY3 station 723170 (Greensboro NC, 36.10 N, 79.95 W, 273 m, UTC-5),
``pvlib/data/723170TYA.CSV`` in the installed pvlib package (public domain), read with
``pvlib.iotools.read_tmy3``. Never read from a shared data folder: the file travels with pvlib.

Site transform (documented in docs/demo-plant.md). For each site we keep the TMY3 weather
*sequence* (fronts, cloudy days, diurnal shape) and move it to the site's climate:

1. Clock: TMY3 rows are hour-ending local standard time (UTC-5). The series is re-labelled to the
   site's local clock, shifted by the solar-time difference 4 min/deg x ((lon - zone meridian)_site -
   (lon - zone meridian)_tmy), so that sunrise in the data matches sunrise at the site.
2. Dry-bulb: T_site = T_dailymean_tmy + offset(month) + k_diurnal x (T_tmy - T_dailymean_tmy).
   offset(month) moves the TMY3 monthly mean onto the site's monthly mean normal; offsets are
   interpolated between mid-month anchors. k_diurnal < 1 narrows the daily swing (maritime sites).
3. Humidity: the dew-point depression (T - Td) is scaled month by month onto the site's typical
   depression (capped at a site maximum dew point), then RH follows from T and Td (Magnus, see :mod:`ems.sim.psychro`).
4. Irradiance: GHI/DNI/DHI scaled by a constant factor (annual-total adjustment) and zeroed while
   the sun is below the site's horizon.
5. Pressure: reduced to the site altitude with an 8.4 km scale height.

The site monthly normals below are approximate climate normals recalled from public CMA
summaries (not re-checked here; tagged [R]). They only make the two sites *plausibly* different
climates (a temperate coastal northern site, a hot humid southern site); the twin is synthetic.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from ems.sim import psychro

TMY_LON = -79.95
TMY_ZONE_MERIDIAN = -75.0
TMY_ALT_M = 273.0
_MID_MONTH_DOY = np.array([15.5, 45, 74.5, 105, 135.5, 166, 196.5, 227.5, 258, 288.5, 319, 349.5])


@dataclass(frozen=True)
class Site:
    """A site climate: location and the monthly targets the TMY3 sequence is moved onto."""

    code: str
    latitude: float
    longitude: float
    altitude_m: float
    timezone: str
    utc_offset_h: float
    monthly_mean_temp_c: tuple[float, ...]          # 12 values, Jan..Dec [R]
    monthly_dew_point_depression_k: tuple[float, ...]  # 12 values [R]
    diurnal_scale: float = 1.0
    irradiance_scale: float = 1.0
    max_dew_point_c: float = 26.0                   # cap on the scaled dew point [R]


QINGDAO_LIKE = Site(
    code="QD", latitude=36.07, longitude=120.38, altitude_m=77.0, timezone="Asia/Shanghai", utc_offset_h=8.0,
    monthly_mean_temp_c=(-0.5, 1.5, 6.0, 11.5, 17.0, 21.0, 24.5, 25.5, 22.0, 16.5, 9.0, 2.0),
    monthly_dew_point_depression_k=(7.0, 7.0, 7.0, 6.0, 5.0, 3.5, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0),
    diurnal_scale=0.75, irradiance_scale=0.93, max_dew_point_c=25.0,
)
FOSHAN_LIKE = Site(
    code="FS", latitude=23.02, longitude=113.12, altitude_m=15.0, timezone="Asia/Shanghai", utc_offset_h=8.0,
    monthly_mean_temp_c=(13.5, 15.0, 18.0, 22.5, 26.0, 28.0, 29.0, 29.0, 27.5, 24.5, 20.0, 15.0),
    monthly_dew_point_depression_k=(6.0, 4.5, 3.5, 3.0, 3.0, 3.0, 3.5, 3.5, 4.0, 5.0, 6.0, 6.5),
    diurnal_scale=0.8, irradiance_scale=0.82, max_dew_point_c=26.5,
)
SITES = {s.code: s for s in (QINGDAO_LIKE, FOSHAN_LIKE)}


def tmy3_path() -> str:
    """Path of the TMY3 file inside the installed pvlib package."""
    import pvlib

    return os.path.join(os.path.dirname(pvlib.__file__), "data", "723170TYA.CSV")


@lru_cache(maxsize=1)
def load_tmy3() -> pd.DataFrame:
    """The TMY3 year as 8760 hourly rows in calendar order (row i = hour ending i+1 of the year)."""
    import pvlib

    df, _meta = pvlib.iotools.read_tmy3(tmy3_path(), map_variables=True)
    cols = ["temp_air", "temp_dew", "relative_humidity", "pressure", "wind_speed", "ghi", "dni", "dhi"]
    out = df[cols].reset_index(drop=True).astype(float)
    if len(out) != 8760:
        raise RuntimeError(f"TMY3 file has {len(out)} rows, expected 8760")
    return out


def _cyclic_interp(values: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Linear interpolation of a cyclic hourly series at fractional row positions."""
    n = len(values)
    lo = np.floor(pos).astype(int)
    frac = pos - lo
    return values[lo % n] * (1 - frac) + values[(lo + 1) % n] * frac


def _monthly_interp(monthly: np.ndarray, doy: np.ndarray) -> np.ndarray:
    """Interpolate 12 mid-month anchors to day-of-year (cyclic)."""
    x = np.concatenate([[_MID_MONTH_DOY[-1] - 365], _MID_MONTH_DOY, [_MID_MONTH_DOY[0] + 365]])
    y = np.concatenate([[monthly[-1]], monthly, [monthly[0]]])
    return np.interp(doy, x, y)


def site_weather(site: Site, interval_end: pd.DatetimeIndex, step: str = "15min") -> pd.DataFrame:
    """Weather for the site at the midpoint of each interval.

    ``interval_end``: naive local timestamps (the site's clock), interval-end labelled.
    Returns columns temp_c, rh_pct, dew_point_c, wet_bulb_c, humidity_ratio, pressure_pa,
    wind_m_per_s, ghi_w_m2, dni_w_m2, dhi_w_m2, solar_zenith_deg, doy.
    """
    tmy = load_tmy3()
    mid = interval_end - pd.Timedelta(step) / 2
    doy = mid.day_of_year.to_numpy().astype(float)
    leap_shift = (mid.is_leap_year & (mid.month > 2)).astype(float)  # Feb 29 repeats Feb 28
    doy = doy - leap_shift
    hour = mid.hour.to_numpy() + mid.minute.to_numpy() / 60.0 + mid.second.to_numpy() / 3600.0
    solar_shift_h = 4.0 / 60.0 * ((site.longitude - 15.0 * site.utc_offset_h) - (TMY_LON - TMY_ZONE_MERIDIAN))
    hour_of_year = (doy - 1) * 24 + hour + solar_shift_h
    pos = hour_of_year - 1.0  # row i holds the value at the end of hour i+1

    t_h = tmy["temp_air"].to_numpy()
    t_daymean_h = pd.Series(np.tile(t_h, 3)).rolling(24, center=True).mean().to_numpy()[8760:17520]
    dep_h = np.maximum(tmy["temp_air"].to_numpy() - tmy["temp_dew"].to_numpy(), 0.0)
    month_h = pd.date_range("2001-01-01", periods=8760, freq="h").month.to_numpy() - 1
    tmy_month_mean = np.array([t_h[month_h == m].mean() for m in range(12)])
    tmy_month_dep = np.array([dep_h[month_h == m].mean() for m in range(12)])

    t = _cyclic_interp(t_h, pos)
    t_dm = _cyclic_interp(t_daymean_h, pos)
    offset = _monthly_interp(np.array(site.monthly_mean_temp_c) - tmy_month_mean, doy)
    temp_c = t_dm + offset + site.diurnal_scale * (t - t_dm)
    dep_scale = _monthly_interp(np.array(site.monthly_dew_point_depression_k) / tmy_month_dep, doy)
    dew_c = np.minimum(temp_c - dep_scale * _cyclic_interp(dep_h, pos), site.max_dew_point_c)
    rh_pct = np.clip(psychro.rh_from_dew_point_pct(temp_c, dew_c), 5.0, 100.0)
    pressure_pa = (_cyclic_interp(tmy["pressure"].to_numpy(), pos) * 100.0
                   * np.exp((TMY_ALT_M - site.altitude_m) / 8434.0))

    import pvlib

    aware = (mid - pd.Timedelta(hours=site.utc_offset_h)).tz_localize("UTC")
    sp = pvlib.solarposition.get_solarposition(aware, site.latitude, site.longitude, altitude=site.altitude_m,
                                               method="nrel_numpy")
    zenith = sp["apparent_zenith"].to_numpy()
    sun_up = (zenith < 89.5).astype(float)
    irr = {k: np.maximum(_cyclic_interp(tmy[k].to_numpy(), pos), 0.0) * site.irradiance_scale * sun_up
           for k in ("ghi", "dni", "dhi")}
    return pd.DataFrame({
        "temp_c": temp_c,
        "rh_pct": rh_pct,
        "dew_point_c": np.minimum(dew_c, temp_c),
        "wet_bulb_c": psychro.wet_bulb_stull_c(temp_c, rh_pct),
        "humidity_ratio": psychro.humidity_ratio(temp_c, rh_pct, pressure_pa),
        "pressure_pa": pressure_pa,
        "wind_m_per_s": _cyclic_interp(tmy["wind_speed"].to_numpy(), pos),
        "ghi_w_m2": irr["ghi"], "dni_w_m2": irr["dni"], "dhi_w_m2": irr["dhi"],
        "solar_zenith_deg": zenith,
        "solar_azimuth_deg": sp["azimuth"].to_numpy(),
        "doy": doy,
    }, index=interval_end)
