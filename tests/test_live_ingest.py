"""Live batches through the historian's pipeline: counters, units, quarantine, late data, dirty hours."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ems.assets.loader import load_asset_file
from ems.assets.store import load_asset_model
from ems.ingest.live import SiteCache, ingest_live
from ems.readings.quality import Quality

DATA = Path(__file__).parent / "data"
T0 = pd.Timestamp("2025-07-01 00:15", tz="Asia/Shanghai")


@pytest.fixture
def site(conn):
    load_asset_model(conn, load_asset_file(DATA / "plant_small.yaml"))
    return conn


def q(k: int) -> pd.Timestamp:
    return T0 + pd.Timedelta(minutes=15 * k)


def stored(conn, code: str) -> pd.DataFrame:
    rows = conn.execute("""SELECT r.ts, r.value, r.delta, r.quality, b.source FROM reading r
                           JOIN point p USING (point_id) JOIN ingest_batch b USING (batch_id)
                           WHERE p.code = %s ORDER BY r.ts""", (code,)).fetchall()
    return pd.DataFrame(rows, columns=["ts", "value", "delta", "quality", "source"]).astype(
        {"value": float, "delta": float})


def dirty_hours(conn, code: str) -> list[str]:
    rows = conn.execute("""SELECT d.hour_utc FROM dirty_hour d JOIN point p USING (point_id)
                           WHERE p.code = %s ORDER BY 1""", (code,)).fetchall()
    return [pd.Timestamp(r[0]).tz_convert("UTC").strftime("%H:%M") for r in rows]


def test_counters_units_and_quarantine_known_answer(site):
    conn = site
    batch = [("PA.MAIN.kWh", q(k), v) for k, v in enumerate([1000.0, 1012.5, 1024.0, 0.0, 1048.5, 1060.0])]
    batch += [("PA.CH1.kWh", q(k).isoformat(), v, "MWh") for k, v in enumerate([0.5, 0.506, 0.5121])]
    batch += [("PA.OAT", q(0), 28.1), ("PA.OAT", q(1), 99.0),       # 99 degC: out of range
              ("PA.NOPE", q(0), 1.0),                                 # unknown point
              ("PA.OAT", q(2), 27.0), ("PA.OAT", q(2), 27.0),         # exact repeat: one reading
              ("PA.OAT", q(3), 26.0), ("PA.OAT", q(3), 25.0)]         # conflicting repeat: both quarantined
    report = ingest_live(conn, "PA", batch, source="mqtt", origin="test-mqtt",
                         rejects=[("plant/x", "{bad json", None, "malformed_json", "Expecting value")])
    assert report.accepted == 6 + 3 + 2
    assert report.duplicates == 1
    assert dict(report.quarantined) == {"out_of_range": 1, "unknown_tag": 1, "duplicate_conflict": 2,
                                        "malformed_json": 1}
    main = stored(conn, "PA.MAIN.kWh")
    np.testing.assert_allclose(main["delta"], [np.nan, 12.5, 11.5, np.nan, 24.5, 11.5])
    assert main["quality"][3] & Quality.GLITCH and set(main["source"]) == {"mqtt"}
    ch1 = stored(conn, "PA.CH1.kWh")                                 # MWh from the source -> kWh stored
    np.testing.assert_allclose(ch1["value"], [500.0, 506.0, 512.1])
    np.testing.assert_allclose(ch1["delta"], [np.nan, 6.0, 6.1])
    rows = conn.execute("SELECT source, file, field, reason, raw FROM quarantine ORDER BY reason, raw").fetchall()
    assert ("mqtt", "test-mqtt", "plant/x", "malformed_json", "{bad json") in rows
    assert ("mqtt", "test-mqtt", "PA.OAT", "out_of_range", "99.0") in rows
    status = conn.execute("SELECT source, file, site_code, status FROM ingest_batch").fetchall()
    assert status == [("mqtt", "test-mqtt", "PA", "done")]


def test_batches_continue_counters_and_late_data_marks_dirty(site):
    conn = site
    cache = SiteCache("PA")
    values = [1000.0, 1012.5, 1024.0, 1036.5, 1049.0, 1061.5, 1074.0, 1086.5]
    # first batch: 00:15 .. 01:00 local without 00:45; second batch: 01:15 .. 02:00
    first = [("PA.MAIN.kWh", q(k), values[k]) for k in (0, 1, 3)]
    second = [("PA.MAIN.kWh", q(k), values[k]) for k in (4, 5, 6, 7)]
    ingest_live(conn, "PA", first, source="opcua", cache=cache)
    ingest_live(conn, "PA", second, source="opcua", cache=cache)
    main = stored(conn, "PA.MAIN.kWh")
    np.testing.assert_allclose(main["delta"], [np.nan, 12.5, 24.0, 12.5, 12.5, 12.5, 12.5])
    assert main["quality"][2] & Quality.GAP_SPANNING
    conn.execute("DELETE FROM dirty_hour")
    # the missing 00:45 arrives late (out of order, after newer data): accepted, deltas recomputed
    late = ingest_live(conn, "PA", [("PA.MAIN.kWh", q(2), values[2])], source="opcua", cache=cache)
    assert late.accepted == 1
    main = stored(conn, "PA.MAIN.kWh")
    np.testing.assert_allclose(main["delta"], [np.nan, 12.5, 11.5, 12.5, 12.5, 12.5, 12.5, 12.5])
    assert not main["quality"][3] & Quality.GAP_SPANNING
    assert main["delta"].sum(skipna=True) == pytest.approx(values[-1] - values[0])
    # 00:45 +08:00 is 16:45 UTC the day before: the hour it is in (and the 17:00 delta's hour) are dirty
    assert dirty_hours(conn, "PA.MAIN.kWh") == ["16:00", "17:00"]
    # the same batch again (a redelivery): nothing changes
    again = ingest_live(conn, "PA", second, source="opcua", cache=cache)
    assert again.accepted == 0 and again.duplicates == 4 and again.quarantined_total == 0
    assert len(stored(conn, "PA.MAIN.kWh")) == 8


def test_naive_local_times_and_bad_values(site):
    conn = site
    report = ingest_live(conn, "PA", [("PA.OAT", pd.Timestamp("2025-07-01 08:15"), 30.0),
                                      ("PA.OAT", pd.Timestamp("2025-07-01 08:30"), float("nan"))],
                         source="modbus")
    assert report.accepted == 1 and dict(report.quarantined) == {"unparseable_value": 1}
    ts = conn.execute("SELECT ts FROM reading").fetchone()[0]
    assert pd.Timestamp(ts).tz_convert("UTC") == pd.Timestamp("2025-07-01 00:15", tz="UTC")  # +08:00 site zone
    with pytest.raises(ValueError):
        ingest_live(conn, "PA", [], source="ftp")


def test_batch_of_rejects_only_is_quarantined(site):
    report = ingest_live(site, "PA", [("PA.NOPE", T0, 1.0)], source="opcua",
                         rejects=[("ns=2;s=X", None, None, "opcua_bad_node", "BadNodeIdUnknown")])
    assert report.accepted == 0 and dict(report.quarantined) == {"unknown_tag": 1, "opcua_bad_node": 1}
    assert site.execute("SELECT count(*) FROM reading").fetchone()[0] == 0
    empty = ingest_live(site, "PA", [], source="mqtt", rejects=[("t", "{", None, "malformed_json", "x")])
    assert empty.accepted == 0 and empty.quarantined_total == 1
