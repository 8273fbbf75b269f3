"""Readings store: binary COPY + merge is idempotent, conflicts are reported, corrections are logged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ems.assets.loader import load_asset_file
from ems.assets.store import load_asset_model, points_frame
from ems.readings.pgcopy import binary_copy_payload
from ems.readings.quality import Quality
from ems.readings.query import read_point
from ems.readings.store import edit_reading, ensure_partitions, merge_stage, stage_readings

SMALL = Path(__file__).parent / "data" / "plant_small.yaml"


@pytest.fixture
def points(conn):
    load_asset_model(conn, load_asset_file(SMALL))
    conn.commit()
    return {p["code"]: p for p in points_frame(conn)}


def _frame(pid: int, start: str, values, batch: int, freq: str = "15min", delta=None) -> pd.DataFrame:
    ts = pd.date_range(start, periods=len(values), freq=freq, tz="UTC")
    return pd.DataFrame({"point_id": pid, "ts": ts, "value": np.asarray(values, float),
                         "delta": np.nan if delta is None else np.asarray(delta, float), "quality": 0,
                         "batch_id": batch})


def _batch(conn) -> int:
    return conn.execute("INSERT INTO ingest_batch (source) VALUES ('test') RETURNING batch_id").fetchone()[0]


def _write(conn, frame: pd.DataFrame, **kw):
    with conn.transaction():
        ensure_partitions(conn, frame["ts"].min(), frame["ts"].max())
        stage_readings(conn, frame)
        return merge_stage(conn, **kw)


def test_binary_copy_payload_layout():
    payload = binary_copy_payload([("int4", np.array([7], np.int32)), ("float8", np.array([1.5]))])
    assert payload.startswith(b"PGCOPY\n\xff\r\n\x00") and payload.endswith(b"\xff\xff")
    body = payload[19:-2]
    assert body == (2).to_bytes(2, "big") + (4).to_bytes(4, "big") + (7).to_bytes(4, "big") + \
        (8).to_bytes(4, "big") + np.array([1.5], ">f8").tobytes()


def test_merge_is_idempotent_and_nan_delta_becomes_null(conn, points):
    pid = points["PA.MAIN.kWh"]["point_id"]
    frame = _frame(pid, "2025-07-01 00:15", [100, 110, 125], _batch(conn), delta=[np.nan, 10, 15])
    first = _write(conn, frame)
    assert (first.staged, first.inserted, first.exact_duplicates, len(first.conflicts)) == (3, 3, 0, 0)
    again = _write(conn, frame.assign(batch_id=_batch(conn)))
    assert (again.inserted, again.exact_duplicates, len(again.conflicts)) == (0, 3, 0)
    rows = conn.execute("SELECT value, delta FROM reading WHERE point_id = %s ORDER BY ts", (pid,)).fetchall()
    assert rows == [(100.0, None), (110.0, 10.0), (125.0, 15.0)]
    dirty = conn.execute("SELECT count(*) FROM dirty_hour WHERE point_id = %s", (pid,)).fetchone()[0]
    assert dirty == 1


def test_conflicting_value_is_reported_not_applied(conn, points):
    pid = points["PA.OAT"]["point_id"]
    _write(conn, _frame(pid, "2025-07-01 00:00", [30.0, 31.0], _batch(conn)))
    result = _write(conn, _frame(pid, "2025-07-01 00:00", [30.0, 35.5], _batch(conn)))
    assert result.inserted == 0 and result.exact_duplicates == 1
    assert result.conflicts[["value", "stored_value"]].values.tolist() == [[35.5, 31.0]]
    assert conn.execute("SELECT max(value) FROM reading WHERE point_id = %s", (pid,)).fetchone()[0] == 31.0


def test_correction_is_applied_and_logged(conn, points):
    pid = points["PA.OAT"]["point_id"]
    _write(conn, _frame(pid, "2025-07-01 00:00", [30.0, 31.0], _batch(conn)))
    result = _write(conn, _frame(pid, "2025-07-01 00:00", [30.0, 35.5], _batch(conn)), correct=True,
                    edited_by="alice", reason="meter recalibrated")
    assert result.corrected == 1 and result.conflicts.empty
    value, quality = conn.execute("SELECT value, quality FROM reading WHERE point_id = %s ORDER BY ts DESC LIMIT 1",
                                  (pid,)).fetchone()
    assert value == 35.5 and quality & Quality.EDITED
    edit = conn.execute("SELECT old_value, new_value, edited_by, reason FROM reading_edit").fetchall()
    assert edit == [(31.0, 35.5, "alice", "meter recalibrated")]


def test_explicit_edit(conn, points):
    pid = points["PA.OAT"]["point_id"]
    _write(conn, _frame(pid, "2025-07-01 00:00", [30.0], _batch(conn)))
    edit_reading(conn, pid, pd.Timestamp("2025-07-01 00:00", tz="UTC"), 29.0, reason="sensor offset", edited_by="bob")
    assert conn.execute("SELECT old_value, new_value FROM reading_edit").fetchall() == [(30.0, 29.0)]


def test_resampling_buckets_by_interval_end_in_local_time(conn, points):
    main = points["PA.MAIN.kWh"]
    # deltas stamped at the interval end: 00:15..01:00 local belong to the 00:00 local hour
    local = pd.date_range("2025-07-01 00:15", periods=8, freq="15min", tz="Asia/Shanghai").tz_convert("UTC")
    frame = pd.DataFrame({"point_id": main["point_id"], "ts": local, "value": np.arange(8.0) * 10,
                          "delta": [np.nan] + [10.0] * 7, "quality": 0, "batch_id": _batch(conn)})
    _write(conn, frame)
    start = pd.Timestamp("2025-07-01", tz="Asia/Shanghai")
    hourly = read_point(conn, main, start, start + pd.Timedelta("2h"), "1h")
    assert hourly["delta_sum"].tolist() == [30.0, 40.0]
    assert [str(b) for b in hourly["bucket"]] == ["2025-07-01 00:00:00+08:00", "2025-07-01 01:00:00+08:00"]
    daily = read_point(conn, main, start, start + pd.Timedelta("1D"), "day")
    assert daily["delta_sum"].tolist() == [70.0] and str(daily["bucket"][0]) == "2025-07-01 00:00:00+08:00"
    oat = points["PA.OAT"]
    _write(conn, _frame(oat["point_id"], "2025-06-30 16:00", [20, 22, 24, 26], _batch(conn)))
    mean = read_point(conn, oat, start, start + pd.Timedelta("1h"), "1h")
    assert mean[["mean", "min", "max", "n"]].values.tolist() == [[23.0, 20.0, 26.0, 4]]
