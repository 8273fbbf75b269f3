"""The first cockpit page in a real headless Chromium: log in, chart, language switch, drill to a meter.

Drives Debian's /usr/bin/chromium through Playwright (never a downloaded browser). The app runs in
a background thread on a free port. Any page error or console error fails the test. Leaves a
screenshot in docs/screenshots/first-page.png.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from werkzeug.serving import make_server

from dashboards.app import create_app
from dashboards.auth import create_user
from ems.assets.loader import load_asset_file
from ems.assets.store import load_asset_model, points_frame
from ems.readings.store import ensure_partitions, merge_stage, stage_readings
from ems.rollups.refresh import refresh_rollups

CHROMIUM = Path("/usr/bin/chromium")
SMALL = Path(__file__).parent / "data" / "plant_small.yaml"
SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "screenshots" / "first-page.png"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run"]
TZ = "Asia/Shanghai"
SHOTS = os.environ.get("EMS_TEST_SCREENSHOTS")   # a folder for extra page screenshots (optional)

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium")]


def _fill_two_weeks(conn) -> None:
    """14 local days of 15-min electricity (main and chiller sub-meter) and hourly gas with a day profile."""
    load_asset_model(conn, load_asset_file(SMALL))
    conn.commit()
    points = {p["code"]: p for p in points_frame(conn)}
    ends = pd.date_range("2025-07-01 00:15", "2025-07-15 00:00", freq="15min", tz=TZ)
    hour = ends.hour.to_numpy() + ends.minute.to_numpy() / 60
    rng = np.random.default_rng(7)
    main = 120 + 80 * np.clip(np.sin((hour - 6) / 24 * 2 * np.pi), 0, None) + rng.normal(0, 5, len(ends))
    chiller = 0.35 * main
    gas_ends = pd.date_range("2025-07-01 01:00", "2025-07-15 00:00", freq="h", tz=TZ)
    gas = 40 + 25 * (gas_ends.day_of_week < 5) + rng.normal(0, 2, len(gas_ends))
    frames = [
        (points["PA.MAIN.kWh"]["point_id"], ends, np.cumsum(main), main),
        (points["PA.CH1.kWh"]["point_id"], ends, np.cumsum(chiller), chiller),
        (points["PB.GAS.m3"]["point_id"], gas_ends, gas, gas),
    ]
    for pid, ts, value, delta in frames:
        frame = pd.DataFrame({"point_id": pid, "ts": ts.tz_convert("UTC"), "value": value, "delta": delta,
                              "quality": 0, "batch_id": 0})
        ensure_partitions(conn, frame["ts"].min(), frame["ts"].max())
        with conn.transaction():
            stage_readings(conn, frame)
            merge_stage(conn)
        conn.commit()
    refresh_rollups(conn)   # the cockpit's node energy comes from the roll-ups
    conn.commit()


@pytest.fixture
def served(db, tmp_path, monkeypatch) -> Iterator[str]:
    """The cockpit on a free local port, with data and one English-speaking admin; yields its base URL."""
    monkeypatch.delenv("EMS_SECRET_KEY", raising=False)
    with db.connection() as conn:
        _fill_two_weeks(conn)
        create_user(conn, "lead", "pw-lead-1", "admin", language="en", display_name="Li Lead")
    server = make_server("127.0.0.1", 0, create_app(db, data_dir=tmp_path).server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


def test_login_chart_language_drill_and_meter(served):
    sync_api = pytest.importorskip("playwright.sync_api")
    errors: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
            page.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)
            page.set_default_timeout(15_000)

            page.goto(served + "/")
            assert "/login" in page.url
            page.fill("#username", "lead")
            page.fill("#password", "pw-lead-1")
            page.click("#login-submit")

            page.wait_for_selector("#by-plant .js-plotly-plot .bars path")
            assert page.inner_text("#card-by-plant h2") == "Energy by plant and medium"
            assert "Li Lead" in page.inner_text("#user-label")

            page.click("#lang-toggle")  # saved on the user, page reloads in Chinese
            page.wait_for_selector("text=各工厂分介质能耗")
            page.wait_for_selector("#by-plant .js-plotly-plot .bars path")
            assert page.inner_text("#lang-toggle") == "English"

            # drill: click the Qingdao plant's electricity bar in the first chart
            bar = page.locator("#by-plant .js-plotly-plot .trace.bars").first.locator("path").nth(3)
            box = bar.bounding_box()
            assert box is not None
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            page.wait_for_function(
                "document.querySelector('#drill-path') && document.querySelector('#drill-path').innerText"
                ".includes('青岛工厂')")
            page.wait_for_selector("#meters >> text=PA.CH1.kWh")
            assert "PB.GAS.m3" not in page.inner_text("#meters-table")

            page.click("#meters button:has-text('冷机1电量')")
            page.wait_for_selector("#meter-chart .gtitle >> text=PA.CH1.kWh")
            page.wait_for_selector("#meter-chart .js-plotly-plot .bars path")

            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT), full_page=True)

            # the plant-systems page: routed by path, in the user's language; this plant has no chiller BTU meter
            page.click("#nav-systems")
            page.wait_for_selector("#no-systems")
            assert "冷冻站" in page.inner_text("#no-systems") and "/systems" in page.url
            page.click("#nav-carbon")
            page.wait_for_selector("#no-inventories")
            assert "ems inventory compute" in page.inner_text("#no-inventories")
            page.click("#nav-zerocarbon")              # zero-carbon scorecards need an inventory too
            page.wait_for_selector("#no-zerocarbon")
            assert "ems inventory compute" in page.inner_text("#no-zerocarbon") and "/zerocarbon" in page.url
            page.click("#nav-overview")
            page.wait_for_selector("#no-overview")
            page.click("#nav-alarms")
            page.wait_for_selector("#no-alarms")
            assert page.inner_text("#card-alarms h2") == "告警事件"
            page.click("#nav-reports")
            page.wait_for_selector("#card-report")
            page.click("#report-download-button")     # no inventory here: nothing to download, no error
            # no optimiser run and no trained model here: both pages say how to get one
            page.click("#nav-recommendations")
            page.wait_for_selector("#no-recommendations")
            assert "ems optimize recommend" in page.inner_text("#no-recommendations")
            page.click("#nav-forecasts")
            page.wait_for_selector("#no-forecasts")
            assert "ems forecast train --point CODE" in page.inner_text("#no-forecasts")
            # admin (this user is one): users, factor library, tariffs, packs; create a user through the form
            page.click("#nav-admin")
            page.wait_for_selector("#admin-user-list >> text=lead")
            page.wait_for_selector("#admin-factor-list, #admin-no-factors")
            assert "CN-GD-IND-TOU" in page.inner_text("#admin-tariff-list")
            assert "RE100-OFFSET100" in page.inner_text("#admin-pack-list")
            page.fill("#admin-new-name", "pa-viewer")
            page.fill("#admin-new-password", "pw-pa-1")
            page.click("#admin-create")
            page.wait_for_selector("#admin-user-list >> text=pa-viewer")
            assert "已创建用户" in page.inner_text("#admin-result")
            if SHOTS:
                page.screenshot(path=str(Path(SHOTS) / "admin.png"), full_page=True)
        finally:
            browser.close()
    assert errors == []
