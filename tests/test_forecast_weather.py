"""The Open-Meteo client, run for real against a local HTTP server that serves a stored response."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np
import pandas as pd
import pytest

from forecasting.weather import OpenMeteo, WeatherError, to_step

DATA = Path(__file__).parent / "data" / "forecast"


class _Handler(BaseHTTPRequestHandler):
    requests: list = []

    def do_GET(self):  # noqa: N802 - http.server API
        query = parse_qs(urlparse(self.path).query)
        _Handler.requests.append((urlparse(self.path).path, query))
        if "temperature_3m" in query.get("hourly", [""])[0]:
            status, body = 400, (DATA / "open_meteo_error.json").read_bytes()
        else:
            status, body = 200, (DATA / "open_meteo_shanghai_2025-07-01.json").read_bytes()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = HTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1/forecast"
    httpd.shutdown()
    httpd.server_close()


def test_forecast_from_a_stored_response(server):
    _Handler.requests = []
    frame = OpenMeteo(base_url=server).forecast(31.23, 121.47, days=2)
    path, query = _Handler.requests[-1]
    assert path == "/v1/forecast"
    assert query["latitude"] == ["31.2300"] and query["timezone"] == ["GMT"] and query["wind_speed_unit"] == ["ms"]
    assert query["hourly"] == ["temperature_2m,relative_humidity_2m,shortwave_radiation,cloud_cover,wind_speed_10m"]
    assert len(frame) == 48 and str(frame.index.tz) == "UTC"
    assert frame.index[0] == pd.Timestamp("2025-07-01 00:00", tz="UTC")
    assert list(frame.columns) == ["outdoor_temp_c", "outdoor_rh_pct", "ghi_w_m2", "cloud_cover_pct", "wind_speed_m_s"]
    assert np.isnan(frame.loc["2025-07-02 06:00", "wind_speed_m_s"])  # null -> NaN
    assert frame["ghi_w_m2"].min() == 0 and frame["ghi_w_m2"].max() > 500
    quarter = to_step(frame, "15min")
    assert len(quarter) == 48 * 4 and quarter.index.freq == pd.Timedelta("15min")
    t0, t1 = frame["outdoor_temp_c"].iloc[0], frame["outdoor_temp_c"].iloc[1]
    assert quarter["outdoor_temp_c"].iloc[2] == pytest.approx((t0 + t1) / 2)
    assert not quarter.isna().any().any()  # the gap is interpolated


def test_error_body_becomes_a_clear_error(server):
    client = OpenMeteo(base_url=server)
    client_vars = ("temperature_2m",)
    with pytest.raises(WeatherError, match="HTTP 400: Cannot initialize"):
        client.fetch(client.url(31.2, 121.5, 1, client_vars).replace("temperature_2m", "temperature_3m"))


def test_unreachable_and_bad_input():
    with pytest.raises(WeatherError, match="cannot reach"):
        OpenMeteo(base_url="http://127.0.0.1:9/v1/forecast", timeout_s=2).forecast(31.2, 121.5)
    with pytest.raises(WeatherError, match="not a place"):
        OpenMeteo().url(95, 0, 1, ("temperature_2m",))
    with pytest.raises(WeatherError, match="unknown weather variable"):
        OpenMeteo().url(31, 121, 1, ("snowfall_cm",))
