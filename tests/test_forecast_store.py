"""Stored points: train registers models and a champion; run stores a forecast; accuracy fills actuals,
computes live skill per lead hour and raises a drift flag when the series changes."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ems.readings.store import ensure_partitions
from forecasting import store
from forecasting.synthetic import load_series, zone_series

START = pd.Timestamp("2025-06-02", tz="UTC")


def _plant(conn):
    node = conn.execute("""INSERT INTO node (code, level, timezone) VALUES ('F1', 'plant', 'Asia/Shanghai')
                           RETURNING node_id""").fetchone()[0]
    ids = {}
    for code, quantity, unit, kind in [("F1.load", "energy", "kWh", "interval"),
                                       ("F1.zone", "temperature", "degC", "instantaneous"),
                                       ("F1.chw", "temperature", "degC", "instantaneous"),
                                       ("F1.oat", "temperature", "degC", "instantaneous")]:
        ids[code] = conn.execute(
            """INSERT INTO point (code, node_id, medium, quantity, unit, kind) VALUES (%s, %s, 'electricity', %s, %s, %s)
               RETURNING point_id""", (code, node, quantity, unit, kind)).fetchone()[0]
    return ids


def _write(conn, point_id: int, series: pd.Series, interval: bool) -> None:
    ensure_partitions(conn, series.index[0], series.index[-1] + pd.Timedelta("1h"))
    # interval quantities are stamped at the interval end; instantaneous values at their time
    ts = series.index + (pd.Timedelta("1h") if interval else pd.Timedelta(0))
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO reading (point_id, ts, value, delta) VALUES (%s, %s, %s, %s)",
                        [(point_id, t, float(v), float(v) if interval else None)
                         for t, v in zip(ts.to_pydatetime(), series.to_numpy())])


@pytest.mark.db
def test_train_run_accuracy_and_drift(conn, ems):
    ids = _plant(conn)
    load = load_series(days=24, freq="1h", start="2025-06-02 08:00", seed=3)["load"]
    _write(conn, ids["F1.load"], load.iloc[:21 * 24], interval=True)
    until = (load.index[21 * 24]).isoformat()
    code, out, err = ems("forecast", "train", "--point", "F1.load", "--freq", "1h", "--horizon", "1d",
                         "--models", "sarimax,ets", "--days", "21", "--until", until, "--folds", "3", "--json")
    assert code == 0, err
    trained = json.loads(out)
    assert set(trained["models"]) == {"naive_day", "naive_week", "sarimax", "ets"}
    rows = conn.execute("""SELECT model, is_champion, score, octet_length(artefact), train_end, backtest
                           FROM forecast_model WHERE target = 'F1.load' ORDER BY score""").fetchall()
    assert len(rows) == 4 and rows[0][1] and sum(r[1] for r in rows) == 1  # lowest score is the one champion
    assert rows[0][0] == trained["champion"] and all(r[3] > 100 for r in rows)
    assert pd.Timestamp(rows[0][4]) == pd.Timestamp(until)
    assert {"model", "naive_day", "naive_week"} <= set(rows[0][5])

    code, out, err = ems("forecast", "run", "--point", "F1.load", "--json")
    assert code == 0, err
    issued = json.loads(out)
    assert pd.Timestamp(issued["issued_at"]) == pd.Timestamp(until) and issued["values"] == 24
    stored = conn.execute("SELECT count(*), min(ts), min(step), max(step) FROM forecast_value").fetchone()
    assert stored[0] == 24 and pd.Timestamp(stored[1]) == pd.Timestamp(until) and stored[2:] == (1, 24)

    # the actuals arrive, then the plant changes: next day's load is 3x the usual
    _write(conn, ids["F1.load"], load.iloc[21 * 24:22 * 24], interval=True)
    code, out, err = ems("forecast", "accuracy", "--point", "F1.load", "--json")
    acc = json.loads(out)
    assert code == 0 and acc["filled"] == 24 and acc["drift"] is None
    assert sum(r["n"] for r in acc["accuracy"]) == 24 and acc["accuracy"][0]["lead_h"] == 1
    live_mae = np.mean([r["mae"] for r in acc["accuracy"]])
    assert live_mae < 5.0
    assert ems("forecast", "run", "--point", "F1.load")[0] == 0
    _write(conn, ids["F1.load"], 3 * load.iloc[22 * 24:23 * 24], interval=True)
    code, out, _ = ems("forecast", "accuracy", "--point", "F1.load", "--json")
    acc = json.loads(out)
    assert acc["filled"] == 24 and acc["drift"] is not None and acc["drift"]["ratio"] > 2.0
    assert conn.execute("SELECT count(*) FROM forecast_drift WHERE cleared_at IS NULL").fetchone()[0] == 1


@pytest.mark.db
def test_zone_forecast_with_a_planned_setpoint(conn, ems):
    """A future-known feature point (the chilled-water setpoint plan) must have values for the horizon."""
    ids = _plant(conn)
    zone = zone_series(days=8, freq="1h", start="2025-06-02")
    n = len(zone) - 4
    _write(conn, ids["F1.zone"], zone["zone_temp_c"].iloc[:n], interval=False)
    _write(conn, ids["F1.chw"], zone["chw_supply_temp_c"].iloc[:n], interval=False)
    code, _, err = ems("forecast", "train", "--point", "F1.zone", "--features", "F1.chw", "--freq", "1h",
                       "--horizon", "2h", "--models", "gbm", "--days", "8", "--until", zone.index[n].isoformat(),
                       "--folds", "3")
    assert code == 0, err
    code, _, err = ems("forecast", "run", "--point", "F1.zone")
    assert code == 2 and "F1.chw" in err and "no value" in err
    _write(conn, ids["F1.chw"], zone["chw_supply_temp_c"].iloc[n:], interval=False)  # the plan
    code, out, err = ems("forecast", "run", "--point", "F1.zone", "--json")
    assert code == 0, err
    fc = json.loads(out)["forecast"]
    assert len(fc) == 2 and abs(fc[0]["p50"] - zone["zone_temp_c"].iloc[n]) < 0.5
    model_id, model = store.champion(conn, "F1.zone")
    assert model.spec.future_known == ("F1.chw",)
