"""Closed-loop twin: stepping API, baseline policies, equivalence and speed."""

from __future__ import annotations

import numpy as np
import pytest

from ems.errors import UserError
from ems.sim.model import Decision
from ems.sim.twin import PlantTwin, baseline_policy, chw_reset_vsd_trim_policy, run_policy, summarise


def test_step_returns_meters_and_registers_accumulate():
    twin = PlantTwin("QD", start="2025-07-07", days=1)
    obs = twin.observe()
    assert obs["plant"] == "QD" and "temp_c" in obs and len(obs["zone_t_c"]) == 3
    m1 = twin.step(baseline_policy(obs))
    m2 = twin.step(Decision())
    assert m2["QD.MAIN.kWh"] >= m1["QD.MAIN.kWh"] > 0
    assert m2["time"] - m1["time"] == np.timedelta64(15, "m")
    assert "QD.WS1.T" in m2 and "QD.AIR.P" in m2 and "QD.LOAD.kWh" not in m2
    assert m2["_grid_kw"] * 0.25 == pytest.approx(m2["QD.MAIN.kWh"] - m1["QD.MAIN.kWh"], rel=1e-9)


def test_run_policy_equals_stepping():
    twin = PlantTwin("FS", start="2025-07-01", days=1)
    rows = []
    while not twin.done:
        rows.append(twin.step(chw_reset_vsd_trim_policy(twin.observe())))
    df = run_policy("FS", chw_reset_vsd_trim_policy, "2025-07-01", "2025-07-02")
    for key in ("grid_kw", "chp_kw", "air_kw", "ws1_t_c", "ws2_rh_pct", "chws_c"):
        np.testing.assert_allclose([r["_" + key] for r in rows], df[key].to_numpy(), rtol=1e-9, equal_nan=True)


def test_warmer_supply_saves_chiller_energy_and_raises_humidity():
    base = run_policy("FS", baseline_policy, "2025-07-07", "2025-07-10")
    warm = run_policy("FS", lambda o: Decision(chws_setpoint_c=10.0), "2025-07-07", "2025-07-10")
    assert warm["chp_kw"].sum() < base["chp_kw"].sum() * 0.97
    occ = base["chw_load_kw"] > 0
    assert warm.loc[occ, "ws2_rh_pct"].mean() > base.loc[occ, "ws2_rh_pct"].mean()
    assert warm.loc[occ, "ws1_t_c"].mean() >= base.loc[occ, "ws1_t_c"].mean() - 0.05


def test_baseline_policies_and_summary():
    df = run_policy("QD", "baseline", "2025-07-14", "2025-07-16")
    s = summarise(df)
    assert s["steps"] == 192 and s["grid_kwh"] > s["chiller_plant_kwh"] > 0
    assert (df["decision_chws_setpoint_c"] == 7.0).all() and (df["bat_chg_kw"] == 0).all()  # no storage
    assert (df["chws_c"].dropna() >= 7.0 - 1e-9).all()


def test_decisions_are_applied_and_validated():
    twin = PlantTwin("QD", start="2025-07-15", days=1)
    for _ in range(40):   # to 10:00, production running
        twin.step()
    m_auto = twin.step(Decision())
    m = twin.step(Decision(n_chillers=3, chw_pump_hz=45.0, battery_kw=400.0,
                           compressor_order=("QD.AC4", "QD.AC1", "QD.AC2", "QD.AC3"), compressor_trim="QD.AC4",
                           air_pressure_setpoint_barg=6.2))
    assert m["_n_chillers"] == 3 and m["_bat_dis_kw"] == pytest.approx(400.0)
    assert m["_air_header_barg"] == pytest.approx(6.2)
    assert m["_chwp_hz"] == pytest.approx(45.0, abs=0.5)
    assert m_auto["_bat_dis_kw"] == 0
    with pytest.raises(UserError):
        twin.step(Decision(chws_setpoint_c=25.0))
    with pytest.raises(UserError):
        twin.step(Decision(compressor_trim="QD.AC9"))
    with pytest.raises(UserError):
        run_policy("QD", "baseline", "2025-07-02", "2025-07-01")


def test_cooling_week_is_fast():
    df = run_policy("FS", "baseline", "2025-07-01", "2025-07-08")
    assert df.attrs["seconds"] < 10.0
