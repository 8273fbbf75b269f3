"""Plant twin physics: published curves at their reference points, energy balances, directions."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pandas as pd
import pytest

from ems.sim import air, chiller, psychro, pumps, tower, weather, zones
from ems.sim.chiller_plant import simulate_chiller_plant
from ems.sim.plants import demo_plants
from ems.sim.schedule import TWO_SHIFT, day_types, production_schedule

RHO_CP = psychro.RHO_WATER_KG_PER_M3 * psychro.CP_WATER_KJ_PER_KG_K / 3600.0  # kW per (m3/h K)


@pytest.mark.parametrize("rec", list(chiller.CHILLER_RECORDS.values()), ids=lambda r: r.name)
def test_chiller_curves_are_one_at_reference(rec):
    x, y = rec.chw_leaving_ref_c, rec.cw_entering_ref_c
    assert chiller.capft(rec, x, y) == pytest.approx(1.0, abs=0.02)
    assert chiller.eirft(rec, x, y) == pytest.approx(1.0, abs=0.02)
    assert chiller.eirfplr(rec, 1.0) == pytest.approx(1.0, abs=0.002)


@pytest.mark.parametrize("rec,cop_half_load", [(chiller.DOE2_CENTRIFUGAL, 5.55), (chiller.CARRIER_19XR_VSD, 5.86),
                                               (chiller.TRANE_RTHB_SCREW, 5.07)])
def test_chiller_cop_matches_reference_table(rec, cop_half_load):
    p, q, plr = chiller.chiller_power_kw(rec, 0.5 * rec.capacity_ref_kw * chiller.capft(rec, 6.67, 29.44), 6.67, 29.44)
    assert q / p == pytest.approx(cop_half_load, rel=0.01)
    assert plr == pytest.approx(0.5, abs=1e-9)


def test_warmer_chilled_water_raises_cop():
    rec = chiller.CARRIER_19XR_VSD
    p7, q7, _ = chiller.chiller_power_kw(rec, 1000.0, 7.0, 29.0)
    p10, q10, _ = chiller.chiller_power_kw(rec, 1000.0, 10.0, 29.0)
    assert q10 / p10 > q7 / p7 * 1.03


def test_yorkcalc_reference_point_and_fan_control():
    assert tower.yorkcalc_approach_k(25.6, 5.6, 1.0) == pytest.approx(3.86, abs=0.01)
    assert tower.yorkcalc_approach_k(25.6, 5.6, 2.0) == pytest.approx(8.71, abs=0.01)
    wb = np.array([10.0, 15.0, 20.0, 23.0])
    fr, _ = tower.fan_ratio_for_setpoint(wb, 5.0, 1.0, 29.0, min_ratio=0.0)
    assert np.all((fr > 0) & (fr < 1))
    assert tower.tower_leaving_c(wb, 5.0, 1.0, fr) == pytest.approx(np.full(4, 29.0), abs=0.05)
    fr_hot, _ = tower.fan_ratio_for_setpoint(np.array([26.5]), 6.0, 1.0, 28.0)
    assert fr_hot[0] == 1.0  # cannot reach: fan at full speed


def test_pump_vfd_motor_curves():
    assert pumps.vfd_efficiency(1.0) == pytest.approx(0.955, abs=0.001)
    assert pumps.vfd_efficiency(0.5) == pytest.approx(0.868, abs=0.001)
    assert pumps.pump_efficiency_correction(1.0) == pytest.approx(1.0, abs=0.002)
    assert pumps.motor_efficiency(1.0) == pytest.approx(0.9695, abs=0.001)
    for kind in ("vsd_fixed_dp", "vsd_dp_reset", "riding_curve"):
        assert pumps.part_load_curve_90_1(kind, 1.0) == pytest.approx(1.0, abs=0.04)


def test_pump_affinity_and_system_curve():
    spec = pumps.PumpSpec(500.0, 30.0)
    # design point at full speed
    assert pumps.pump_speed_for(spec, 500.0, 30.0) == pytest.approx(1.0, abs=1e-9)
    # with zero DP setpoint, flow scales with speed and power roughly with the cube
    q = pumps.flow_at_speed_m3_per_h(spec, np.array([1.0, 0.6]), 1, 500.0, 30.0, 0.0)
    assert q[1] / q[0] == pytest.approx(0.6, rel=1e-6)
    p, s = pumps.pump_group_power_kw(spec, q, 1, pumps.system_head_m(q, 500.0, 30.0, 0.0))
    assert s == pytest.approx([1.0, 0.6], abs=1e-6)
    ratio = p[1] / p[0]
    assert 0.6 ** 3 < ratio < 0.6 ** 3 / 0.85  # cube law, worsened only by drive/motor/pump efficiency
    # a DP setpoint keeps part-flow power above the cube law
    q2 = pumps.flow_at_speed_m3_per_h(spec, np.array([1.0, 0.8]), 1, 500.0, 30.0, 12.0)
    assert q2[1] / q2[0] < 0.8


def test_chiller_plant_energy_balances():
    plant = demo_plants()["FS"].chiller_plant
    load = np.array([500.0, 2500.0, 5000.0, 6500.0])
    r = simulate_chiller_plant(plant, load, 7.0, np.array([24.0, 26.0, 27.0, 27.5]), 29.0)
    water_side = r["chw_flow_m3_per_h"] * RHO_CP * (r["chwr_c"] - r["chws_c"])
    np.testing.assert_allclose(r["evap_kw"], water_side, rtol=0.01)
    np.testing.assert_allclose(r["evap_kw"], r["chiller_evap_kw"].sum(axis=1), rtol=1e-9)
    np.testing.assert_allclose(r["evap_kw"] + r["unmet_kw"], load, rtol=1e-9)
    q_cond = r["chiller_cond_kw"].sum(axis=1)
    np.testing.assert_allclose(q_cond, r["evap_kw"] + r["chiller_kw"].sum(axis=1), rtol=1e-9)
    cw_side = r["cw_flow_m3_per_h"] * RHO_CP * (r["cw_return_c"] - r["cw_supply_c"])
    np.testing.assert_allclose(q_cond, cw_side, rtol=0.01)
    assert np.all(np.diff(r["n_chillers"]) >= 0)
    cop = r["evap_kw"] / r["plant_kw"]
    assert np.all((cop > 3.0) & (cop < 8.0))


def test_compressor_models_reference_points():
    vsd = air.MEASUR_VSD
    f = air.vsd_power_fraction(vsd, np.array([0.0, 202 / 1009, 605 / 1009, 1.0]))
    np.testing.assert_allclose(f * 174.4, [11.2, 55.8, 115.0, 174.4], rtol=1e-9)
    lu = air.MEASUR_LOAD_UNLOAD
    g = air.load_unload_power_fraction(lu, np.array([0.0, 0.5, 1.0]), 15.0, 0.6)
    assert g[0] == 0.0 and g[2] == pytest.approx(1.0)
    assert g[1] > 0.5 + 0.5 * lu.no_load_fraction  # unloaded running + blowdown cost more than linear
    assert air.pressure_power_factor(6.9, 6.9) == pytest.approx(1.0)
    # 100 -> 110 psig costs about +5.4 % (reference note 2.4)
    assert air.pressure_power_factor(110 / 14.5038, 100 / 14.5038) == pytest.approx(1.054, abs=0.006)
    # smaller receiver -> shorter cycles -> more blowdown loss
    assert air.load_unload_power_fraction(lu, 0.5, 5.0, 0.6) > air.load_unload_power_fraction(lu, 0.5, 30.0, 0.6)


def test_air_station_energy_vs_air_delivered():
    st = demo_plants()["QD"].air_station
    prod = np.linspace(5, 45, 9)
    r = air.simulate_air_station(st, prod, 6.5)
    np.testing.assert_allclose(r["delivered_m3_per_min"] + r["unmet_m3_per_min"], r["demand_m3_per_min"], rtol=1e-9)
    assert np.all(r["unmet_m3_per_min"] == 0)
    full_load_sp = min(c.full_load_kw / c.capacity_m3_per_min for c in st.compressors)  # kW per m3/min
    sp = r["compressor_kw"].sum(axis=1) / r["delivered_m3_per_min"]
    assert np.all(sp > full_load_sp * 0.9) and np.all(sp < full_load_sp * 1.6)
    # energy per m3 of air: kWh = kW x h, m3 = m3/min x 60 x h -> the same ratio / 60
    kwh_per_m3 = r["compressor_kw"].sum() * 0.25 / (r["delivered_m3_per_min"].sum() * 15.0)
    assert kwh_per_m3 == pytest.approx(sp.mean() / 60.0, rel=0.1)
    # a VSD trim uses less energy than the plain cascade for the same air
    codes = list(range(len(st.compressors)))
    vsd = next(i for i, c in enumerate(st.compressors) if c.control == "vsd")
    r2 = air.simulate_air_station(st, prod, 6.5, order=[vsd] + [i for i in codes if i != vsd], trim=vsd)
    assert r2["station_kw"].sum() < r["station_kw"].sum()
    # higher pressure -> more leak flow and more power
    r3 = air.simulate_air_station(st, prod, 7.0)
    assert r3["leak_m3_per_min"].mean() > r["leak_m3_per_min"].mean()
    assert r3["station_kw"].sum() > r["station_kw"].sum()


def test_zone_responds_to_chilled_water_temperature():
    za = zones.ZoneArrays(tuple(w.zone for w in demo_plants()["FS"].workshops))
    w_out = psychro.humidity_ratio(34.0, 60.0)
    res = {}
    for chws in (6.0, 12.0):
        t, w = np.full(za.n, 26.0), np.full(za.n, 0.011)
        for _ in range(16):
            r = zones.zone_step(za, t, w, outdoor_c=34.0, outdoor_w=w_out, ghi_w_m2=800.0, intensity=1.0, hvac_on=True,
                                lights_on=True, chws_c=chws, dt_s=900)
            t, w = r["t_c"], r["w"]
        res[chws] = (t, w)
    assert np.all(res[12.0][0] >= res[6.0][0] - 1e-9)       # warmer (capacity) or equal
    assert np.any(res[12.0][0] > res[6.0][0] + 0.2)
    assert np.all(res[12.0][1] > res[6.0][1])                # more humid (less dehumidification)
    # with no cooling at all the zone runs much warmer
    r0 = zones.zone_step(za, res[6.0][0], res[6.0][1], outdoor_c=34.0, outdoor_w=w_out, ghi_w_m2=800.0, intensity=1.0,
                         hvac_on=True, lights_on=True, chws_c=6.0, dt_s=900, coil_limit_kw=0.0)
    assert np.all(r0["t_c"] > res[6.0][0])


def test_psychrometrics():
    assert psychro.wet_bulb_stull_c(20.0, 50.0) == pytest.approx(13.7, abs=0.1)  # Stull (2011) worked example
    assert psychro.rh_from_humidity_ratio_pct(25.0, psychro.humidity_ratio(25.0, 60.0)) == pytest.approx(60.0, abs=0.01)
    assert psychro.dew_point_c(25.0, 100.0) == pytest.approx(25.0, abs=0.01)


def test_weather_from_pvlib_tmy3_two_climates():
    import pvlib

    assert weather.tmy3_path().startswith(os.path.dirname(pvlib.__file__))
    assert "shared" not in weather.tmy3_path()
    idx = pd.date_range("2025-01-01 00:15", periods=35040, freq="15min")
    qd = weather.site_weather(weather.QINGDAO_LIKE, idx)
    fs = weather.site_weather(weather.FOSHAN_LIKE, idx)
    assert fs["temp_c"].mean() - qd["temp_c"].mean() > 5.0
    jan = idx.month == 1
    assert qd.loc[jan, "temp_c"].mean() < 2.0 < 10.0 < fs.loc[jan, "temp_c"].mean()
    jul = idx.month == 7
    assert fs.loc[jul, "humidity_ratio"].mean() > qd.loc[jul, "humidity_ratio"].mean()
    night = qd["solar_zenith_deg"] > 95
    assert (qd.loc[night, "ghi_w_m2"] == 0).all()


def test_schedule_knows_chinese_holidays_and_adjusted_workdays():
    idx = pd.date_range("2025-01-01 00:15", periods=365 * 96, freq="15min")
    sch = production_schedule(idx, TWO_SHIFT)
    daily = sch["intensity"].groupby((idx - pd.Timedelta("1min")).normalize()).sum()  # interval-end labels
    dt = day_types(pd.DatetimeIndex(daily.index))
    assert (daily[dt["day_type"] == "holiday"] == 0).all()
    adjusted = dt.index[dt["day_type"] == "adjusted_workday"]
    assert len(adjusted) >= 3 and (daily[adjusted] > 0).all()      # weekend days worked (调休)
    assert daily[pd.Timestamp("2025-10-01")] == 0                    # National Day
    assert daily[pd.Timestamp("2025-10-08")] == 0                    # holiday week still off
    # changeovers and breaks pull intensity below the nominal rate within a shift
    day = sch.loc["2025-03-04 08:15":"2025-03-05 00:00", "intensity"]
    assert day.min() < 0.5 * day.max() and 0.80 <= day.max() <= 1.05   # nominal rate times the day's order book
    workdays = daily[daily > 0]
    assert workdays.round(6).nunique() > 0.8 * len(workdays)           # no two workdays repeat exactly


def test_plants_differ_in_scale_and_equipment():
    plants = demo_plants()
    assert set(plants) == {"QD", "FS"}
    for p in plants.values():
        assert 2 <= p.chiller_plant.n <= 4
        assert 3 <= len(p.air_station.compressors) <= 4
        assert sum(c.control == "vsd" for c in p.air_station.compressors) == 1
    assert plants["FS"].ownership_share == 0.6
    assert dataclasses.is_dataclass(plants["QD"])
