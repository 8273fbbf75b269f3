"""The scheduled chilled-water recommendation job on stored readings (no twin): two simulated weeks of the
demo group imported through the real path, then ``chw_recommend`` at the last stored step."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import psycopg
import pytest

pytestmark = pytest.mark.db

START, DAYS = "2025-07-01", 21                              # the shared demo database (conftest)
LAST = pd.Timestamp(START) + pd.Timedelta(days=DAYS)        # last stored interval end (local midnight)
AT = LAST - pd.Timedelta("10h")                               # a working afternoon, 14:00 local
TZ = "Asia/Shanghai"


@pytest.fixture(scope="module")
def demo_url(demo_copy) -> str:
    return demo_copy


def _recs(conn, at: pd.Timestamp) -> dict[str, dict]:
    from ems.optimize import store

    rows = [r for r in store.list_recommendations(conn, status="proposed")
            if r["valid_from"] == at.tz_localize(TZ) and r["system"] == "chilled_water"]
    return {r["plant_code"]: r for r in rows}


def test_job_is_registered():
    from ems.service.registry import lookup

    spec = lookup("chw_recommend")
    assert spec is not None and spec.target == "ems.optimize.jobs:chw_recommend" and spec.description
    from ems.optimize.jobs import chw_recommend

    assert spec.resolve() is chw_recommend


def test_stored_observation_matches_optimiser_keys(demo_url):
    from ems.optimize.chw_control import EXO_KEYS
    from ems.optimize.history import CHW_REQUIRED
    from ems.optimize.observe import history_from_store, observe_stored

    with psycopg.connect(demo_url, autocommit=True) as conn:
        so = observe_stored(conn, "FS", AT)
        hist, plan = history_from_store(conn, "FS", AT, days=7)
    assert so.obs["time"] == AT + pd.Timedelta("15min") and so.last["time"] == AT
    for k in EXO_KEYS:
        assert np.isfinite(so.obs[k]), k
    for k in ("_chw_load_kw", "_ws1_t_c", "_ws2_rh_pct", "_ws3_t_c"):
        assert np.isfinite(so.last[k]), k
    assert so.obs["hvac_on"] == 1.0 and so.obs["intensity"] > 0.3       # working afternoon
    assert 15.0 < so.last["_ws1_t_c"] < 35.0 and 0.0 < so.last["_ws1_rh_pct"] <= 100.0
    assert so.last["_chw_load_kw"] > 100.0
    assert set(CHW_REQUIRED) <= set(hist.columns) and {"ch1_kw", "ch1_evap_kw", "ws3_rh_pct"} <= set(hist.columns)
    assert hist.index.max() <= AT and len(hist) > 500 and not hist["chw_load_kw"].isna().any()
    assert list(plan.columns) == ["intensity", "hvac_on"] and plan.index.equals(hist.index)


def test_chw_recommend_stores_proposed_for_each_plant_and_skips_stale(demo_url, caplog):
    from ems.optimize.config import plant_config
    from ems.optimize.jobs import chiller_plants, chw_recommend

    with psycopg.connect(demo_url, autocommit=True) as conn:
        assert chiller_plants(conn) == ["FS", "QD"]
        assert chw_recommend(conn, at=AT) == 2
        recs = _recs(conn, AT)
        assert set(recs) == {"FS", "QD"}
        for plant, r in recs.items():
            cfg = plant_config(plant).chw
            d = r["decision"]
            assert r["status"] == "proposed"
            assert cfg.chws_min_c <= d["chws_setpoint_c"] <= cfg.chws_max_c
            assert all(cfg.chws_min_c <= x <= cfg.chws_max_c for x in d["plan_chws_setpoint_c"])
            assert 0 <= d["n_chillers"] <= cfg.n_chillers
            for k in ("expected_kwh_saved", "expected_cost_cny_saved", "expected_tco2_saved"):
                assert r[k] is not None and np.isfinite(r[k]), (plant, k)
            assert r["valid_to"] - r["valid_from"] == pd.Timedelta("1h")
        # a re-run for the same step stores nothing new
        assert chw_recommend(conn, at=AT) == 0

        # the last 2 h of one zone temperature lost: FS is skipped with the reason, QD still gets one
        at2 = AT + pd.Timedelta("15min")
        conn.execute("""DELETE FROM reading WHERE point_id = (SELECT point_id FROM point WHERE code = 'FS.WS1.T')
                        AND ts > %s AND ts <= %s""", ((at2 - pd.Timedelta("2h")).tz_localize(TZ), at2.tz_localize(TZ)))
        with caplog.at_level(logging.WARNING, logger="ems.optimize.jobs"):
            assert chw_recommend(conn, at=at2) == 1
        recs2 = _recs(conn, at2)
        assert set(recs2) == {"QD"}
        skipped = [r.getMessage() for r in caplog.records if "FS skipped" in r.getMessage()]
        assert skipped and "FS.WS1.T" in skipped[0] and ("stale" in skipped[0] or "no usable reading" in skipped[0])


def test_stored_weather_forecast_is_used_when_fresh(demo_url):
    from ems.optimize.observe import observe_stored

    at = AT - pd.Timedelta("1D")
    issued = (at - pd.Timedelta("10min")).tz_localize(TZ)
    with psycopg.connect(demo_url, autocommit=True) as conn:
        pid = conn.execute("SELECT point_id FROM point WHERE code = 'FS.WX.T'").fetchone()[0]
        mid = conn.execute(
            """INSERT INTO forecast_model (target, point_id, model, step_s, horizon_steps, quantiles, train_start,
                   train_end, artefact, artefact_sha256, is_champion)
               VALUES ('FS.WX.T', %s, 'test', 900, 8, '{0.5}', %s, %s, '\\x00', 'x', true) RETURNING model_id""",
            (pid, issued - pd.Timedelta("7D"), issued)).fetchone()[0]
        for k in range(8):     # bucket starts = interval ends of the horizon (instantaneous point)
            ts = (at + pd.Timedelta("15min") * (k + 1)).tz_localize(TZ)
            conn.execute("""INSERT INTO forecast_value (model_id, issued_at, ts, step, p50, quantiles)
                            VALUES (%s, %s, %s, %s, %s, '{}')""", (mid, issued, ts, k + 1, 40.0 + k))
        try:
            so = observe_stored(conn, "FS", at)
        finally:
            conn.execute("DELETE FROM forecast_model WHERE model_id = %s", (mid,))
    assert so.forecast_issued == issued.tz_localize(None)
    assert so.obs["temp_c"] == 40.0 and list(so.ahead["temp_c"]) == [40.0 + k for k in range(8)]
    assert so.ahead["wet_bulb_c"].iloc[-1] > so.ahead["wet_bulb_c"].iloc[0]
    assert so.obs["rh_pct"] == so.last["_wx_rh_pct"]          # RH has no forecast: persisted


def test_trust_region_holds_setpoint_without_history_variation():
    from ems.optimize.config import plant_config
    from ems.optimize.observe import trust_region

    pc = plant_config("FS")
    rng = np.random.default_rng(0)
    flat = pd.DataFrame({"chw_load_kw": 3000.0, "chws_c": 7.0 + rng.normal(0, 0.05, 500)})
    cfg, note = trust_region(pc, flat, 7.0)
    assert cfg.chws_min_c == cfg.chws_max_c == 7.0 and "held at 7.0" in note
    wide = pd.DataFrame({"chw_load_kw": 3000.0, "chws_c": rng.uniform(6.0, 13.0, 2000)})
    cfg, note = trust_region(pc, wide, 7.0)
    assert cfg.chws_min_c == pc.chw.chws_min_c and cfg.chws_max_c >= 13.0
    some = pd.DataFrame({"chw_load_kw": 3000.0, "chws_c": rng.uniform(7.0, 8.0, 2000)})
    cfg, note = trust_region(pc, some, 7.0)
    assert (cfg.chws_min_c, cfg.chws_max_c) == (6.5, 8.5) and "limited to 6.5-8.5" in note
