"""Equipment and zone models fitted from meter history recover known curves and predict well."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ems.optimize.fit_chiller import fit_chiller, fit_chw_plant
from ems.optimize.zone_model import LinearZoneResponse, exo_from_history, rh_from_w, w_from_rh

# DOE-2 generic centrifugal (EnergyPlus I/O Reference, DOE-2.1E HERM-CENT-EIR-FT / EIR-FPLR)
EIRFT = (0.933884, -0.058212, 4.50036e-3, 2.43000e-3, 4.86000e-4, -1.21500e-3)
EIRFPLR = (0.222903, 0.313387, 0.463710)


@pytest.fixture(scope="module")
def history():
    from ems.optimize.history import training_history

    return training_history("FS", "2024-06-01", "2024-07-10")


def test_doe2_chiller_fit_recovers_published_curve():
    rng = np.random.default_rng(1)
    n = 2000
    q_ref, cop = 2000.0, 5.5
    x, y = rng.uniform(5, 11, n), rng.uniform(24, 33, n)
    q = rng.uniform(0.15, 1.0, n) * q_ref
    a, b, c, d, e, f = EIRFT
    eirft = a + b * x + c * x * x + d * y + e * y * y + f * x * y
    plr = q / q_ref
    p = q_ref / cop * eirft * (EIRFPLR[0] + EIRFPLR[1] * plr + EIRFPLR[2] * plr ** 2)
    fit = fit_chiller(q, p * (1 + rng.normal(0, 0.01, n)), x, y, q_ref)
    assert fit.stats["r2"] > 0.99
    assert fit.stats["cv_rmse_pct"] < 2.0
    # the fitted curve predicts the clean curve at new points within 2 %
    xt, yt, qt = np.array([7.0, 10.0]), np.array([29.0, 26.0]), np.array([1200.0, 600.0])
    true = q_ref / cop * (a + b * xt + c * xt ** 2 + d * yt + e * yt ** 2 + f * xt * yt) * (
        EIRFPLR[0] + EIRFPLR[1] * qt / q_ref + EIRFPLR[2] * (qt / q_ref) ** 2)
    assert np.allclose(fit.power_kw(qt, xt, yt), true, rtol=0.02)


def test_plant_models_from_twin_history(history):
    from ems.optimize.config import plant_config

    m = fit_chw_plant(history, plant_config("FS").chw.chiller_capacity_kw)
    for i in (1, 2, 3):
        assert m.stats[f"chiller_{i}"]["cv_rmse_pct"] < 3.0
    assert m.stats["chw_pump_power"]["r2"] > 0.95
    assert m.stats["chw_pump_speed"]["r2"] > 0.95
    # pump speed and flow are inverse functions of each other
    hz = m.pump_hz(np.array([600.0]), 2)
    assert m.pump_flow(hz, 2)[0] == pytest.approx(600.0, rel=1e-6)
    # more flow through the same pumps costs more power
    assert m.pump_kw(800.0, m.pump_hz(800.0, 2), 2) > m.pump_kw(400.0, m.pump_hz(400.0, 2), 2)


def test_plant_fit_refuses_history_without_meters(history):
    from ems.optimize.history import DataProblem

    with pytest.raises(DataProblem, match="chwp_hz"):
        fit_chw_plant(history.drop(columns=["chwp_hz"]), (2100.0,) * 4)


def test_zone_model_fit_and_monotone_response(history):
    from ems.optimize.closed_loop import production_plan

    zm = LinearZoneResponse(3).fit(history, exo_from_history(history, production_plan("FS", history.index)))
    for j in (1, 2, 3):
        assert zm.stats[f"zone{j}_t"]["rmse"] < 0.3
        assert zm.stats[f"zone{j}_rh"]["rmse"] < 2.0
    assert zm.stats["chw_load"]["r2"] > 0.9
    ex = pd.DataFrame({"temp_c": [33.0], "rh_pct": [70.0], "ghi_w_m2": [800.0], "intensity": [1.0], "hvac_on": [1.0]})
    st = {"zone_t_c": np.array([24.0, 26.0, 26.0]), "zone_rh_pct": np.array([55.0, 55.0, 55.0]), "load_kw": 6000.0}
    out = zm.predict(st, ex, np.array([6.0, 9.0, 12.0]))
    # a warmer supply dries less: humidity does not fall as the supply temperature rises
    assert out["rh1"][0, 2] >= out["rh1"][0, 0] - 0.5
    assert out["load_kw"].shape == (1, 3)


def test_psychrometrics_round_trip():
    w = w_from_rh(26.0, 55.0)
    assert 0.011 < w < 0.012      # ~11.5 g/kg at 26 degC, 55 % RH (psychrometric chart)
    assert rh_from_w(26.0, w) == pytest.approx(55.0, abs=1e-6)
