"""Weather forecasts for future-known features: a provider interface and an Open-Meteo HTTP client.

Open-Meteo (https://open-meteo.com/en/docs) serves hourly forecasts without an API key:
``GET /v1/forecast?latitude=..&longitude=..&hourly=temperature_2m,...&timezone=GMT``. The JSON holds
``utc_offset_seconds``, ``hourly_units`` and ``hourly`` (``time`` plus one list per variable). On a
bad request it answers HTTP 400 with ``{"error": true, "reason": "..."}``.
Values are renamed to the product's names, with units in the names (see ``VARIABLES``).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Protocol

import numpy as np
import pandas as pd

from ems.errors import UserError

# Open-Meteo variable -> (product column, unit Open-Meteo reports with our request settings)
VARIABLES: dict[str, tuple[str, str]] = {
    "temperature_2m": ("outdoor_temp_c", "°C"),
    "relative_humidity_2m": ("outdoor_rh_pct", "%"),
    "dew_point_2m": ("dew_point_c", "°C"),
    "shortwave_radiation": ("ghi_w_m2", "W/m²"),
    "cloud_cover": ("cloud_cover_pct", "%"),
    "wind_speed_10m": ("wind_speed_m_s", "m/s"),
    "surface_pressure": ("pressure_hpa", "hPa"),
}
DEFAULT_VARIABLES = ("temperature_2m", "relative_humidity_2m", "shortwave_radiation", "cloud_cover",
                     "wind_speed_10m")


class WeatherError(UserError):
    """The weather service could not be reached or refused the request."""


class WeatherProvider(Protocol):
    def forecast(self, latitude: float, longitude: float, days: int = 2,
                 variables: tuple[str, ...] = DEFAULT_VARIABLES) -> pd.DataFrame:
        """Hourly forecast from the current hour: UTC index, product column names."""
        ...


class OpenMeteo:
    """HTTP client for the Open-Meteo forecast API (standard library only)."""

    def __init__(self, base_url: str = "https://api.open-meteo.com/v1/forecast", timeout_s: float = 10.0):
        self.base_url = base_url
        self.timeout_s = timeout_s

    def url(self, latitude: float, longitude: float, days: int, variables: tuple[str, ...]) -> str:
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            raise WeatherError(f"latitude {latitude} / longitude {longitude} is not a place on Earth")
        unknown = [v for v in variables if v not in VARIABLES]
        if unknown:
            raise WeatherError(f"unknown weather variable(s) {unknown}; known: {', '.join(VARIABLES)}")
        query = {"latitude": f"{latitude:.4f}", "longitude": f"{longitude:.4f}", "hourly": ",".join(variables),
                 "timezone": "GMT", "wind_speed_unit": "ms", "forecast_days": str(days)}
        return f"{self.base_url}?{urllib.parse.urlencode(query)}"

    def fetch(self, url: str) -> dict:
        request = urllib.request.Request(url, headers={"Accept": "application/json",
                                                       "User-Agent": "carbon-cockpit-forecasting"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            try:
                reason = json.loads(exc.read().decode("utf-8")).get("reason", "")
            except (ValueError, AttributeError):
                reason = ""
            raise WeatherError(f"Open-Meteo answered HTTP {exc.code}: {reason or exc.reason}") from exc
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise WeatherError(f"cannot reach Open-Meteo at {self.base_url}: {exc}") from exc
        except ValueError as exc:
            raise WeatherError(f"Open-Meteo sent something that is not JSON: {exc}") from exc

    def forecast(self, latitude: float, longitude: float, days: int = 2,
                 variables: tuple[str, ...] = DEFAULT_VARIABLES) -> pd.DataFrame:
        return parse_hourly(self.fetch(self.url(latitude, longitude, days, variables)), variables)


def parse_hourly(payload: dict, variables: tuple[str, ...] = DEFAULT_VARIABLES) -> pd.DataFrame:
    """The ``hourly`` block of an Open-Meteo response as a UTC-indexed frame (missing values NaN)."""
    if payload.get("error"):
        raise WeatherError(f"Open-Meteo error: {payload.get('reason', 'no reason given')}")
    hourly = payload.get("hourly")
    if not isinstance(hourly, dict) or "time" not in hourly:
        raise WeatherError("Open-Meteo response has no hourly block")
    times = hourly["time"]
    if times and isinstance(times[0], int | float):
        index = pd.to_datetime(times, unit="s", utc=True)
    else:  # local wall time at utc_offset_seconds
        offset = pd.Timedelta(seconds=int(payload.get("utc_offset_seconds", 0)))
        index = (pd.DatetimeIndex(pd.to_datetime(times)) - offset).tz_localize("UTC")
    units = payload.get("hourly_units", {})
    cols = {}
    for var in variables:
        if var not in hourly:
            raise WeatherError(f"Open-Meteo response lacks '{var}'")
        name, unit = VARIABLES[var]
        if units.get(var) not in (None, unit):
            raise WeatherError(f"Open-Meteo sent '{var}' in {units[var]}, expected {unit}")
        cols[name] = np.array([np.nan if v is None else v for v in hourly[var]], dtype=float)
    return pd.DataFrame(cols, index=pd.DatetimeIndex(index, name="ts"))


def to_step(hourly: pd.DataFrame, freq: str | pd.Timedelta) -> pd.DataFrame:
    """Hourly values on a finer grid, interpolated in time (the last hour is held)."""
    grid = pd.date_range(hourly.index[0], hourly.index[-1] + pd.Timedelta("1h") - pd.Timedelta(freq), freq=freq)
    return hourly.reindex(hourly.index.union(grid)).interpolate(method="time", limit_direction="both").reindex(grid)
