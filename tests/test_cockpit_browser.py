"""The whole cockpit in a real headless Chromium, on three weeks of the demo group.

Set-up (module): ``ems demo --no-serve --days 21`` into a fresh database, one trained forecast with two
issued runs, the optimiser's 'proposed' chilled-water recommendations, the example alarm rules run over
the period; a group energy manager ('manager', Chinese) and a group auditor ('auditor', English). The
app is served in a thread on a free port and driven through Debian's /usr/bin/chromium (Playwright,
never a downloaded browser).

1. As the demo admin: every page through its menu entry (and the wall screen), first in Chinese, then
   in English (``#lang-toggle``); each waits for the page's own data (charts with traces, tables with
   rows, never an empty state), the active menu entry is in the page's language, no console error.
   The load time of each page (navigation start to the main content, the browser's own clock) is
   printed and written to docs/screenshots/load-times.md; it is never asserted. English screenshots
   go to docs/screenshots/<page>.png (``EMS_TEST_SCREENSHOTS=DIR`` also keeps the Chinese ones there).
   On the energy page, bars of the breakdown chart drill from the group to a company to the Qingdao plant.
2. As the manager: accept a recommendation with the button; its status changes in the table.
3. As the auditor: download the inventory export (xlsx) on /reports and read it with openpyxl.
"""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[1]
SHOT_DIR = ROOT / "docs" / "screenshots"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1400, "height": 900}
START = "2025-07-01"
EXTRA_SHOTS = os.environ.get("EMS_TEST_SCREENSHOTS")

# (screenshot name, how to get there, page title key, selectors that all show the page's own data).
# "how": a menu id (#nav-<last part of the page key>) or another link of the page before.
PAGES: list[tuple[str, str, str, tuple[str, ...]]] = [
    ("overview", "#nav-overview", "page.overview",
     ("#overview-totals .cc-tile", "#plant-QD", "#plant-FS", "#target-rows tbody tr",
      "#overview-target-chart .scatterlayer .trace")),
    ("overview-wall", "#wall-link", "page.overview",
     (".cc-wall #overview-totals .cc-tile", "#plant-QD", "#target-rows tbody tr",
      "#overview-target-chart .scatterlayer .trace")),
    ("energy", "#nav-energy", "page.energy",
     ("#by-plant .bars path", "#breakdown .bars path", "#meters tbody tr", "#ea-profile .scatterlayer .trace",
      "#ea-peak .bars path", "#ea-sankey .sankey", "#ea-tce-table tbody tr", "#ea-intensity-table tbody tr",
      "#meter-chart .bars path")),
    ("systems", "#nav-systems", "page.systems",
     ("#system-chart .bars path", "#system-kpis tbody tr", "#system-live-tiles .cc-tile")),
    ("recommendations", "#nav-recommendations", "page.recommendations", ("#rec-list tbody tr", "#rec-totals .cc-tile")),
    ("forecasts", "#nav-forecasts", "page.forecasts",
     ("#forecast-champions tbody tr", "#forecast-chart .scatterlayer .trace", "#forecast-accuracy tbody tr")),
    ("carbon", "#nav-carbon", "page.carbon",
     ("#tile-scope1_tco2e", "#carbon-plants tbody tr", "#carbon-month .bars path", "#carbon-source-rows tbody tr",
      "#carbon-gas-rows tbody tr", "#carbon-revision-rows tbody tr")),
    ("zerocarbon", "#nav-zerocarbon", "page.zerocarbon", ("#zc-pack-summary", "#zc-card-QD", "#zc-card-FS")),
    ("alarms", "#nav-alarms", "page.alarms", ("#alarm-events tbody tr", "#quality-table > *")),
    ("reports", "#nav-reports", "page.reports", ("#report-inventory-value", "#report-download-button",
                                                 "#cost-node-value")),
    ("admin", "#nav-admin", "page.admin",
     ("#admin-user-list tbody tr", "#admin-factor-list tbody tr", "#admin-tariff-list tbody tr",
      "#admin-pack-list tbody tr")),
]

# resolves (to the browser's milliseconds since navigation start) once every selector matches
READY_JS = "sels => sels.every(s => document.querySelector(s) !== null) ? performance.now() : false"

pytestmark = [pytest.mark.slow, pytest.mark.db,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium")]


def seed(url: str) -> None:
    """On a demo database: QD.MAIN.kWh trained (hourly, day ahead) with two issued runs and their accuracy,
    the optimiser's chilled-water recommendations for 2025-07-14 14:00, the example alarm rules run, and the
    two users of the test."""
    import pandas as pd

    from dashboards.auth import create_user
    from ems.cli.main import main
    from ems.optimize.jobs import chw_recommend

    assert main(["forecast", "train", "--point", "QD.MAIN.kWh", "--freq", "1h", "--horizon", "1d", "--days", "14",
                 "--until", "2025-07-15T00:00:00Z", "--models", "ets", "--folds", "2"]) == 0
    for at in ("2025-07-16T00:00:00Z", "2025-07-17T00:00:00Z"):
        assert main(["forecast", "run", "--point", "QD.MAIN.kWh", "--at", at]) == 0
    assert main(["forecast", "accuracy", "--point", "QD.MAIN.kWh"]) == 0
    assert main(["alarms", "rules", "load", str(ROOT / "examples" / "alarms.yaml")]) == 0
    assert main(["alarms", "run", "--no-notify", "--now", "2025-07-22T00:00:00+08:00"]) == 0
    with psycopg.connect(url) as conn:
        assert chw_recommend(conn, at=pd.Timestamp("2025-07-14 14:00", tz="Asia/Shanghai")) >= 1
        create_user(conn, "manager", "pw-manager-1", "energy_manager", scope_codes=["CCG"], language="zh",
                    display_name="王经理")
        create_user(conn, "auditor", "pw-auditor-1", "auditor", scope_codes=["CCG"], language="en",
                    display_name="Ann Auditor")
        conn.commit()


@pytest.fixture(scope="module")
def demo_url(demo_copy) -> Iterator[str]:
    """This module's copy of three weeks of the demo group (July 2025), with the seeds above."""
    saved = os.environ.get("EMS_DATABASE_URL")
    os.environ["EMS_DATABASE_URL"] = demo_copy          # seed() runs CLI commands in-process
    try:
        seed(demo_copy)
    finally:
        os.environ.pop("EMS_DATABASE_URL") if saved is None else os.environ.__setitem__("EMS_DATABASE_URL", saved)
    yield demo_copy


@pytest.fixture(scope="module")
def served(demo_url, tmp_path_factory) -> Iterator[str]:
    """The cockpit on a free local port; yields its base URL."""
    from werkzeug.serving import make_server

    from dashboards.app import create_app
    from ems.db import open_database

    saved = os.environ.pop("EMS_SECRET_KEY", None)
    db = open_database(url=demo_url)
    server = make_server("127.0.0.1", 0, create_app(db, data_dir=tmp_path_factory.mktemp("cockpit-app")).server,
                         threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
        db.close()
        if saved is not None:
            os.environ["EMS_SECRET_KEY"] = saved


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def open_page(browser, errors: list[str], **context_args):
    """A new tab in its own context (own cookies) that records page and console errors in ``errors``."""
    page = browser.new_context(viewport=VIEWPORT, **context_args).new_page()
    page.on("pageerror", lambda exc: errors.append(f"{page.url} pageerror: {exc}"))
    page.on("console", lambda m: errors.append(f"{page.url} console: {m.text}") if m.type == "error" else None)
    page.set_default_timeout(30_000)
    return page


def log_in(page, base: str, username: str, password: str, path: str = "/") -> None:
    page.goto(base + path)
    assert "/login" in page.url
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login-submit")
    page.wait_for_selector("#user-label")


def wait_ready(page, selectors: tuple[str, ...], timeout_ms: float = 30_000) -> float:
    """Wait until every selector matches; the page's milliseconds from navigation start to that moment."""
    try:
        return float(page.wait_for_function(READY_JS, arg=list(selectors), timeout=timeout_ms).json_value())
    except Exception as exc:            # say which selectors never showed
        missing = page.evaluate("sels => sels.filter(s => document.querySelector(s) === null)", list(selectors))
        raise AssertionError(f"{page.url}: no {missing} after {timeout_ms / 1000:.0f} s") from exc


def go(page, how: str, selectors: tuple[str, ...]) -> float:
    """Follow a link (a full page load) and wait for the page's data; load time in ms."""
    with page.expect_navigation(wait_until="commit"):
        page.click(how)
    return wait_ready(page, selectors)


BAR_OF_JS = """code => {
  const gd = document.querySelector('#breakdown .js-plotly-plot');
  const traces = gd.querySelectorAll('.trace.bars');
  for (let t = 0; t < gd.data.length; t++) {
    const cd = gd.data[t].customdata || [];
    for (let i = 0; i < cd.length; i++) {
      if (cd[i][1] !== code) continue;
      const bar = traces[t].querySelectorAll('.point')[i].querySelector('path');
      bar.scrollIntoView({block: 'center'});
      const r = bar.getBoundingClientRect();
      if (r.width > 2 && r.height > 2) return {x: r.x + r.width / 2, y: r.y + r.height / 2};
    }
  }
  return null;
}"""


def drill_into(page, code: str) -> str:
    """Click the breakdown chart's bar of node ``code`` (a node below the one shown); the new drill path."""
    before = page.inner_text("#drill-path")
    where = page.evaluate(BAR_OF_JS, code)
    assert where is not None, f"no bar of {code} in the breakdown chart"
    page.mouse.move(where["x"], where["y"])
    page.mouse.click(where["x"], where["y"])
    page.wait_for_function("before => { const p = document.querySelector('#drill-path');"
                           " return p && p.innerText !== before && p.innerText.includes('›'); }", arg=before)
    page.wait_for_selector("#breakdown .bars path", state="attached")     # the new node's breakdown
    return page.inner_text("#drill-path")


def write_load_times(times: dict[tuple[str, str], float]) -> str:
    names = list(dict.fromkeys(name for name, _ in times))
    lines = ["# Cockpit page load times (browser test)", "",
             "Navigation start to the page's main content (charts drawn, tables filled) in headless Chromium,",
             f"demo group, 21 days ({START} on), one run of `pytest -s tests/test_cockpit_browser.py`.",
             "Measured, never asserted; the year-long figures come from `python bench/cockpit_pages.py`.", "",
             "| page | zh (s) | en (s) |", "|---|---:|---:|"]
    lines += [f"| {n} | {times[(n, 'zh')] / 1000:.2f} | {times[(n, 'en')] / 1000:.2f} |" for n in names]
    text = "\n".join(lines) + "\n"
    SHOT_DIR.mkdir(parents=True, exist_ok=True)
    (SHOT_DIR / "load-times.md").write_text(text, encoding="utf-8")
    return text


def test_every_page_in_both_languages(served, browser):
    from dashboards.i18n import tr

    errors: list[str] = []
    page = open_page(browser, errors)
    log_in(page, served, "demo", "demo")
    assert page.inner_text("#lang-toggle") == tr("language.toggle", "en")
    times: dict[tuple[str, str], float] = {}
    shown = {name: sel for name, _how, _key, sel in PAGES}["energy"]      # log-in lands on /
    for lang in ("zh", "en"):
        with page.expect_navigation(url=f"**lang={lang}*"):
            page.click("#lang-toggle")                 # saved on the user; the page reloads in the other language
        wait_ready(page, shown)                        # fully drawn again before the next page is timed
        for name, how, key, selectors in PAGES:
            shown = selectors
            times[(name, lang)] = go(page, how, selectors)
            assert page.inner_text(".cc-nav-on") == tr(key, lang), (name, lang)
            if name == "energy":
                drill_into(page, "CCG.APPL")           # the group's bar of the company -> the company
                path = drill_into(page, "QD")          # the company's bar of Qingdao -> the plant
                assert path.count("›") == 2 and ("青岛工厂" if lang == "zh" else "Qingdao plant") in path, path
                page.wait_for_selector("#ea-cost-table tbody tr")   # a plant has a tariff: its cost shows
                page.wait_for_function("document.querySelectorAll('#meters tbody tr').length > 0")
            if lang == "en":
                SHOT_DIR.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(SHOT_DIR / f"{name}.png"), full_page=True)
            elif EXTRA_SHOTS:
                page.screenshot(path=str(Path(EXTRA_SHOTS) / f"{name}-zh.png"), full_page=True)
    page.context.close()
    print("\n" + write_load_times(times))
    assert errors == []


def test_manager_accepts_a_recommendation(served, browser, demo_url):
    from dashboards.i18n import tr

    with psycopg.connect(demo_url) as conn:
        rec_id = conn.execute("SELECT min(rec_id) FROM recommendation WHERE plant_code = 'QD' "
                              "AND status = 'proposed'").fetchone()[0]
    assert rec_id is not None
    errors: list[str] = []
    page = open_page(browser, errors)
    log_in(page, served, "manager", "pw-manager-1", "/recommendations")
    row = page.locator(f"#rec-list tbody tr:has(td:text-is('#{rec_id}'))")
    row.wait_for()
    assert tr("rec.status.proposed", "zh") in row.inner_text()
    page.click("#rec-choice")
    page.click(f"text=#{rec_id} QD")
    page.click("#rec-accept")
    page.wait_for_function("t => document.querySelector('#rec-result').innerText === t",
                           arg=tr("rec.done.accepted", "zh"))
    page.wait_for_function("([id, t]) => [...document.querySelectorAll('#rec-list tbody tr')].some("
                           "r => r.cells[0].innerText === id && r.innerText.includes(t))",
                           arg=[f"#{rec_id}", tr("rec.status.accepted", "zh")])
    assert "manager" in row.inner_text()                      # decided by
    page.context.close()
    with psycopg.connect(demo_url) as conn:
        status, by = conn.execute("SELECT status, decided_by FROM recommendation WHERE rec_id = %s",
                                  (rec_id,)).fetchone()
    assert (status, by) == ("accepted", "manager")
    assert errors == []


def test_auditor_downloads_the_inventory_export(served, browser, demo_url, tmp_path):
    import openpyxl

    from dashboards.i18n import tr

    with psycopg.connect(demo_url) as conn:
        scope1 = float(conn.execute("SELECT (i.summary->>'scope1_tco2e')::float FROM inventory i JOIN node n "
                                    "USING (node_id) WHERE n.code = 'QD' AND i.year = 2025 "
                                    "ORDER BY i.revision DESC LIMIT 1").fetchone()[0])
    errors: list[str] = []
    page = open_page(browser, errors, accept_downloads=True)
    log_in(page, served, "auditor", "pw-auditor-1", "/reports")
    page.wait_for_selector("#report-inventory-value")
    assert "QD · 2025" in page.inner_text("#report-inventory")       # the latest choice is preselected
    with page.expect_download() as info:
        page.click("#report-download-button")
    download = info.value
    assert download.suggested_filename == "scope12_QD_2025.xlsx"
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    page.wait_for_function("t => document.querySelector('#report-message').innerText === t",
                           arg=tr("reports.ready", "en"))
    page.context.close()
    book = openpyxl.load_workbook(io.BytesIO(target.read_bytes()))
    assert "汇总 Summary" in book.sheetnames and "明细台账 Ledger" in book.sheetnames
    rows: dict = {}
    for r in book["汇总 Summary"].iter_rows(values_only=True):
        rows.setdefault(r[0], r)                       # the first table: totals per scope
    assert rows["范围一 / Scope 1"][1] == pytest.approx(scope1, abs=1e-3)           # tCO2e, as on the carbon page
    assert rows["范围一 / Scope 1"][2] == pytest.approx(scope1 * 1000, abs=1)       # and in kgCO2e
    assert errors == []
