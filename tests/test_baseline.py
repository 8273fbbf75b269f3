"""Baselines (ASHRAE Guideline 14 metrics) and savings with uncertainty: known answers."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from ems.analytics import baseline as bl


def _year(start: str, days: int, seed: int) -> pd.DataFrame:
    """Daily frame: temperature, CDD26, output; true use = 1000 + 50 CDD + 0.2 output."""
    rng = np.random.default_rng(seed)
    idx = pd.date_range(start, periods=days, freq="D")
    doy = np.arange(days)
    temp = pd.Series(18 + 12 * np.sin(2 * np.pi * (doy - 100) / 365) + rng.normal(0, 2, days), index=idx)
    cdd = bl.cooling_degree_days(temp)
    output = pd.Series(5000 + 1000 * rng.standard_normal(days), index=idx)
    true = 1000 + 50 * cdd + 0.2 * output
    return pd.DataFrame({"temp_c": temp, "cdd": cdd, "output_count": output, "true_kwh": true,
                         "energy_kwh": true + rng.normal(0, 30, days)})


def test_degree_days_known_answers_from_hourly():
    idx = pd.date_range("2025-07-01", periods=72, freq="h")
    temp = pd.Series(np.r_[np.full(24, 30.0), np.full(24, 10.0), 26 + 6 * np.sin(2 * np.pi * np.arange(24) / 24)],
                     index=idx)
    cdd = bl.cooling_degree_days(temp)
    hdd = bl.heating_degree_days(temp)
    assert cdd.tolist()[:2] == pytest.approx([4.0, 0.0]) and hdd.tolist()[:2] == pytest.approx([0.0, 8.0])
    assert cdd.iloc[2] == pytest.approx(0.0, abs=1e-9)                       # daily mean exactly 26
    integ = bl.cooling_degree_days(temp, method="integrated")
    assert integ.iloc[2] == pytest.approx(6 / math.pi, rel=0.02)              # mean of positive half-sine
    gappy = temp.copy()
    gappy.iloc[30:40] = np.nan                                                # 14/24 hours left on day 2
    assert math.isnan(bl.heating_degree_days(gappy).iloc[1])
    daily = pd.Series([10.0, 20.0], index=pd.date_range("2025-07-01", periods=2, freq="D"))
    assert bl.heating_degree_days(daily).tolist() == [8.0, 0.0]              # daily mean input
    monthly = bl.sum_by_period(cdd, "MS")
    assert monthly.iloc[0] == pytest.approx(4.0)


def test_fit_recovers_coefficients_and_meets_guideline14():
    frame = _year("2024-01-01", 366, seed=1)
    m = bl.fit_baseline(frame, "energy_kwh", ["cdd", "output_count"], ("2024-01-01", "2025-01-01"))
    assert m.granularity == "daily" and m.metrics["n"] == 366 and m.metrics["p"] == 3
    assert m.coefficients["cdd"] == pytest.approx(50.0, rel=0.05)
    assert m.coefficients["output_count"] == pytest.approx(0.2, rel=0.03)
    assert m.coefficients["const"] == pytest.approx(1000.0, rel=0.05)
    assert max(m.p_values.values()) < 1e-10
    assert m.metrics["r2"] > 0.95
    assert m.metrics["cv_rmse_pct"] < 2.0 < m.thresholds["cv_rmse_pct"]   # noise 30 / mean ~2030
    assert abs(m.metrics["nmbe_pct"]) < 1e-6                               # OLS with intercept
    assert m.acceptable


def test_monthly_model_and_thresholds():
    frame = _year("2024-01-01", 366, seed=2)
    monthly = frame[["cdd", "output_count", "energy_kwh"]].resample("MS").sum()
    m = bl.fit_baseline(monthly, "energy_kwh", ["cdd", "output_count"])
    assert m.granularity == "monthly" and m.thresholds == {"cv_rmse_pct": 15.0, "nmbe_pct": 5.0}
    assert m.metrics["cv_rmse_pct"] < 15.0 and m.acceptable
    # Guideline 14 definitions with n - p, recomputed by hand.
    e = monthly["energy_kwh"] - bl.predict(m, monthly)
    ybar = monthly["energy_kwh"].mean()
    assert m.metrics["cv_rmse_pct"] == pytest.approx(100 * np.sqrt((e**2).sum() / (12 - 3)) / ybar)
    assert m.metrics["nmbe_pct"] == pytest.approx(100 * e.sum() / ((12 - 3) * ybar), abs=1e-9)


def test_savings_of_a_known_10_percent_reduction_within_uncertainty():
    base = _year("2024-01-01", 366, seed=3)
    m = bl.fit_baseline(base, "energy_kwh", ["cdd", "output_count"])
    rep = _year("2025-01-01", 365, seed=4)
    rng = np.random.default_rng(5)
    rep["energy_kwh"] = 0.9 * rep["true_kwh"] + rng.normal(0, 30, len(rep))
    true_savings = float((rep["true_kwh"] - rep["energy_kwh"]).sum())
    out = bl.savings(m, rep)
    s = out.attrs["summary"]
    assert s["fractional_savings"] == pytest.approx(0.10, abs=0.005)
    assert abs(s["savings_total"] - true_savings) <= s["savings_total_u95"]
    assert s["savings_total_u68"] < s["savings_total_u90"] < s["savings_total_u95"]
    assert s["fsu_u68"] < 0.5 and s["significant_at_68"] == 1.0
    assert out["cumulative_savings"].iloc[-1] == pytest.approx(s["savings_total"])
    assert out["cumulative_u90"].iloc[-1] == pytest.approx(s["savings_total_u90"])
    assert (out["savings"] == out["baseline"] - out["actual"]).all()
    assert out["extrapolated"].mean() < 0.05   # same climate and output range as the base year


def test_uncertainty_formula_known_answer():
    """Guideline 14 Annex B with n = 12, p = 2, CV = 5 %, rho = 0, per period (m = 1) and m = 4."""
    m = bl.BaselineModel.from_dict({
        "kind": "ols_baseline", "target": "kwh", "features": ["x"], "categorical": {},
        "design_columns": ["const", "x"], "coefficients": {"const": 100.0, "x": 0.0},
        "std_errors": {}, "p_values": {}, "period": {"start": "2024-01-01", "end": "2025-01-01"},
        "granularity": "monthly", "thresholds": {"cv_rmse_pct": 15.0, "nmbe_pct": 5.0},
        "metrics": {"n": 12.0, "p": 2.0, "cv_rmse_pct": 5.0, "n_effective": 12.0},
    })
    rep = pd.DataFrame({"x": [1.0] * 4, "kwh": [90.0] * 4}, index=pd.date_range("2025-01-01", periods=4, freq="MS"))
    out = bl.savings(m, rep)
    t90 = stats.t.ppf(0.95, 10)
    per_period = 1.26 * t90 * 0.05 * math.sqrt(1 + 2 / 12) * 100.0
    assert out["savings_u90"].iloc[0] == pytest.approx(per_period)
    assert out["cumulative_u90"].iloc[-1] == pytest.approx(per_period * 400.0 / 100.0 / math.sqrt(4))
    fsu = 1.26 * t90 * 0.05 * math.sqrt((1 + 2 / 12) / 4) / 0.10    # the fractional form, F = 10 %
    assert out.attrs["summary"]["fsu_u90"] == pytest.approx(fsu)


def test_autocorrelation_reduces_effective_points():
    rng = np.random.default_rng(7)
    e = np.zeros(500)
    for i in range(1, 500):
        e[i] = 0.7 * e[i - 1] + rng.normal()
    rho = bl.lag1_autocorrelation(e)
    assert rho == pytest.approx(0.7, abs=0.08)
    metrics = bl.fit_metrics(100 + e, np.full(500, 100.0), 1)
    assert metrics["n_effective"] == pytest.approx(500 * (1 - metrics["rho_lag1"]) / (1 + metrics["rho_lag1"]))


def test_day_type_dummies_and_json_round_trip():
    frame = _year("2025-01-01", 365, seed=8)
    frame = bl.add_day_type(frame, "Asia/Shanghai")
    assert frame.loc["2025-10-11", "day_type"] == "workday" and frame.loc["2025-10-01", "day_type"] == "holiday"
    frame["energy_kwh"] += np.where(frame["day_type"] == "workday", 0.0, -400.0)
    m = bl.fit_baseline(frame, "energy_kwh", ["cdd", "output_count", "day_type"])
    assert m.categorical["day_type"] == ["holiday", "weekend", "workday"]
    assert m.coefficients["day_type[workday]"] == pytest.approx(400.0, abs=25.0)
    assert m.coefficients["day_type[weekend]"] == pytest.approx(0.0, abs=25.0)
    stored = json.loads(json.dumps(m.to_dict()))
    again = bl.BaselineModel.from_dict(stored)
    pd.testing.assert_series_equal(bl.predict(again, frame), bl.predict(m, frame))
    assert stored["acceptable"] is True and stored["period"]["start"].startswith("2025-01-01")
    with pytest.raises(ValueError, match="not seen in the base period"):
        bl.predict(m, frame.assign(day_type="festival"))


def test_extrapolation_flag():
    frame = _year("2024-01-01", 366, seed=9)
    m = bl.fit_baseline(frame, "energy_kwh", ["cdd", "output_count"])
    rep = frame.iloc[:3].copy()
    rep.loc[rep.index[0], "output_count"] = 1e6
    assert bl.savings(m, rep)["extrapolated"].tolist() == [True, False, False]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 365), max_size=80, unique=True), st.lists(st.integers(0, 364), max_size=80, unique=True))
def test_property_nan_gaps_are_counted_not_spread(base_gaps, rep_gaps):
    base = _year("2024-01-01", 366, seed=10)
    base.iloc[base_gaps, base.columns.get_loc("energy_kwh")] = np.nan
    m = bl.fit_baseline(base, "energy_kwh", ["cdd", "output_count"])
    assert m.metrics["n_dropped"] == len(base_gaps) and m.metrics["n"] == 366 - len(base_gaps)
    assert np.isfinite(m.metrics["cv_rmse_pct"])
    rep = _year("2025-01-01", 365, seed=11)
    rep.iloc[rep_gaps, rep.columns.get_loc("cdd")] = np.nan
    out = bl.savings(m, rep)
    assert out["savings"].isna().sum() == len(rep_gaps)
    assert out.attrs["summary"]["m"] == 365 - len(rep_gaps)
    valid = out["savings"].notna()
    assert np.isfinite(out.loc[valid, ["cumulative_savings", "cumulative_u95"]].to_numpy()).all()
    assert out.loc[valid, "savings"].sum() == pytest.approx(out.attrs["summary"]["savings_total"])
