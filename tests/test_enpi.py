"""EnPIs: known answers for chiller plants and compressed air, NaN and zero handling."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ems.analytics import enpi


def test_chiller_plant_known_answers():
    assert enpi.chiller_plant_kw_per_kw(180.0, 1000.0) == pytest.approx(0.18)
    assert enpi.kw_per_rt(180.0, 1000.0) == pytest.approx(0.633, abs=5e-4)  # 0.18 x 3.51685
    assert enpi.cop(1000.0, 180.0) == pytest.approx(5.56, abs=5e-3)
    assert enpi.KW_PER_RT == pytest.approx(3.516853, rel=1e-6)


def test_cooling_from_water_100_m3h_7_12():
    q = enpi.cooling_kw_from_water(100.0, 7.0, 12.0)
    assert q == pytest.approx(580.0, rel=0.005)
    # rho(9.5 degC) 999.72 kg/m3, cp 4.1967 kJ/(kg K): 100/3600 x 999.72 x 4.1967 x 5
    assert q == pytest.approx(100 / 3600 * 999.72 * 4.1967 * 5, rel=2e-4)
    assert enpi.water_density_kg_per_m3(20.0) == pytest.approx(998.21)
    assert enpi.water_cp_kj_per_kg_k(20.0) == pytest.approx(4.1844)
    assert math.isnan(enpi.cooling_kw_from_water(100.0, 80.0, 90.0))  # not chilled water


def test_zero_and_missing_denominators_give_nan_not_inf():
    assert math.isnan(enpi.cop(1000.0, 0.0))
    assert math.isnan(enpi.chiller_plant_kw_per_kw(10.0, 0.0))
    assert math.isnan(enpi.specific_power_kw_per_m3_per_min(float("nan"), 10.0))
    s = enpi.specific_power_kw_per_m3_per_min(pd.Series([61.0, 30.0, np.nan]), pd.Series([10.0, 0.0, 5.0]))
    assert s.iloc[0] == pytest.approx(6.1) and s.iloc[1:].isna().all()


def test_period_ratio_is_energy_weighted_with_coverage():
    power = pd.Series([100.0, 300.0, np.nan, 50.0])
    cooling = pd.Series([1000.0, 1000.0, 800.0, np.nan])
    r = enpi.period_ratio(power, cooling, "kW/kW")
    assert r.value == pytest.approx(0.2) and r.n_valid == 2 and r.coverage == pytest.approx(0.5)


def test_delta_t_and_low_delta_t_flag():
    sup = pd.Series([7.0, 7.0, 7.0, np.nan, 7.0])
    ret = pd.Series([12.0, 9.0, 9.5, 12.0, 8.0])
    dt = enpi.delta_t_c(sup, ret)
    assert dt.tolist()[:3] == [5.0, 2.0, 2.5]
    flag = enpi.low_delta_t_flag(dt)  # threshold 0.6 x 5 = 3 K
    assert flag.tolist()[:3] == [False, True, True] and flag.isna().iloc[3] and bool(flag.iloc[4])
    running = pd.Series([True, True, True, True, False])
    summ = enpi.low_delta_t_summary(dt, running=running)
    assert summ.share_low == pytest.approx(2 / 3) and summ.coverage == pytest.approx(0.6) and summ.syndrome


def test_leak_baseline_from_nonproduction_hours():
    idx = pd.date_range("2025-03-03", periods=48, freq="h")
    prod = pd.Series((idx.hour >= 8) & (idx.hour < 20), index=idx)
    flow = pd.Series(np.where(prod, 40.0, 6.0), index=idx)
    flow.iloc[2] = np.nan
    lb = enpi.leak_baseline(flow, prod)
    assert lb.leak_flow_m3_per_min == pytest.approx(6.0)
    assert lb.production_flow_m3_per_min == pytest.approx(40.0)
    assert lb.leak_share == pytest.approx(0.15)
    assert lb.coverage == pytest.approx(47 / 48) and lb.n_nonproduction == 23
    low = enpi.leak_baseline(flow.where(idx.hour > 5, 2.0), prod, percentile=5)
    assert low.leak_flow_m3_per_min == pytest.approx(2.0) and low.method == "p5"
    assert math.isnan(enpi.leak_baseline(flow[prod], prod[prod]).leak_share)  # no off-hours


def test_dryer_purge_share():
    r = enpi.dryer_purge_share(pd.Series([3.0, 3.0, np.nan]), pd.Series([20.0, 20.0, 20.0]))
    assert r.value == pytest.approx(0.15) and r.coverage == pytest.approx(2 / 3)


def test_energy_intensity_scalar_and_series():
    assert enpi.energy_intensity(1200.0, 400.0) == enpi.Intensity(3.0, "ok")
    zero = enpi.energy_intensity(1200.0, 0.0)
    assert math.isnan(zero.value) and zero.flag == "zero_output"
    df = enpi.energy_intensity(pd.Series([100.0, 50.0, np.nan, 10.0]), pd.Series([10.0, 0.0, 5.0, np.nan]))
    assert df["flag"].tolist() == ["ok", "zero_output", "missing_energy", "missing_output"]
    assert df["intensity"].iloc[0] == 10.0 and df["intensity"].iloc[1:].isna().all()
    assert not np.isinf(df["intensity"]).any()


def test_energy_intensity_table_per_site_and_line():
    frame = pd.DataFrame({
        "site": ["A", "A", "A", "B"], "product_line": ["ac", "ac", "fridge", "ac"],
        "energy_kwh": [100.0, 50.0, 80.0, 30.0], "output_count": [10.0, 5.0, 0.0, np.nan]})
    t = enpi.energy_intensity_table(frame, ["site", "product_line"])
    rows = {(r.site, r.product_line): r for r in t.itertuples()}
    assert rows[("A", "ac")].intensity == pytest.approx(10.0) and rows[("A", "ac")].flag == "ok"
    assert rows[("A", "fridge")].flag == "zero_output" and math.isnan(rows[("A", "fridge")].intensity)
    assert rows[("B", "ac")].flag == "missing_output" and rows[("B", "ac")].n_missing == 1


floats = st.one_of(st.floats(-1e6, 1e6, allow_nan=False), st.just(float("nan")), st.just(0.0))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(floats, floats), min_size=1, max_size=40))
def test_ratios_never_inf_and_coverage_in_range(pairs):
    num = pd.Series([p[0] for p in pairs])
    den = pd.Series([p[1] for p in pairs])
    for out in (enpi.cop(num, den), enpi.kw_per_rt(num, den), enpi.specific_power_kw_per_m3_per_min(num, den)):
        assert not np.isinf(out).any()
        assert out[(den <= 0) | den.isna() | num.isna()].isna().all()
    r = enpi.period_ratio(num, den)
    assert 0.0 <= r.coverage <= 1.0 and not math.isinf(r.value)
    ei = enpi.energy_intensity(num, den)
    assert not np.isinf(ei["intensity"]).any() and set(ei["flag"]) <= {"ok", "zero_output", "missing_energy",
                                                                        "missing_output"}
