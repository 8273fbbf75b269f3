"""Indicators from the roll-ups of three simulated weeks of the demo group, each checked against the
same figure computed straight from the stored raw readings (independent SQL), plus known-answer tce."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from ems.cli.main import main

pytestmark = pytest.mark.db

START, END = "2025-07-01", "2025-07-22"


@pytest.fixture(scope="module")
def demo_url(demo_copy) -> str:
    return demo_copy


@pytest.fixture
def run(demo_url, monkeypatch, capsys):
    monkeypatch.setenv("EMS_DATABASE_URL", demo_url)

    def go(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out = capsys.readouterr()
        return code, out.out, out.err

    return go


def raw_sum(url: str, code: str, start: str = START, end: str = END) -> float:
    """Sum of a meter's interval deltas ending in (start, end], site time, from the raw readings."""
    with psycopg.connect(url) as c:
        return float(c.execute(
            """SELECT sum(r.delta) FROM reading r JOIN point p USING (point_id)
               WHERE p.code = %s AND r.ts > (%s::timestamp AT TIME ZONE 'Asia/Shanghai')
                 AND r.ts <= (%s::timestamp AT TIME ZONE 'Asia/Shanghai')""", (code, start, end)).fetchone()[0])


def test_chiller_and_air_enpis_equal_the_raw_ratios(run, demo_url):
    code, out, err = run("enpi", "--node", "QD", "--from", START, "--to", END, "--json")
    assert code == 0, err
    data = json.loads(out)
    [chp] = data["chiller_plants"]["QD.CHP"]
    plant, cooling = raw_sum(demo_url, "QD.CHP.kWh"), raw_sum(demo_url, "QD.CHW.kWh")
    # the period ratio uses hours where both meters have data; coverage tells how many
    assert chp["coverage"] > 0.95
    assert chp["kw_per_kw"] == pytest.approx(plant / cooling, rel=0.01)
    assert chp["kw_per_rt"] == pytest.approx(chp["kw_per_kw"] * 3.516853, rel=1e-6)
    assert chp["cop"] == pytest.approx(1 / chp["kw_per_kw"], rel=1e-9)
    assert 3.0 < chp["mean_delta_t_k"] < 7.0 and chp["low_delta_t_syndrome"] is False
    [air] = data["air_stations"]["QD.AIR"]
    kwh, m3 = raw_sum(demo_url, "QD.AIR.kWh"), raw_sum(demo_url, "QD.AIR.V")
    assert air["kw_per_m3_per_min"] == pytest.approx(60 * kwh / m3, rel=0.01)
    assert 4.0 < air["kw_per_m3_per_min"] < 10.0           # plausible for 7 barg stations
    assert 0 < air["leak_share"] < 1 and 0 < air["dryer_purge_share"] < 0.4


def test_intensity_per_line_and_plant(run, demo_url):
    code, out, err = run("intensity", "--node", "QD", "--from", START, "--to", END, "--json")
    assert code == 0, err
    rows = {r["entity"]: r for r in json.loads(out)}
    line = rows["QD.WS2.L1"]
    assert line["output"] == pytest.approx(raw_sum(demo_url, "QD.WS2.L1.CNT"))
    assert line["energy_kwh"] == pytest.approx(raw_sum(demo_url, "QD.WS2.L1.kWh"), rel=1e-9)
    assert line["kwh_per_unit"] == pytest.approx(line["energy_kwh"] / line["output"])
    plant = rows["QD"]
    assert plant["level"] == "plant"
    # the plant's electricity is its site meter: grid + PV + discharge - charge
    site = (raw_sum(demo_url, "QD.MAIN.kWh") + raw_sum(demo_url, "QD.PV.kWh") + raw_sum(demo_url, "QD.BAT.DIS.kWh")
            - raw_sum(demo_url, "QD.BAT.CHG.kWh"))
    assert plant["energy_kwh"] == pytest.approx(site, rel=1e-9)


def test_tce_known_coefficients(run, demo_url):
    code, out, err = run("tce", "--node", "QD", "--from", START, "--to", END, "--json")
    assert code == 0, err
    data = json.loads(out)
    media = {m["medium"]: m for m in data["media"]}
    assert media["electricity"]["tce"] == pytest.approx(media["electricity"]["quantity"] * 0.1229 / 1000, rel=1e-9)
    assert media["natural_gas"]["tce"] == pytest.approx(media["natural_gas"]["quantity"] * 1.2143 / 1000, rel=1e-9)
    assert data["total_tce"] == pytest.approx(sum(m["tce"] for m in data["media"]))
    assert "compressed_air" in data["not_counted"] and "chilled_water" in data["not_counted"]
    code, out, _ = run("tce", "--node", "QD", "--from", START, "--to", END, "--basis", "equal_value", "--json")
    assert code == 0 and json.loads(out)["equal_value_year"] <= 2025


def test_peak_ignores_gap_spanning_deltas_and_profile_has_day_types(run, demo_url):
    code, out, err = run("peak", "--node", "FS", "--from", START, "--to", END, "--json")
    assert code == 0, err
    [july] = json.loads(out)
    assert 1000 < july["peak_kw"] < 16000                  # FS main incomer is rated 16 MW
    code, out, _ = run("profile", "--node", "QD", "--from", START, "--to", END, "--json")
    prof = json.loads(out)
    assert code == 0 and prof["n_days"]["workday"] == 15 and prof["n_days"]["weekend"] == 6
    assert len(prof["profile"]) == 96


def test_baseline_fits_and_reports_savings(run):
    code, out, err = run("baseline", "--node", "QD", "--base", "2025-07-01..2025-07-15",
                         "--reporting", "2025-07-15..2025-07-22", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["model"]["acceptable"] is True and data["model"]["metrics"]["cv_rmse_pct"] < 15
    s = data["summary"]
    assert s["savings_total"] == pytest.approx(s["baseline_total"] - s["actual_total"])
    assert abs(s["fractional_savings"]) < 0.1               # nothing changed in the plant: no real savings


def test_bad_node_and_missing_roles_are_user_errors(run):
    code, _, err = run("enpi", "--node", "NOPE", "--from", START, "--to", END)
    assert code == 2 and "no node with code 'NOPE'" in err and "Traceback" not in err
    code, _, err = run("enpi", "--node", "QD.WS1", "--from", START, "--to", END)
    assert code == 2 and "no chiller plant or compressed-air station" in err
    code, _, err = run("baseline", "--node", "QD", "--base", "2025-07-01", "--reporting", "2025-07-15..2025-07-22")
    assert code == 2 and "FROM..TO" in err


def test_sankey_follows_the_meter_tree_and_balances_the_site_meter(run, demo_url):
    code, out, err = run("sankey", "--node", "QD", "--from", START, "--to", END, "--json")
    assert code == 0, err
    data = json.loads(out)
    links = {(link["source"], link["target"]): link["value"] for link in data["links"]}
    site = "Site electricity use (virtual)"
    grid = links[("10 kV main incomer active energy (grid import)", site)]
    assert grid == pytest.approx(raw_sum(demo_url, "QD.MAIN.kWh") / 1000, rel=1e-9)
    assert links[(site, "Battery charge energy")] == pytest.approx(raw_sum(demo_url, "QD.BAT.CHG.kWh") / 1000)
    # natural gas enters in MWh by its calorific value (35,544 kJ/m3, GB/T 2589)
    gas = [v for (s, _t), v in links.items() if s == "Natural gas main meter"]
    assert gas and all(v > 0 for v in gas)
    balance = {b["node"]: b for b in data["balance"]}
    assert balance[site]["within_tolerance"] is True
    assert len(data["plotly"]["link"]["source"]) == len([v for v in links.values() if v > 0])


def test_cockpit_systems_page_kpis_and_scope(demo_url):
    """The plant-systems page computes the same KPIs, and only for systems inside the user's scope."""
    from datetime import date

    from dash.exceptions import PreventUpdate

    from dashboards.auth import create_user, visible_node_ids
    from dashboards.pages.systems import kpi_figure, kpi_table, system_kpis, systems

    with psycopg.connect(demo_url) as conn:
        ids = dict(conn.execute("SELECT code, node_id FROM node").fetchall())
        everything = list(ids.values())
        found = systems(conn, everything)
        assert set(found["code"]) == {"QD.CHP", "QD.AIR", "FS.CHP", "FS.AIR"}
        kind, daily, monthly = system_kpis(conn, ids["QD.CHP"], everything, date(2025, 7, 1), date(2025, 7, 21))
        assert kind == "chiller" and len(daily) == 21 and len(monthly) == 1
        plant, cooling = raw_sum(demo_url, "QD.CHP.kWh"), raw_sum(demo_url, "QD.CHW.kWh")
        assert monthly["kw_per_kw"].iloc[0] == pytest.approx(plant / cooling, rel=0.01)
        assert len(kpi_figure(daily, kind, "zh").data) == 2
        assert "kW/RT" in str(kpi_table(monthly, kind, "en"))
        fs_user = create_user(conn, "fs-only", "pw-fs-1", "energy_manager", scope_codes=["FS"])
        conn.commit()
        fs_visible = visible_node_ids(conn, fs_user)
        assert set(systems(conn, fs_visible)["code"]) == {"FS.CHP", "FS.AIR"}
        with pytest.raises(PreventUpdate):   # another plant's system: nothing comes back
            system_kpis(conn, ids["QD.CHP"], fs_visible, date(2025, 7, 1), date(2025, 7, 21))


def test_cockpit_carbon_page_shows_the_engine_figures_within_scope(run, demo_url):
    """`ems demo` leaves draft inventories; the carbon page shows the engine's numbers, scoped."""
    from dashboards.auth import create_user, visible_node_ids
    from dashboards.pages.carbon import SCOPES, inventories, plant_rows

    code, out, err = run("inventory", "compute", "--year", "2025", "--node", "CCG", "--json")
    assert code == 0, err
    engine = json.loads(out)
    with psycopg.connect(demo_url) as conn:
        ids = dict(conn.execute("SELECT code, node_id FROM node").fetchall())
        frame = inventories(conn, list(ids.values()), 2025)
        group = frame[frame["code"] == "CCG"].iloc[0]
        for key, _ in SCOPES:
            assert group["summary"][key] == engine[key]
        fs_user = create_user(conn, "fs-carbon", "pw-fs-2", "viewer", scope_codes=["FS"])
        conn.commit()
        fs_visible = visible_node_ids(conn, fs_user)
        rows = plant_rows(frame, fs_visible, {"FS"} | {c for c, i in ids.items() if i in fs_visible})
    assert list(rows["plant"]) == ["FS"]                     # QD never appears for an FS user
    assert rows["scope2_market_tco2e"].iloc[0] == engine["by_plant"]["FS"]["scope2_market_tco2e"]


def test_zero_carbon_assessment_from_stored_data(run, demo_url):
    from cms.zerocarbon_inputs import plant_record

    with psycopg.connect(demo_url) as conn:
        rec = plant_record(conn, "QD", 2025)
    site = (raw_sum(demo_url, "QD.MAIN.kWh") + raw_sum(demo_url, "QD.PV.kWh") + raw_sum(demo_url, "QD.BAT.DIS.kWh")
            - raw_sum(demo_url, "QD.BAT.CHG.kWh")) / 1000
    assert rec.energy_mwh["electricity"] == pytest.approx(site, rel=1e-9)
    assert rec.renewable_electricity_mwh["onsite_pv"] == pytest.approx(raw_sum(demo_url, "QD.PV.kWh") / 1000, rel=1e-9)
    assert rec.scope1_tco2e > 0 and rec.scope2_market_tco2e > 0 and rec.offsets_retired_tco2e == 0
    code, out, err = run("zerocarbon", "assess", "--pack", "RE100-OFFSET100", "--plant", "QD", "--year", "2025",
                         "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["outcome"] == "not_met"
    assert result["renewable_electricity_share"] == pytest.approx(rec.renewable_electricity_mwh["onsite_pv"] / site)
    assert result["residual_tco2e"] == pytest.approx(rec.scope1_tco2e + rec.scope2_market_tco2e)
    code, _, err = run("zerocarbon", "assess", "--pack", "RE100-OFFSET100", "--plant", "QD")
    assert code == 2 and "--plant needs --year" in err


def test_targets_gap_from_the_stored_inventories(run):
    code, out, err = run("target", "show", "--node", "CCG", "--year", "2025", "--inventories", "--json")
    assert code == 0, err
    [block] = json.loads(out)
    rows = {r["plant"]: r for r in block["rows"]}
    code, inv, _ = run("inventory", "compute", "--year", "2025", "--node", "QD", "--json")
    qd = json.loads(inv)
    assert rows["QD"]["actual_tco2e"] == pytest.approx(qd["scope1_tco2e"] + qd["scope2_market_tco2e"])
    assert rows["QD"]["gap_tco2e"] == pytest.approx(rows["QD"]["actual_tco2e"] - rows["QD"]["allowed_tco2e"])
    assert rows["CCG"]["actual_tco2e"] == pytest.approx(rows["QD"]["actual_tco2e"] + rows["FS"]["actual_tco2e"])


def test_cockpit_overview_tiles(demo_url):
    from dashboards.pages.carbon import inventories
    from dashboards.pages.overview import plant_summary, plant_tiles, totals_tiles

    with psycopg.connect(demo_url) as conn:
        ids = dict(conn.execute("SELECT code, node_id FROM node").fetchall())
        qd = plant_summary(conn, "QD", 2025)
        frame = inventories(conn, list(ids.values()), 2025)
    site_mwh = (raw_sum(demo_url, "QD.MAIN.kWh") + raw_sum(demo_url, "QD.PV.kWh") + raw_sum(demo_url, "QD.BAT.DIS.kWh")
                - raw_sum(demo_url, "QD.BAT.CHG.kWh")) / 1000
    assert qd["electricity_mwh"] == pytest.approx(site_mwh, rel=1e-9)
    assert qd["outcome"] == "not_met" and {g[0] for g in qd["gaps"]} == {"renewable_electricity", "residual_offset"}
    assert 0 < qd["renewable_share"] < 1 and qd["kwh_per_unit"] > 0
    tiles = str(totals_tiles(frame, list(ids.values()), "en"))
    group = frame[frame["code"] == "CCG"].iloc[0]["summary"]
    assert f"{group['scope1_tco2e']:,.0f}" in tiles
    assert "Qingdao" in str(plant_tiles([qd], {"QD": {"code": "QD", "name_zh": "青岛工厂", "name_en": "Qingdao plant"}}, "en"))


def test_cockpit_alarms_and_quality_scoped(run, demo_url):
    from datetime import date

    from dashboards.auth import create_user, may, visible_node_ids
    from dashboards.pages.alarms import events, quality_findings, quality_tables

    root = Path(__file__).resolve().parents[1]
    assert run("alarms", "rules", "load", str(root / "examples" / "alarms.yaml"))[0] == 0
    code, out, err = run("alarms", "run", "--no-notify", "--now", "2025-07-22T00:00:00+08:00")
    assert code == 0, err
    code, out, err = run("quality", "run", "--node", "CCG", "--day", "2025-07-10")
    assert code == 0, err
    with psycopg.connect(demo_url) as conn:
        ids = dict(conn.execute("SELECT code, node_id FROM node").fetchall())
        every = events(conn, list(ids.values()))
        fs_user = create_user(conn, "fs-alarms", "pw-fs-3", "viewer", scope_codes=["FS"])
        conn.commit()
        fs = events(conn, visible_node_ids(conn, fs_user))
        days, bal = quality_findings(conn, list(ids.values()), date(2025, 7, 10))
    assert any(s.startswith("QD") for s in every["subject"])     # the demo raises QD alarms in July
    assert set(fs["subject"]) <= {s for s in every["subject"] if s.startswith("FS")}
    assert not any(s.startswith("QD") for s in fs["subject"])
    assert not may(fs_user, "ack_alarm")
    assert quality_tables(days, bal, "zh")          # a table, or the explicit 'no issue' message


def test_cockpit_report_download_by_role_and_scope(demo_url):
    import openpyxl

    from dashboards.auth import create_user, may, visible_node_ids
    from dashboards.pages.reports import export_bytes, inventory_choices

    with psycopg.connect(demo_url) as conn:
        auditor = create_user(conn, "fs-auditor", "pw-fs-4", "auditor", scope_codes=["FS"])
        manager = create_user(conn, "fs-manager", "pw-fs-5", "energy_manager", scope_codes=["FS"])
        conn.commit()
        choices = {c["value"] for c in inventory_choices(conn, visible_node_ids(conn, auditor))}
        assert choices == {"FS|2025"}                            # no group or QD inventory for an FS user
        name, content = export_bytes(conn, "FS", 2025, "xlsx")
    assert may(auditor, "download_inventory") and not may(manager, "download_inventory")
    assert name == "scope12_FS_2025.xlsx" and content[:2] == b"PK"
    import io

    book = openpyxl.load_workbook(io.BytesIO(content))
    assert len(book.sheetnames) >= 5


def _strings(component) -> list[str]:
    """Every text a Dash component tree shows (children strings and placeholders)."""
    out: list[str] = []
    if isinstance(component, str):
        return [component]
    if isinstance(component, (list, tuple)):
        for c in component:
            out += _strings(c)
        return out
    for attr in ("children", "placeholder", "label"):
        value = getattr(component, attr, None)
        if value is not None:
            out += _strings(value)
    for attr in ("options",):
        for opt in getattr(component, attr, None) or []:
            if isinstance(opt, dict) and isinstance(opt.get("label"), str):
                out.append(opt["label"])
    return out


def test_every_cockpit_page_is_translated(run, demo_url):
    """Each page, filled with the demo's data, in Chinese and English: no raw i18n key shows, and the
    Chinese page has no English label the English page also has (names, codes and units aside)."""
    import re
    from datetime import date

    from dash import dcc

    from dashboards.auth import authenticate, list_users
    from dashboards.pages import admin, alarms, carbon, energy, forecasts, overview, reports, systems
    from dashboards.pages import recommendations as recs
    from dashboards.pages import zerocarbon as zc
    from dashboards.queries import visible_nodes

    _forecasts_and_recommendations(run, demo_url)
    key_like = re.compile(r"^[a-z_]+(\.[a-z_0-9]+)+$")
    with psycopg.connect(demo_url) as conn:
        ids = list(dict(conn.execute("SELECT code, node_id FROM node").fetchall()).values())
        nodes = visible_nodes(conn, ids)
        found = systems.systems(conn, ids)
        kind, daily, monthly = systems.system_kpis(conn, int(found["node_id"].iloc[0]), ids,
                                                   date(2025, 7, 1), date(2025, 7, 21))
        frame = carbon.inventories(conn, ids, 2025)
        # rule ids and messages are the rules file's data (written by the user), not interface labels
        data_texts = {t for row in conn.execute("SELECT rule_id, message, subject FROM alarm_event") for t in row}
        # so are factor, tariff and pack data, point codes, user names and rejection reasons
        data_texts |= {str(t) for row in conn.execute(
            "SELECT factor_id, family, activity, region, unit, coalesce(gas, ''), source, "
            "concat_ws(' · ', source, publication) FROM factor")
            for t in row}
        data_texts |= {r[0] for r in conn.execute("SELECT code FROM point")}
        data_texts |= {r[0] for r in conn.execute("SELECT status_reason FROM recommendation WHERE status_reason IS NOT NULL")}
        data_texts |= {t for u in list_users(conn) for t in (u["username"], u["display_name"]) if t}
        from cms.zerocarbon_pack import builtin_packs
        from ems.analytics.tariff_files import builtin_tariffs

        data_texts |= {t for p in builtin_packs() for t in (p.title.en, p.standard, p.source, p.version)}
        # pack item, type, level and area names are pack data: the zh name when the pack has one, else en
        data_texts |= {x.name.en for p in builtin_packs() for x in (*p.items, *p.types, *p.levels, *p.areas)}
        data_texts |= {"HFCs", "PFCs", "HCFCs"}      # gas-group notation, the same in both languages
        data_texts |= {" · ".join(x for x in (t.source.document, t.source.publisher) if x) for t in builtin_tariffs()}
        champs = forecasts.champions(conn, ids)
        accuracy = forecasts.accuracy(conn, ids, "QD.MAIN.kWh")
        flags = forecasts.drift(conn, ids)
        rec_frame = recs.recommendations(conn, ids)
        root = authenticate(conn, "demo", "demo")
        factor_frame, users = admin.factors(conn, root), list_users(conn)
        codes, families = admin.node_codes(conn), admin.factor_families(conn)
        plants = carbon.plant_rows(frame, ids, {"QD", "FS"})
        qd = overview.plant_summary(conn, "QD", 2025)
        packs = builtin_packs()
        cards = {p.id: zc.assessments(conn, p, ids, 2025) for p in packs}
        target_rows, target_series = overview.target_view(conn, ids, 2025)
        data_texts |= {f"{r['target_set']} / {r['line']}" for r in target_rows}
        summaries = carbon.breakdown_summaries(frame, ids)
        kinds, history = carbon.instrument_kinds(conn, summaries), carbon.revisions(conn, ids, 2025)
        offsets = carbon.offsets_retired(conn, ids, 2025)
        data_texts |= {t for row in conn.execute("SELECT created_by, locked_by FROM inventory") for t in row if t}
        new_panels = _energy_and_systems_panels(conn, ids)
        texts = {}
        for lang in ("zh", "en"):
            tree = [energy.layout(lang, nodes, None), systems.layout(lang, found, date(2025, 7, 21)),
                    systems.kpi_table(monthly, kind, lang), carbon.layout(lang, [2025]),
                    carbon.plant_table(plants, lang), carbon.tiles(None, plants, lang),
                    overview.layout(lang, [2025], False), overview.totals_tiles(frame, ids, lang),
                    overview.plant_tiles([qd], {}, lang), alarms.layout(lang, date(2025, 7, 21)),
                    alarms.event_table(alarms.events(conn, ids), lang), reports.layout(lang, []),
                    forecasts.layout(lang, champs), forecasts.layout(lang, champs.iloc[:0]),
                    forecasts.accuracy_table(accuracy, lang), forecasts.drift_table(flags, lang),
                    forecasts.drift_table(flags.iloc[:0], lang), recs.layout(lang, True), recs.layout(lang, False),
                    recs.rec_table(rec_frame, lang), recs.totals(rec_frame, lang), dcc.Dropdown(options=recs.choices(rec_frame, lang)),
                    admin.layout(lang, True, codes, families), admin.layout(lang, False),
                    admin.users_table(users, lang), admin.factor_table(factor_frame, lang),
                    zc.layout(lang, [2025]), zc.layout(lang, []), dcc.Dropdown(options=zc.pack_choices(lang)),
                    [zc.pack_info(p, lang) for p in packs],
                    [zc.scorecard(node, a, p, lang) for p in packs for node, a in cards[p.id]],
                    overview.target_table(target_rows, lang), overview.target_table([], lang),
                    carbon.sources_table(carbon.scope1_sources(summaries), lang),
                    carbon.gas_table(carbon.gases(summaries), lang), carbon.instruments_table(kinds, lang),
                    carbon.instruments_table({"gec": 1.0}, lang), carbon.offsets_table(offsets, lang),
                    carbon.revisions_table(history, lang)]
            tree += new_panels(lang)
            texts[lang] = [s for s in _strings(tree) if s.strip()]
    for lang, strings in texts.items():
        assert not [s for s in strings if key_like.match(s)], lang
    english_words = re.compile(r"\b[A-Za-z]{4,}\b")
    both = {s for s in texts["zh"] if english_words.search(s) and not re.search(r"[\u4e00-\u9fff]", s)}
    allowed = {"Carbon Cockpit 碳管理驾驶舱", "English", "tCO2e", "xlsx"}
    leftovers = {s for s in both & set(texts["en"]) - data_texts
                 if s not in allowed and not re.match(r"^[A-Z0-9.\-]+( ·.*)?$", s)}
    assert not leftovers


def _forecasts_and_recommendations(run, demo_url) -> dict[str, list[int]]:
    """Idempotent set-up for the forecast and recommendation pages: QD.MAIN.kWh trained (hourly, day ahead),
    two issued forecasts with their actuals; optimiser recommendations for QD (two) and FS (one), stored
    through the optimiser's store. Returns the recommendation ids per plant."""
    import pandas as pd

    from ems.optimize import store

    with psycopg.connect(demo_url) as conn:
        trained = conn.execute("SELECT 1 FROM forecast_model WHERE target = 'QD.MAIN.kWh'").fetchone()
    if not trained:
        code, _, err = run("forecast", "train", "--point", "QD.MAIN.kWh", "--freq", "1h", "--horizon", "1d",
                           "--days", "14", "--until", "2025-07-15T00:00:00Z", "--models", "ets", "--folds", "2")
        assert code == 0, err
        for at in ("2025-07-16T00:00:00Z", "2025-07-17T00:00:00Z"):
            assert run("forecast", "run", "--point", "QD.MAIN.kWh", "--at", at)[0] == 0
        assert run("forecast", "accuracy", "--point", "QD.MAIN.kWh")[0] == 0
    with psycopg.connect(demo_url) as conn:
        if not conn.execute("SELECT 1 FROM recommendation").fetchone():
            for plant, hour, kwh in (("QD", 14, 120.0), ("QD", 15, 80.0), ("FS", 14, 60.0)):
                t0 = pd.Timestamp(f"2025-07-15 {hour}:00", tz="Asia/Shanghai")
                store.insert_recommendation(conn, {
                    "plant_code": plant, "system": "chilled_water", "valid_from": t0, "valid_to": t0 + pd.Timedelta("1h"),
                    "inputs": {"zone_t_c": [24.0, 25.5]}, "baseline_decision": {"chws_setpoint_c": 7.0, "n_chillers":
                                                                              "plant staging"},
                    "decision": {"chws_setpoint_c": 10.5, "n_chillers": 2, "plan_chws_setpoint_c": [10.5, 10.0]},
                    "expected_kwh_saved": kwh, "expected_cost_cny_saved": kwh * 0.8,
                    "expected_tco2_saved": kwh * 0.5703 / 1000, "diagnosis": ""})
            conn.commit()
        return {p: [r[0] for r in conn.execute("SELECT rec_id FROM recommendation WHERE plant_code = %s ORDER BY rec_id",
                                               (p,))] for p in ("QD", "FS")}


def test_cockpit_forecasts_page_same_figures_as_the_cli_and_scoped(run, demo_url):
    from dashboards.auth import create_user, visible_node_ids
    from dashboards.pages import forecasts
    from forecasting import store as forecast_store

    _forecasts_and_recommendations(run, demo_url)
    code, out, err = run("forecast", "accuracy", "--point", "QD.MAIN.kWh", "--json")
    assert code == 0, err
    cli = json.loads(out)["accuracy"]
    with psycopg.connect(demo_url) as conn:
        ids = list(dict(conn.execute("SELECT code, node_id FROM node").fetchall()).values())
        [row] = forecasts.champions(conn, ids).to_dict("records")          # one target, one horizon
        model_id, score = conn.execute("SELECT model_id, score FROM forecast_model WHERE target = 'QD.MAIN.kWh' "
                                       "AND is_champion").fetchone()
        assert (row["model_id"], row["horizon_steps"], row["step_s"]) == (model_id, 24, 3600)
        assert row["score"] == pytest.approx(score) and not row["drift"]
        page = forecasts.accuracy(conn, ids, "QD.MAIN.kWh")
        assert sorted((r["model_id"], r["lead_h"], round(r["mae"], 9)) for r in cli) == sorted(
            zip(page["model_id"], page["lead_h"], page["mae"].round(9), strict=True))
        assert row["live_n"] == sum(r["n"] for r in cli if r["model_id"] == model_id) == 48
        assert row["live_mae"] == pytest.approx(sum(r["mae"] * r["n"] for r in cli) / 48)
        # a drift flag raised by the forecasting store shows on the page, then is cleared again
        assert forecast_store.check_drift(conn, model_id, ratio=0.01) is not None
        conn.commit()
        assert forecasts.champions(conn, ids)["drift"].iloc[0]
        flags = forecasts.drift(conn, ids)
        assert len(flags) == 1 and "forecast-drifts" in str(forecasts.drift_table(flags, "en"))
        assert forecast_store.check_drift(conn, model_id, ratio=1e9) is None
        fs_user = create_user(conn, "fs-forecasts", "pw-fs-6", "energy_manager", scope_codes=["FS"])
        conn.commit()
        fs = visible_node_ids(conn, fs_user)
        fs_found = forecasts.champions(conn, fs)
        assert fs_found.empty and forecasts.accuracy(conn, fs, "QD.MAIN.kWh").empty and forecasts.drift(conn, fs).empty
    assert "ems forecast train --point CODE" in str(forecasts.layout("en", fs_found))
    assert len(forecasts.accuracy_figure(page, "en").data) == 2                # the champion and its naive
    assert "Live MAE" in str(forecasts.accuracy_table(page, "en"))


def test_cockpit_recommendations_decide_by_role_and_scope(run, demo_url):
    from dash.exceptions import PreventUpdate

    from dashboards.auth import create_user, visible_node_ids
    from dashboards.pages import recommendations as recs
    from ems.optimize import store

    ids = _forecasts_and_recommendations(run, demo_url)
    qd_rec, qd_rec2, fs_rec = ids["QD"][0], ids["QD"][1], ids["FS"][0]
    with psycopg.connect(demo_url) as conn:
        qd_viewer = create_user(conn, "qd-viewer", "pw-qd-1", "viewer", scope_codes=["QD"], language="en")
        qd_manager = create_user(conn, "qd-manager", "pw-qd-2", "energy_manager", scope_codes=["QD"], language="en")
        fs_manager = create_user(conn, "fs-rec-manager", "pw-fs-7", "energy_manager", scope_codes=["FS"])
        conn.commit()
        qd, fs = visible_node_ids(conn, qd_manager), visible_node_ids(conn, fs_manager)
        assert set(recs.recommendations(conn, fs)["rec_id"]) == {fs_rec}          # never QD's
        assert set(recs.recommendations(conn, qd)["rec_id"]) == {qd_rec, qd_rec2}
        with pytest.raises(PreventUpdate):                                      # another plant's: nothing
            recs.decide(conn, fs_manager, fs, qd_rec, "accepted", None)
        assert recs.decide(conn, qd_viewer, visible_node_ids(conn, qd_viewer), qd_rec, "accepted", None) \
            == "Your role may not decide recommendations (energy managers and admins may)"
        assert recs.decide(conn, qd_manager, qd, qd_rec, "rejected", "  ") == "Rejecting a recommendation needs a reason"
        assert store.get(conn, qd_rec)["status"] == "proposed"
        assert recs.decide(conn, qd_manager, qd, qd_rec, "accepted", None) == "Accepted"
        assert recs.decide(conn, qd_manager, qd, qd_rec, "accepted", None).startswith("Not changed")
        assert recs.decide(conn, qd_manager, qd, qd_rec2, "rejected", "line changeover") == "Rejected"
        got, got2 = store.get(conn, qd_rec), store.get(conn, qd_rec2)
        assert (got["status"], got["decided_by"]) == ("accepted", "qd-manager")
        assert (got2["status"], got2["status_reason"]) == ("rejected", "line changeover")
        assert [e[1] for e in store.events(conn, qd_rec)] == ["proposed", "accepted"]   # the store's own log
        frame = recs.recommendations(conn, qd)
    table = str(recs.rec_table(frame, "en"))
    assert "chws_setpoint_c 7 → 10.5" in table and "line changeover" in table and "plant staging" not in table
    tiles = str(recs.totals(frame, "en"))
    assert "120" in tiles and "96" in tiles                     # accepted: 120 kWh, 96 CNY expected
    assert [c["value"] for c in recs.choices(frame, "en")] == [qd_rec]     # the rejected one is decided
    assert "ems optimize recommend" in str(recs.layout("zh", False))


def test_cockpit_admin_page_admins_only(demo_url):
    from datetime import date

    from dash.exceptions import PreventUpdate

    from cms import inventory_store
    from dashboards.auth import authenticate, create_user, list_users, visible_node_ids
    from dashboards.pages import admin

    with psycopg.connect(demo_url) as conn:
        root = authenticate(conn, "demo", "demo")
        manager = create_user(conn, "qd-admin-try", "pw-qd-3", "energy_manager", scope_codes=["QD"])
        conn.commit()
        for call in (lambda: admin.factors(conn, manager), lambda: admin.create(conn, manager, "x", "pw", "admin", [], "en"),
                     lambda: admin.update(conn, manager, manager.user_id, "admin", ["CCG"])):
            with pytest.raises(PreventUpdate):        # a non-admin gets nothing and changes nothing
                call()
        assert conn.execute("SELECT role FROM app_user WHERE user_id = %s", (manager.user_id,)).fetchone()[0] \
            == "energy_manager"
        assert "admin-denied" in str(admin.layout("en", False)) and "admin-users" not in str(admin.layout("en", False))

        assert admin.create(conn, root, "fs-new", "pw-fs-8", "viewer", ["FS"], "en") == "User created: fs-new"
        assert admin.create(conn, root, "fs-new", "pw-fs-8", "viewer", ["FS"], "en").startswith("Not saved")
        assert "NOPE" in admin.create(conn, root, "nope", "pw", "viewer", ["NOPE"], "en")
        new = {u["username"]: u for u in list_users(conn)}["fs-new"]
        assert new["scope"] == ["FS"] and new["role"] == "viewer" and "nope" not in {u["username"] for u in list_users(conn)}
        fs_ids = set(conn.execute("SELECT node_id FROM node WHERE code = 'FS' OR code LIKE 'FS.%'").fetchall())
        user = authenticate(conn, "fs-new", "pw-fs-8")
        assert {(i,) for i in visible_node_ids(conn, user)} <= fs_ids
        assert admin.update(conn, root, new["user_id"], "energy_manager", ["QD"]) == "Saved"
        assert {u["username"]: u for u in list_users(conn)}["fs-new"]["scope"] == ["QD"]
        assert authenticate(conn, "fs-new", "pw-fs-8").role == "energy_manager"
        assert admin.update(conn, root, root.user_id, "viewer", []) == "You cannot change your own role"

        every = admin.factors(conn, root, limit=10_000)
        assert len(every) == conn.execute("SELECT count(*) FROM factor").fetchone()[0]
        assert len(admin.factors(conn, root)) == admin.FACTOR_LIMIT      # the page draws a bounded table
        assert not every["locked"].any() and every["used_by"].sum() > 0
        grid = admin.factors(conn, root, "mee_grid")
        assert set(grid["family"]) == {"mee_grid"} and grid["source"].str.len().min() > 0
        # locking an inventory freezes its factor versions: the page marks them (rolled back afterwards)
        inv = inventory_store.find(conn, "FS", date(2025, 1, 1), date(2026, 1, 1))
        inventory_store.lock(conn, inv, "auditor")
        locked = admin.factors(conn, root, limit=10_000)
        used = set(r[0] for r in conn.execute("SELECT factor_pk FROM inventory_factor WHERE inventory_id = %s",
                                              (inv["inventory_id"],)))
        assert set(locked.loc[locked["locked"], "factor_pk"]) == used
        assert "locked in use" in str(admin.factor_table(locked, "en"))
        conn.rollback()
    tariffs, packs = str(admin.tariff_table("en")), str(admin.pack_table("zh"))
    assert "CN-GD-IND-TOU" in tariffs and "Guangdong industrial" in tariffs
    assert "RE100-OFFSET100" in packs and "T-CECA-G-0171-2022" in packs and "部分核对" in packs


def test_cockpit_cost_report_download(run, demo_url):
    import io

    import openpyxl

    from dashboards.auth import create_user, may, visible_node_ids
    from dashboards.pages.reports import cost_bytes, cost_choices

    code, out, err = run("cost", "--node", "FS", "--from", "2025-01-01", "--to", "2026-01-01", "--by", "month",
                         "--centres")
    assert code == 0, err
    cli_total = float(out.split("total: ")[1].split(" kWh, ")[1].split(" CNY")[0].replace(",", ""))
    with psycopg.connect(demo_url) as conn:
        viewer = create_user(conn, "fs-viewer", "pw-fs-6", "viewer", scope_codes=["FS"])
        conn.commit()
        assert [c["value"] for c in cost_choices(conn, visible_node_ids(conn, viewer))] == ["FS"]
        name, content = cost_bytes(conn, "FS", 2025)
    assert not may(viewer, "download_cost") and name == "cost_FS_2025.xlsx"
    sheet = openpyxl.load_workbook(io.BytesIO(content))["Cost"]
    header = [c.value for c in sheet[1]]
    total = sum(row[header.index("cost_cny")] for row in sheet.iter_rows(min_row=2, values_only=True))
    assert total == pytest.approx(cli_total, abs=0.01)


def test_cockpit_zero_carbon_scorecards_are_the_engines_and_scoped(demo_url):
    """Each visible plant's scorecard is cms.zerocarbon.assess of its stored record; an FS user sees only FS;
    the T/CECA pack's unset star thresholds show as 'undetermined', with the parameters named."""
    from cms.zerocarbon import assess
    from cms.zerocarbon_inputs import plant_record
    from cms.zerocarbon_pack import find_pack
    from dashboards.auth import create_user, visible_node_ids
    from dashboards.pages.zerocarbon import assessments, pack_choices, scorecard, unconfigured_parameters

    assert {c["value"].split("@")[0] for c in pack_choices("zh")} == {"RE100-OFFSET100", "T-CECA-G-0171-2022"}
    re100, ceca = find_pack("RE100-OFFSET100"), find_pack("T-CECA-G-0171-2022")
    with psycopg.connect(demo_url) as conn:
        ids = dict(conn.execute("SELECT code, node_id FROM node").fetchall())
        every = assessments(conn, re100, list(ids.values()), 2025)
        assert [n["code"] for n, _ in every] == ["FS", "QD"]
        for node, got in every:
            want = assess(re100, plant_record(conn, node["code"], 2025))
            assert got.as_dict() == want.as_dict()
        fs_user = create_user(conn, "fs-zc", "pw-fs-zc", "viewer", scope_codes=["FS"])
        conn.commit()
        fs = assessments(conn, ceca, visible_node_ids(conn, fs_user), 2025)
    assert [n["code"] for n, _ in fs] == ["FS"]
    node, a = fs[0]
    qd = next(x for n, x in every if n["code"] == "QD")
    text_en = str(scorecard({"code": "QD", "name_en": "Qingdao plant"}, qd, re100, "en"))
    gap = next(i for i in qd.items if i.id == "residual_offset").shortfall
    assert qd.outcome == "not_met" and "not met" in text_en and f"{gap:,.0f}" in text_en
    assert "Qingdao plant" in text_en and "100 % renewable electricity" in text_en
    card_zh = str(scorecard(node, a, ceca, "zh"))
    assert "min_score_3_star" in unconfigured_parameters(ceca)
    assert "无法判定" in card_zh and "min_score_3_star" in card_zh and "剩余排放100%抵消" in card_zh
    assert a.level is None and next(i for i in a.items if i.id == "renewable_electricity_share").status == "unconfigured"
    assert "未配置" in card_zh


def test_cockpit_overview_target_trajectory_equals_the_cli(run, demo_url):
    """Allowed, actual and gap for the year are `ems target show --inventories`; an FS user gets FS only."""
    from dashboards.auth import create_user, visible_node_ids
    from dashboards.pages.overview import target_figure, target_table, target_view

    code, out, err = run("target", "show", "--node", "CCG", "--year", "2025", "--inventories", "--json")
    assert code == 0, err
    [block] = json.loads(out)
    cli = {r["plant"]: r for r in block["rows"]}
    with psycopg.connect(demo_url) as conn:
        ids = dict(conn.execute("SELECT code, node_id FROM node").fetchall())
        rows, series = target_view(conn, list(ids.values()), 2025)
        fs_user = create_user(conn, "fs-targets", "pw-fs-t", "viewer", scope_codes=["FS"])
        conn.commit()
        fs_rows, fs_series = target_view(conn, visible_node_ids(conn, fs_user), 2025)
    assert [r["node"] for r in rows] == ["CCG", "FS", "QD"]
    for r in rows:
        for key in ("allowed_tco2e", "actual_tco2e", "gap_tco2e", "offsets_retired_tco2e"):
            assert r[key] == pytest.approx(cli[r["node"]][key]), (r["node"], key)
    [group] = series                                          # the group's path, 2024 .. 2050, one actual point
    assert group["years"][0] == 2024 and group["years"][-1] == 2050 and group["allowed"][-1] == 0
    assert group["allowed"][0] == pytest.approx(11000 + 21000)
    assert group["actual_years"] == [2025] and group["actual"][0] == pytest.approx(cli["CCG"]["actual_tco2e"])
    assert [r["node"] for r in fs_rows] == ["FS"] and [s["node"] for s in fs_series] == ["FS"]
    assert fs_rows[0]["gap_tco2e"] == pytest.approx(cli["FS"]["gap_tco2e"])
    assert f"{cli['FS']['allowed_tco2e']:,.0f}" in str(target_table(fs_rows, "en"))
    assert "QD" not in str(target_table(fs_rows, "en"))
    assert len(target_figure(series, 2025, "zh").data) == 2
    assert "ems target set FILE" in str(target_table([], "zh"))


def test_cockpit_carbon_breakdowns_equal_the_engine_and_are_scoped(run, demo_url):
    """Scope 1 by source and per gas are the engine's; instruments by kind from the register; offsets apart;
    every revision listed; an FS user sees FS's figures only."""
    from dashboards.auth import create_user, visible_node_ids
    from dashboards.pages.carbon import (
        breakdown_summaries,
        gas_table,
        gases,
        instrument_kinds,
        inventories,
        offsets_retired,
        revisions,
        revisions_table,
        scope1_sources,
        sources_table,
    )

    engine = {}
    for node in ("CCG", "FS"):
        code, out, err = run("inventory", "compute", "--year", "2025", "--node", node, "--json")
        assert code == 0, err
        engine[node] = json.loads(out)
    with psycopg.connect(demo_url) as conn:
        ids = dict(conn.execute("SELECT code, node_id FROM node").fetchall())
        every = list(ids.values())
        summaries = breakdown_summaries(inventories(conn, every, 2025), every)
        kinds = instrument_kinds(conn, summaries)
        history = revisions(conn, every, 2025)
        claimed = dict(conn.execute(
            """SELECT i.kind, sum(c.mwh)::float8 FROM inventory_claim c JOIN inventory v USING (inventory_id)
               JOIN instrument_claim ic ON ic.claim_id = c.claim_id JOIN instrument i USING (instrument_id)
               JOIN node n ON n.node_id = v.node_id WHERE n.code = 'CCG' AND v.year = 2025
                 AND v.revision = (SELECT max(revision) FROM inventory WHERE node_id = v.node_id AND year = 2025)
               GROUP BY i.kind""").fetchall())
        fs_user = create_user(conn, "fs-breakdown", "pw-fs-b", "viewer", scope_codes=["FS"])
        conn.commit()
        fs_visible = visible_node_ids(conn, fs_user)
        fs_summaries = breakdown_summaries(inventories(conn, fs_visible, 2025), fs_visible)
        fs_history = revisions(conn, fs_visible, 2025)
        fs_offsets = offsets_retired(conn, fs_visible, 2025)
    assert len(summaries) == 1 and summaries[0]["scope1_tco2e"] == engine["CCG"]["scope1_tco2e"]
    sources = scope1_sources(summaries)
    assert sources == {k: pytest.approx(v) for k, v in engine["CCG"]["by_category"]["scope1"].items()}
    assert sum(sources.values()) == pytest.approx(engine["CCG"]["scope1_tco2e"], abs=1e-3)
    by_gas = gases(summaries)
    for key, groups in engine["CCG"]["by_gas"].items():
        for gas, v in groups.items():
            assert by_gas[key][gas]["tco2e"] == pytest.approx(v["tco2e"])
    assert kinds == {k: pytest.approx(v) for k, v in claimed.items()}
    assert set(history["code"]) == {"CCG", "FS", "QD"} and (history["revision"] >= 1).all()
    # the FS user: FS's own inventory, its figures, its history, no QD anywhere
    assert fs_summaries[0]["scope1_tco2e"] == engine["FS"]["scope1_tco2e"]
    assert scope1_sources(fs_summaries) == {k: pytest.approx(v)
                                            for k, v in engine["FS"]["by_category"]["scope1"].items()}
    assert set(fs_history["code"]) == {"FS"} and fs_offsets.empty
    assert "QD" not in str(revisions_table(fs_history, "en"))
    assert "固定燃烧" in str(sources_table(scope1_sources(fs_summaries), "zh")) or not scope1_sources(fs_summaries)
    assert "tCO2e" in str(gas_table(gases(fs_summaries), "en"))


def test_cockpit_new_callbacks_as_another_plants_user(demo_url, tmp_path, monkeypatch):
    """Through the app's own callback endpoint, logged in as an FS user: no QD scorecard, target row or revision."""
    import re

    from dashboards.app import create_app
    from dashboards.auth import create_user
    from ems.db import open_database

    monkeypatch.delenv("EMS_SECRET_KEY", raising=False)
    db = open_database(url=demo_url)
    try:
        with db.connection() as conn:
            create_user(conn, "fs-cb", "pw-fs-cb", "energy_manager", scope_codes=["FS"], language="en")
        client = create_app(db, data_dir=tmp_path).server.test_client()
        page = client.get("/login").get_data(as_text=True)
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        assert client.post("/login", data={"username": "fs-cb", "password": "pw-fs-cb", "csrf": csrf,
                                           "next": "/"}).status_code == 302

        def call(outputs: list[tuple[str, str]], inputs: list[tuple[str, str, object]]) -> dict:
            body = {"output": "...".join(f"{i}.{p}" for i, p in outputs) if len(outputs) > 1 else
                    f"{outputs[0][0]}.{outputs[0][1]}",
                    "outputs": [{"id": i, "property": p} for i, p in outputs] if len(outputs) > 1 else
                    {"id": outputs[0][0], "property": outputs[0][1]},
                    "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
                    "changedPropIds": [f"{inputs[0][0]}.{inputs[0][1]}"], "state": []}
            if len(outputs) > 1:
                body["output"] = ".." + body["output"] + ".."
            answer = client.post("/_dash-update-component", json=body)
            assert answer.status_code == 200, answer.get_data(as_text=True)[:500]
            return json.loads(answer.get_data(as_text=True))["response"]

        zc = call([("zc-pack-info", "children"), ("zc-cards", "children")],
                  [("zc-pack", "value", "RE100-OFFSET100@1"), ("zc-year", "value", 2025)])
        text = json.dumps(zc, ensure_ascii=False)
        assert "zc-card-FS" in text and "zc-card-QD" not in text
        targets = call([("overview-target-table", "children"), ("overview-target-chart", "figure")],
                       [("overview-year", "value", 2025)])
        text = json.dumps(targets)
        assert '"FS"' in text and '"QD"' not in text and '"CCG"' not in text   # rows of FS only
        details = call([("carbon-sources", "children"), ("carbon-gases", "children"),
                        ("carbon-instruments", "children"), ("carbon-offsets", "children"),
                        ("carbon-revisions", "children")], [("carbon-year", "value", 2025)])
        text = json.dumps(details)
        assert '"FS"' in text and '"QD"' not in text and '"CCG"' not in text
        routed = call([("page", "children")], [("url", "pathname", "/zerocarbon")])
        assert "Zero-carbon factory" in json.dumps(routed) and "zc-pack" in json.dumps(routed)
    finally:
        db.close()


@pytest.mark.slow
def test_cockpit_carbon_pages_in_the_browser(demo_url, tmp_path, monkeypatch):
    """The demo group in headless Chromium: zero-carbon scorecards (both packs), the overview's target
    trajectory and the carbon page's breakdowns render without console errors; screenshots in docs/."""
    import threading

    from werkzeug.serving import make_server

    from dashboards.app import create_app
    from ems.db import open_database

    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.skip("needs /usr/bin/chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    monkeypatch.delenv("EMS_SECRET_KEY", raising=False)
    shots = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
    db = open_database(url=demo_url)
    server = make_server("127.0.0.1", 0, create_app(db, data_dir=tmp_path).server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    errors: list[str] = []
    try:
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(chromium), headless=True,
                                         args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
                page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
                page.set_default_timeout(20_000)
                base = f"http://127.0.0.1:{server.server_port}"
                page.goto(base + "/zerocarbon")
                page.fill("#username", "demo")
                page.fill("#password", "demo")
                page.click("#login-submit")
                page.wait_for_selector("#zc-card-QD")
                page.wait_for_selector("#zc-card-FS")
                card = page.inner_text("#zc-card-QD")
                assert "未达成" in card or "not met" in card
                shots.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(shots / "zerocarbon.png"), full_page=True)
                page.click("#zc-pack")
                page.click("text=T-CECA-G-0171-2022")
                page.wait_for_selector("#zc-unset-QD")
                assert "min_score_3_star" in page.inner_text("#zc-unset-QD")
                page.screenshot(path=str(shots / "zerocarbon-ceca.png"), full_page=True)
                page.click("#nav-overview")
                page.wait_for_selector("#target-rows")
                page.wait_for_selector("#overview-target-chart .js-plotly-plot .scatterlayer .trace")
                page.screenshot(path=str(shots / "overview.png"), full_page=True)
                page.click("#nav-carbon")
                page.wait_for_selector("#carbon-revision-rows")
                page.wait_for_selector("#carbon-source-rows")
                page.screenshot(path=str(shots / "carbon.png"), full_page=True)
            finally:
                browser.close()
    finally:
        server.shutdown()
        thread.join(timeout=5)
        db.close()
    assert errors == []


def test_cockpit_instruments_and_offsets_stay_apart(run, demo_url, tmp_path):
    """A GEC claimed by FS and a CCER retirement against FS: the carbon page shows the MWh per kind the
    engine claimed and the retirement in its own ledger (Scope 1/2 unchanged by it); the target row and the
    scorecard carry the same retired tCO2e; a QD user sees neither."""
    from cms.zerocarbon_pack import find_pack
    from dashboards.auth import create_user, visible_node_ids
    from dashboards.pages.carbon import breakdown_summaries, instrument_kinds, inventories, offsets_retired
    from dashboards.pages.overview import target_view
    from dashboards.pages.zerocarbon import assessments

    csv = tmp_path / "gec.csv"
    csv.write_text("code,kind,node_code,mwh,vintage,period_start,period_end,retired_on\n"
                   "GEC-FS-2025,gec,FS,300,2025,2025-01-01,2026-01-01,2025-07-01\n", encoding="utf-8")
    assert run("instruments", "import", str(csv))[0] == 0
    assets = tmp_path / "offsets.yaml"
    assets.write_text("offset_lots:\n  - {id: CCER-1, standard: CCER, quantity_tco2e: 500, vintage: 2024}\n"
                      "retirements:\n  - {lot_id: CCER-1, plant: FS, year: 2025, quantity_tco2e: 120, serial: S-1}\n",
                      encoding="utf-8")
    code, _, err = run("carbon-assets", "load", str(assets))
    assert code == 0, err
    engine = {}
    for node in ("FS", "CCG"):
        code, out, err = run("inventory", "compute", "--year", "2025", "--node", node, "--json")
        assert code == 0, err
        engine[node] = json.loads(out)
    assert float(engine["FS"]["instrument_claims_mwh"]["GEC-FS-2025"]) > 0
    code, out, err = run("target", "show", "--node", "CCG", "--year", "2025", "--inventories", "--json")
    cli = {r["plant"]: r for r in json.loads(out)[0]["rows"]}
    with psycopg.connect(demo_url) as conn:
        fs_user = create_user(conn, "fs-apart", "pw-fs-a", "viewer", scope_codes=["FS"])
        qd_user = create_user(conn, "qd-apart", "pw-qd-a", "viewer", scope_codes=["QD"])
        conn.commit()
        fs, qd = visible_node_ids(conn, fs_user), visible_node_ids(conn, qd_user)
        fs_summaries = breakdown_summaries(inventories(conn, fs, 2025), fs)
        kinds = instrument_kinds(conn, fs_summaries)
        fs_offsets, qd_offsets = offsets_retired(conn, fs, 2025), offsets_retired(conn, qd, 2025)
        qd_kinds = instrument_kinds(conn, breakdown_summaries(inventories(conn, qd, 2025), qd))
        [fs_row], _ = target_view(conn, fs, 2025)
        [(_, card)] = assessments(conn, find_pack("RE100-OFFSET100"), fs, 2025)
    assert kinds == {"gec": pytest.approx(float(engine["FS"]["instrument_claims_mwh"]["GEC-FS-2025"]))}
    assert qd_kinds == {} and qd_offsets.empty
    assert list(fs_offsets["lot"]) == ["CCER-1"] and fs_offsets["tco2e"].sum() == pytest.approx(120)
    assert fs_summaries[0]["scope1_tco2e"] == engine["FS"]["scope1_tco2e"]        # never netted
    assert fs_row["offsets_retired_tco2e"] == pytest.approx(120) == pytest.approx(cli["FS"]["offsets_retired_tco2e"])
    assert fs_row["gap_tco2e"] == pytest.approx(cli["FS"]["gap_tco2e"])          # the gap stays gross
    assert card.neutralised_tco2e == pytest.approx(120)


def _ids(conn) -> dict[str, int]:
    return dict(conn.execute("SELECT code, node_id FROM node").fetchall())


def test_cockpit_energy_analytics_equal_the_cli(run, demo_url):
    """Profile, peak, Sankey, tce, intensity and cost panels of the energy page equal `ems profile|peak|sankey|
    tce|intensity` and `centre_report` over the same range, computed from the roll-ups."""
    from datetime import date

    import pandas as pd

    from dashboards.pages import energy_analytics as ea
    from ems.analytics.cost_data import centre_report

    lo, hi = date(2025, 7, 1), date(2025, 7, 21)          # local days, i.e. START .. END (exclusive)
    cli = {}
    for cmd in ("profile", "peak", "sankey", "tce", "intensity"):
        code, out, err = run(cmd, "--node", "QD", "--from", START, "--to", END, "--json")
        assert code == 0, err
        cli[cmd] = json.loads(out)
    with psycopg.connect(demo_url) as conn:
        ids = _ids(conn)
        every = list(ids.values())
        days, peaks = ea.profile_and_peak(conn, ids["QD"], every, lo, hi)
        data = ea.sankey(conn, ids["QD"], every, lo, hi)
        table, skipped, per_unit = ea.tce_and_intensity(conn, ids["QD"], every, lo, hi)
        report = ea.cost(conn, ids["QD"], every, lo, hi)
        tz = "Asia/Shanghai"
        expected = centre_report(conn, "QD", tz, pd.Timestamp(START, tz=tz), pd.Timestamp(END, tz=tz), centres=False)
        group_cost = ea.cost(conn, ids["CCG"], every, lo, hi)
    # typical days and monthly peak
    assert {k: d.attrs["n_days"] for k, d in days.items()} == cli["profile"]["n_days"]
    for row in cli["profile"]["profile"]:
        t = pd.Timestamp(row["time"]).time()
        for kind in ("workday", "weekend"):
            assert days[kind].loc[t, "mean"] == pytest.approx(row[f"{kind}_kw"], rel=1e-9), (kind, row["time"])
    [july] = cli["peak"]
    assert peaks["peak_kw"].iloc[0] == pytest.approx(july["peak_kw"], rel=1e-9)
    assert pd.Timestamp(peaks["peak_time"].iloc[0]) == pd.Timestamp(july["peak_time"])
    # Sankey: the same links, the grid link is the raw grid sum, unmetered links kept
    links = {(r["source"], r["target"]): r["value"] for r in data.links.to_dict("records")}
    assert links == {(r["source"], r["target"]): pytest.approx(r["value"]) for r in cli["sankey"]["links"]}
    grid = links[("10 kV main incomer active energy (grid import)", "Site electricity use (virtual)")]
    assert grid == pytest.approx(raw_sum(demo_url, "QD.MAIN.kWh") / 1000, rel=1e-9)
    fig = ea.sankey_figure(data, "zh")
    assert fig.data[0].type == "sankey" and len(fig.data[0].link.value) == len([v for v in links.values() if v > 0])
    # tce (equivalent basis) and intensity
    assert float(table["tce"].sum()) == pytest.approx(cli["tce"]["total_tce"], rel=1e-12)
    assert set(skipped) == set(cli["tce"]["not_counted"])
    assert f"{cli['tce']['total_tce']:,.3f}" in str(ea.tce_table(table, skipped, "en"))
    assert sorted(per_unit["kwh_per_unit"].round(9)) == sorted(round(r["kwh_per_unit"], 9) for r in cli["intensity"])
    # cost per TOU period: priced from the 15-min roll-ups, equal to the raw-reading report
    assert report.tou["cost_cny"].sum() == pytest.approx(expected.tou["cost_cny"].sum(), rel=1e-9)
    assert report.tou["kwh"].sum() == pytest.approx(expected.tou["kwh"].sum(), rel=1e-9)
    got = report.tou.groupby("tou_period")["cost_cny"].sum()
    assert got.to_dict() == pytest.approx(expected.tou.groupby("tou_period")["cost_cny"].sum().to_dict(), rel=1e-9)
    assert f"{expected.tou['cost_cny'].sum():,.0f}" in str(ea.cost_view(report, "en"))
    # a node without a tariff of its own (the group spans two sites): an explicit message, not an error
    assert group_cost == ea.NO_TARIFF and "choose a plant" in str(ea.cost_view(group_cost, "en"))


def test_cockpit_energy_quality_panel_and_scope(run, demo_url):
    """The balance/completeness panel reads quality_day/quality_balance for the node's meters; it says
    `ems quality run` when nothing is computed; a user of another plant gets nothing from any panel."""
    from datetime import date

    from dashboards.auth import create_user, visible_node_ids
    from dashboards.pages import energy_analytics as ea

    assert run("quality", "run", "--node", "CCG", "--day", "2025-07-12")[0] == 0
    day = date(2025, 7, 12)
    with psycopg.connect(demo_url) as conn:
        ids = _ids(conn)
        every = list(ids.values())
        meters, balance = ea.quality(conn, ids["QD"], every, day, day)
        expected = conn.execute(
            """SELECT p.code, q.received::float8 / q.expected FROM quality_day q JOIN point p USING (point_id)
               WHERE q.day = %s AND p.code LIKE 'QD%%' AND q.expected > 0""", (day,)).fetchall()
        empty = ea.quality(conn, ids["QD"], every, date(2025, 6, 1), date(2025, 6, 2))
        expected_balance = conn.execute(
            """SELECT p.code, b.parent_value - b.children_value FROM quality_balance b
               JOIN point p ON p.point_id = b.parent_point_id WHERE b.grain = 'day' AND p.code LIKE 'QD%%'
                 AND b.bucket = %s::timestamp AT TIME ZONE 'Asia/Shanghai'""", (day,)).fetchall()
        fs_user = create_user(conn, "fs-energy-ea", "pw-fs-ea", "viewer", scope_codes=["FS"])
        conn.commit()
        fs = visible_node_ids(conn, fs_user)
        denied = [f(conn, ids["QD"], fs, day, day) for f in (ea.profile_and_peak, ea.sankey, ea.tce_and_intensity,
                                                             ea.cost, ea.quality)]
        fs_meters, _ = ea.quality(conn, ids["FS"], fs, day, day)
    got = {c: v for c, v in zip(meters["code"], meters["completeness"]) if v == v}   # virtual meters: no slots
    assert expected and got == {c: pytest.approx(v) for c, v in expected}
    assert expected_balance and dict(zip(balance["code"], balance["parent"] - balance["children"])) == {
        c: pytest.approx(v, nan_ok=True) for c, v in expected_balance}
    assert "ems quality run" in str(ea.quality_view(empty, "zh")) and "ems quality run" in str(ea.quality_view(empty, "en"))
    assert denied == [None] * 5
    assert not fs_meters.empty and all(c.startswith("FS") for c in fs_meters["code"])


def test_cockpit_energy_analytics_callbacks_as_another_plants_user(demo_url, tmp_path, monkeypatch):
    """Through the app's callback endpoint, an FS user asking for QD's panels gets no data (204), and FS's own."""
    import re
    import time

    from dashboards.app import create_app
    from dashboards.auth import create_user
    from ems.db import open_database

    monkeypatch.delenv("EMS_SECRET_KEY", raising=False)
    db = open_database(url=demo_url)
    try:
        with db.connection() as conn:
            create_user(conn, "fs-ea-cb", "pw-fs-ea-cb", "energy_manager", scope_codes=["FS"], language="en")
            ids = _ids(conn)
        client = create_app(db, data_dir=tmp_path).server.test_client()
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
        assert client.post("/login", data={"username": "fs-ea-cb", "password": "pw-fs-ea-cb", "csrf": csrf,
                                           "next": "/"}).status_code == 302

        def call(output: str, node: int):
            outs = [{"id": o.split(".")[0], "property": o.split(".")[1]} for o in output.split("+")]
            body = {"output": output.replace("+", "...").join(("..", "..")) if len(outs) > 1 else output,
                    "outputs": outs if len(outs) > 1 else outs[0],
                    "inputs": [{"id": "drill-node", "property": "value", "value": node},
                               {"id": "date-range", "property": "start_date", "value": "2025-07-01"},
                               {"id": "date-range", "property": "end_date", "value": "2025-07-21"}],
                    "changedPropIds": ["drill-node.value"], "state": []}
            t0 = time.perf_counter()
            answer = client.post("/_dash-update-component", json=body)
            return answer, time.perf_counter() - t0

        for output in ("ea-cost.children", "ea-quality.children", "ea-tce.children+ea-intensity.children",
                       "ea-sankey.figure+ea-sankey-note.children", "ea-profile.figure+ea-peak.figure"):
            answer, _ = call(output, ids["QD"])
            assert answer.status_code == 204, output           # PreventUpdate: nothing about QD
            answer, seconds = call(output, ids["FS"])
            text = answer.get_data(as_text=True)
            assert answer.status_code == 200 and '"response"' in text and "QD." not in text, output
            print(f"{output}: {seconds:.2f} s")
    finally:
        db.close()


def test_cockpit_systems_live_kpis_and_forecast_band(run, demo_url):
    """Live KPIs of the latest day (header pressure from the day roll-up, leak baseline from air_stations) and
    the stored forecast with its p10-p90 band against actuals; nothing for another plant's user."""
    from datetime import date

    import pandas as pd
    from dash.exceptions import PreventUpdate

    from dashboards.auth import create_user, visible_node_ids
    from dashboards.pages import systems as sp
    from ems.analytics.reports import air_stations

    with psycopg.connect(demo_url) as conn:
        trained = conn.execute("SELECT 1 FROM forecast_model WHERE target = 'QD.AIR.F'").fetchone()
    if not trained:
        code, _, err = run("forecast", "train", "--point", "QD.AIR.F", "--freq", "1h", "--horizon", "1d",
                           "--days", "14", "--until", "2025-07-15T00:00:00Z", "--models", "ets", "--folds", "2")
        assert code == 0, err
        assert run("forecast", "run", "--point", "QD.AIR.F", "--at", "2025-07-16T00:00:00Z")[0] == 0
        assert run("forecast", "accuracy", "--point", "QD.AIR.F")[0] == 0
    with psycopg.connect(demo_url) as conn:
        ids = _ids(conn)
        every = list(ids.values())
        live = sp.live_kpis(conn, ids["QD.AIR"], every)
        tz = "Asia/Shanghai"
        day0 = pd.Timestamp(live["day"]).tz_localize(tz)
        [station] = air_stations(conn, "QD", day0 - pd.Timedelta(days=6), day0 + pd.Timedelta(days=1),
                                 "month")["QD.AIR"].to_dict("records")
        pressure = conn.execute(
            """SELECT avg(value), min(value) FROM reading r JOIN point p USING (point_id) WHERE p.code = 'QD.AIR.P'
               AND r.ts >= %s AND r.ts < %s""", (day0, day0 + pd.Timedelta(days=1))).fetchone()
        points = sp.forecast_points(conn, ids["QD.AIR"], every)
        series = sp.forecast_series(conn, int(points["point_id"].iloc[0]), every, date(2025, 7, 15), date(2025, 7, 17))
        fs = visible_node_ids(conn, create_user(conn, "fs-sys-live", "pw-fs-sl", "viewer", scope_codes=["FS"]))
        conn.commit()
        with pytest.raises(PreventUpdate):
            sp.live_kpis(conn, ids["QD.AIR"], fs)
        assert sp.forecast_points(conn, ids["QD.AIR"], fs).empty
        assert sp.forecast_series(conn, int(points["point_id"].iloc[0]), fs, date(2025, 7, 15), date(2025, 7, 17)).empty
        assert sp.live_kpis(conn, ids["FS.AIR"], fs)["kind"] == "air"
    assert live["day"] == date(2025, 7, 21) and live["kind"] == "air"
    assert live["kpis"]["leak_m3_per_min"] == pytest.approx(station["leak_m3_per_min"])
    assert live["kpis"]["pressure_mean"] == pytest.approx(pressure[0], rel=1e-6)
    assert live["kpis"]["pressure_min"] == pytest.approx(pressure[1], rel=1e-6)
    assert "Header pressure min" in str(sp.live_tiles(live, "en"))
    assert list(points["code"]) == ["QD.AIR.F"]
    assert len(series) == 24 and (series["p10"] <= series["p50"]).all() and (series["p50"] <= series["p90"]).all()
    assert series["actual"].notna().all()
    fig = sp.forecast_figure(series, "m3/min", "zh")
    assert len(fig.data) == 4 and fig.data[1].fill == "tonexty"
    assert "ems forecast" in str(sp.forecast_figure(series.iloc[:0], "m3/min", "en").layout)


def _energy_and_systems_panels(conn, ids: list[int]):
    """The energy page's analytics panels and the systems page's live KPIs and forecast, filled with demo
    data (and empty), as a function of the language: for the translation walk."""
    from datetime import date

    from dashboards.pages import energy_analytics as ea
    from dashboards.pages import systems as sp

    node = conn.execute("SELECT node_id FROM node WHERE code = 'QD'").fetchone()[0]
    air = conn.execute("SELECT node_id FROM node WHERE code = 'QD.AIR'").fetchone()[0]
    lo, hi = date(2025, 7, 1), date(2025, 7, 21)
    table, skipped, per_unit = ea.tce_and_intensity(conn, node, ids, lo, hi)
    report, quality = ea.cost(conn, node, ids, lo, hi), ea.quality(conn, node, ids, lo, hi)
    group_cost = ea.cost(conn, ids[0], ids, lo, hi)
    empty_quality = ea.quality(conn, node, ids, date(2025, 6, 1), date(2025, 6, 1))
    live = sp.live_kpis(conn, air, ids)

    def panels(lang: str) -> list:
        return [ea.layout(lang), ea.tce_table(table, skipped, lang), ea.intensity_table(per_unit, lang),
                ea.intensity_table(per_unit.iloc[:0], lang), ea.cost_view(report, lang), ea.quality_view(quality, lang),
                ea.quality_view(empty_quality, lang), ea.tce_table(table.iloc[:0], {}, lang),
                ea.cost_view(group_cost, lang), sp.live_tiles(live, lang),
                sp.live_tiles(None, lang)]
    return panels


def test_group_sankey_keeps_the_plants_apart(run, demo_url):
    code, out, err = run("sankey", "--node", "CCG", "--from", START, "--to", END, "--json")
    assert code == 0, err
    links = {(link["source"], link["target"]): link["value"] for link in json.loads(out)["links"]}
    qd = links[("10 kV main incomer active energy (grid import) (QD.MAIN.kWh)", "Site electricity use (virtual) (QD.LOAD.kWh)")]
    fs = links[("10 kV main incomer active energy (grid import) (FS.MAIN.kWh)", "Site electricity use (virtual) (FS.LOAD.kWh)")]
    assert qd == pytest.approx(raw_sum(demo_url, "QD.MAIN.kWh") / 1000) and fs == pytest.approx(
        raw_sum(demo_url, "FS.MAIN.kWh") / 1000)
