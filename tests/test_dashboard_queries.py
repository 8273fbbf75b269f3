"""Cockpit queries: known totals for known readings, local-time buckets, no double counting, scope."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dashboards.auth import create_user, visible_node_ids
from dashboards.queries import (
    choose_grain,
    data_extent,
    energy_by_node,
    meter_series,
    meters_below,
    top_node_ids,
    visible_nodes,
    visible_point,
)
from ems.assets.loader import load_asset_file
from ems.assets.store import load_asset_model, points_frame
from ems.readings.store import ensure_partitions, merge_stage, stage_readings
from ems.rollups.refresh import refresh_rollups

SMALL = Path(__file__).parent / "data" / "plant_small.yaml"
TZ = "Asia/Shanghai"
DAY = date(2025, 7, 1)


def _write(conn, pid: int, local_ends: pd.DatetimeIndex, deltas, values=None) -> None:
    ts = local_ends.tz_convert("UTC")
    n = len(ts)
    frame = pd.DataFrame({"point_id": pid, "ts": ts,
                          "value": np.arange(n, dtype=float) if values is None else np.asarray(values, float),
                          "delta": np.asarray(deltas, float), "quality": 0, "batch_id": 0})
    ensure_partitions(conn, frame["ts"].min(), frame["ts"].max())
    with conn.transaction():
        stage_readings(conn, frame)
        merge_stage(conn)
    conn.commit()


def load_small_plant(conn) -> dict[str, dict]:
    """plant_small.yaml with one local day (2025-07-01, Asia/Shanghai) of readings and one extra interval.

    PA.MAIN 10 kWh per 15 min (960 kWh on the day, +10 kWh on 07-02), its sub-meter PA.CH1 4 kWh per
    15 min (384 kWh), PB.GAS 5 m3 per hour (120 m3), PA.OAT 20 and 30 degC (mean 25).
    """
    load_asset_model(conn, load_asset_file(SMALL))
    conn.commit()
    points = {p["code"]: p for p in points_frame(conn)}
    quarter = pd.date_range("2025-07-01 00:15", periods=97, freq="15min", tz=TZ)  # last one ends 07-02 00:15
    _write(conn, points["PA.MAIN.kWh"]["point_id"], quarter, [10.0] * 97)
    _write(conn, points["PA.CH1.kWh"]["point_id"], quarter[:96], [4.0] * 96)
    _write(conn, points["PB.GAS.m3"]["point_id"], pd.date_range("2025-07-01 01:00", periods=24, freq="h", tz=TZ),
           [5.0] * 24, values=[5.0] * 24)
    _write(conn, points["PA.OAT"]["point_id"], pd.date_range("2025-07-01 08:00", periods=2, freq="h", tz=TZ),
           [np.nan, np.nan], values=[20.0, 30.0])
    refresh_rollups(conn)   # node energy in the cockpit comes from the roll-ups
    conn.commit()
    return points


@pytest.fixture
def small(conn):
    return load_small_plant(conn)


def _node_ids(conn) -> dict[str, int]:
    return dict(conn.execute("SELECT code, node_id FROM node").fetchall())


def _admin_visible(conn) -> list[int]:
    return visible_node_ids(conn, create_user(conn, "boss", "pw-boss", "admin"))


def test_grain_follows_the_range():
    assert choose_grain(DAY, DAY) == "hour"
    assert choose_grain(DAY, date(2025, 7, 31)) == "day"
    assert choose_grain(date(2025, 1, 1), date(2025, 12, 31)) == "month"


def test_energy_by_plant_day_totals_without_double_counting(conn, small):
    visible = _admin_visible(conn)
    nodes = visible_nodes(conn, visible)
    ids = _node_ids(conn)
    assert sorted(top_node_ids(nodes)) == sorted([ids["PA"], ids["PB"]])
    frame = energy_by_node(conn, top_node_ids(nodes), visible, DAY, date(2025, 7, 2), "day")
    got = {(r.code, r.medium, r.unit, str(r.bucket.date())): r.total for r in frame.itertuples()}
    # PA.CH1 is a sub-meter of PA.MAIN: not added again; PA.OAT is instantaneous: not energy
    assert got == {("PA", "electricity", "kWh", "2025-07-01"): 960.0,
                   ("PA", "electricity", "kWh", "2025-07-02"): 10.0,
                   ("PB", "natural_gas", "m3", "2025-07-01"): 120.0}


def test_hourly_buckets_are_local_and_labelled_at_interval_start(conn, small):
    visible = _admin_visible(conn)
    ids = _node_ids(conn)
    frame = energy_by_node(conn, [ids["PA"]], visible, DAY, DAY, "hour")
    assert len(frame) == 24 and (frame["total"] == 40.0).all()
    assert str(frame["bucket"].iloc[0]) == "2025-07-01 00:00:00"
    assert str(frame["bucket"].iloc[-1]) == "2025-07-01 23:00:00"


def test_breakdown_of_a_plant_shows_children_and_the_rest_of_the_plant(conn, small):
    visible = _admin_visible(conn)
    ids = _node_ids(conn)
    frame = energy_by_node(conn, [ids["PA.CHP"]], visible, DAY, DAY, "month", own_id=ids["PA"])
    totals = frame.groupby("code")["total"].sum().to_dict()
    # July: PA.MAIN 960 kWh on the 1st + 10 kWh ending 07-02 00:15; the chiller sub-meter 384 kWh is the
    # child's bar, the plant's own bar is the rest (586), so the stacked bars add up to the plant (970)
    assert totals == {"PA": 586.0, "PA.CHP": 384.0}
    assert str(frame["bucket"].iloc[0]) == "2025-07-01 00:00:00"


def test_meters_below_a_plant(conn, small):
    visible = _admin_visible(conn)
    ids = _node_ids(conn)
    meters = meters_below(conn, ids["PA"], visible, DAY, DAY).set_index("code")
    assert sorted(meters.index) == ["PA.CH1.kWh", "PA.MAIN.kWh", "PA.OAT"]  # the virtual PA.REST is left out
    assert meters.loc["PA.MAIN.kWh", "total"] == 960.0
    assert meters.loc["PA.CH1.kWh", "total"] == 384.0
    assert meters.loc["PA.CH1.kWh", "parent_code"] == "PA.MAIN.kWh"
    assert meters.loc["PA.OAT", "mean"] == 25.0 and np.isnan(meters.loc["PA.OAT", "total"])


def test_meter_series(conn, small):
    visible = _admin_visible(conn)
    point = visible_point(conn, small["PA.CH1.kWh"]["point_id"], visible)
    hourly = meter_series(conn, point, DAY, DAY, "hour")
    assert len(hourly) == 24 and hourly["value"].sum() == 384.0 and (hourly["value"] == 16.0).all()
    assert str(hourly["bucket"].iloc[0]) == "2025-07-01 00:00:00"
    oat = meter_series(conn, visible_point(conn, small["PA.OAT"]["point_id"], visible), DAY, DAY, "day")
    assert oat["value"].tolist() == [25.0]


def test_extent(conn, small):
    first, last = data_extent(conn, _admin_visible(conn))
    assert str(pd.Timestamp(first).tz_convert(TZ)) == "2025-07-01 00:15:00+08:00"
    assert str(pd.Timestamp(last).tz_convert(TZ)) == "2025-07-02 00:15:00+08:00"


def test_user_scoped_to_plant_a_never_sees_plant_b(conn, small):
    ids = _node_ids(conn)
    user = create_user(conn, "qd", "pw-qd", "energy_manager", scope_codes=["PA"])
    visible = visible_node_ids(conn, user)
    assert sorted(visible) == sorted([ids["PA"], ids["PA.CHP"]])
    nodes = visible_nodes(conn, visible)
    assert top_node_ids(nodes) == [ids["PA"]]
    # even when asked for PB (or the whole group) explicitly, nothing of PB comes back
    frame = energy_by_node(conn, [ids["PA"], ids["PB"], ids["GRP"]], visible, DAY, DAY, "day")
    assert set(frame["code"]) == {"PA"} and "natural_gas" not in set(frame["medium"])
    assert meters_below(conn, ids["PB"], visible, DAY, DAY).empty
    assert meters_below(conn, ids["GRP"], visible, DAY, DAY).empty
    assert visible_point(conn, small["PB.GAS.m3"]["point_id"], visible) is None
    assert visible_point(conn, small["PA.MAIN.kWh"]["point_id"], visible) is not None
    first, last = data_extent(conn, visible)
    assert str(pd.Timestamp(last).tz_convert(TZ)) == "2025-07-02 00:15:00+08:00"


def test_user_without_scope_sees_nothing(conn, small):
    user = create_user(conn, "nobody", "pw", "viewer")
    assert visible_node_ids(conn, user) == []
    assert data_extent(conn, []) is None
