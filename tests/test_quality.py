"""Data quality on planted data with known answers: a gap gives an exact completeness, a planted flatline,
spike and tightened range are flagged, a drifting child meter gives an exact unaccounted share against a
virtual parent, a frozen register and an off-grid clock are found, and the job is incremental."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from ems.quality.checks import (
    Thresholds,
    completeness,
    expected_slots,
    flatline_hours,
    frozen_hours,
    hampel,
    point_day,
)
from ems.quality.store import run_quality
from ems.rollups.refresh import refresh_rollups

PLANT = Path(__file__).parent / "data" / "alarms" / "plant_quality.yaml"
DAY = dt.date(2025, 7, 1)
TZ = "Asia/Shanghai"
T0 = pd.Timestamp("2025-07-01 00:00")


def write_csv(path: Path, columns: dict[str, dict[int, float]], slots: int = 97, start: pd.Timestamp = T0,
              second: int = 0) -> Path:
    """A historian export: one row per 15-min slot i (local time), blank where a column has no value."""
    lines = ["Timestamp," + ",".join(columns)]
    for i in range(slots):
        ts = start + pd.Timedelta(minutes=15 * i, seconds=second)
        cells = [("" if i not in col else f"{col[i]:.6g}") for col in columns.values()]
        if any(cells):
            lines.append(f"{ts:%Y-%m-%d %H:%M:%S}," + ",".join(cells))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def f2_register(drift_from: int = 48) -> dict[int, float]:
    """Feeder 2: 40 kWh per 15 min, reading 10 % low (36) for intervals ending after slot ``drift_from``."""
    out, value = {0: 3000.0}, 3000.0
    for j in range(1, 97):
        value += 40 if j <= drift_from else 36
        out[j] = value
    return out


def temperature() -> dict[int, float]:
    """A ramp 15 + 0.1 i, a gap 10:00-11:45 (8 slots), a spike at 05:00, flat 25.0 from 14:00 to 20:00."""
    out = {i: round(15 + 0.1 * i, 3) for i in range(96) if not 40 <= i <= 47}
    out[20] = 45.0
    out.update({i: 25.0 for i in range(56, 81)})
    return out


@pytest.fixture
def plant(ems, conn, tmp_path):
    assert ems("config", "load", PLANT)[0] == 0
    csv = write_csv(tmp_path / "day.csv", {
        "QP.GRID.kWh": {i: 1000 + 80 * i for i in range(97)},
        "QP.PV.kWh": {i: 500 + 20 * i for i in range(97)},
        "QP.F1.kWh": {i: 2000 + 60 * i for i in range(97)},
        "QP.F2.kWh": f2_register(),
        "QP.T": temperature(),
        "QP.WATER.m3": {i: 100 + 2 * i for i in range(65)},      # stops at 16:00
    })
    code, _, err = ems("ingest", "csv", csv, "--site", "QP")
    assert code == 0, err
    refresh_rollups(conn)
    return ems


def qday(conn, code: str, day: dt.date = DAY) -> dict:
    cur = conn.execute("""SELECT q.* FROM quality_day q JOIN point p USING (point_id) WHERE p.code = %s AND q.day = %s""",
                       (code, day))
    row = cur.fetchone()
    assert row is not None, f"no quality row for {code} {day}"
    return dict(zip([c.name for c in cur.description], row))


def balance_rows(conn, code: str, grain: str) -> list[tuple]:
    return conn.execute(
        """SELECT to_char(b.bucket AT TIME ZONE 'Asia/Shanghai', 'HH24:MI'), b.share, b.ok FROM quality_balance b
           JOIN point p ON p.point_id = b.parent_point_id WHERE p.code = %s AND b.grain = %s ORDER BY b.bucket""",
        (code, grain)).fetchall()


def test_completeness_flatline_spike_range_and_stale(plant, conn):
    conn.execute("UPDATE point SET max_value = 40 WHERE code = 'QP.T'")   # limits tightened after ingest
    res = run_quality(conn, include_today=False)
    # 6 metered points and the virtual site meter on 07-01; the 4 meters read at 24:00 also on 07-02
    assert res.point_days == 11 and res.deferred == 0
    assert res.balance_rows == 25                            # 24 hours and the day
    t = qday(conn, "QP.T")
    assert (t["expected"], t["received"]) == (96, 88)
    assert t["completeness"] == pytest.approx(88 / 96)
    assert t["flatline_h"] == pytest.approx(6.0)             # 14:00 .. 20:00 unchanged
    assert t["spikes"] == 1 and t["out_of_range"] == 1       # the 45.0 at 05:00
    assert set(t["issues"]) == {"incomplete", "flatline", "spike", "out_of_range"}
    water = qday(conn, "QP.WATER.m3")
    assert (water["received"], water["stale_intervals"]) == (65, 31)   # last reading 16:00, day ends 24:00
    assert "stale" in water["issues"] and water["flatline_h"] == 0
    grid = qday(conn, "QP.GRID.kWh")
    assert grid["completeness"] == 1.0 and grid["issues"] == [] and grid["negative"] == 0
    # as of 18:00 that day: 72 intervals have elapsed; the water meter has been silent for 2 h
    now = pd.Timestamp("2025-07-01 18:00", tz=TZ)
    ids = dict(conn.execute("SELECT code, point_id FROM point").fetchall())
    run_quality(conn, now=now, include_today=False, days={ids["QP.WATER.m3"]: {DAY}, ids["QP.T"]: {DAY}})
    water = qday(conn, "QP.WATER.m3")
    assert (water["expected"], water["received"], water["stale_intervals"]) == (72, 65, 7)
    assert qday(conn, "QP.T")["future"] == 23                # readings stamped 18:15 .. 23:45 are ahead of now


def test_drifting_child_meter_against_a_virtual_parent(plant, conn):
    run_quality(conn, include_today=False)
    hours = balance_rows(conn, "QP.SITE.kWh", "hour")
    assert len(hours) == 24
    assert all(share == pytest.approx(0.0) and ok for _, share, ok in hours[:12])
    # from 12:00 feeder 2 reads 144 instead of 160 kWh/h: 16 of the site's 400 kWh/h unaccounted
    assert all(share == pytest.approx(0.04) and ok is False for _, share, ok in hours[12:])
    (day,) = balance_rows(conn, "QP.SITE.kWh", "day")
    assert day[1] == pytest.approx(192 / 9600) and day[2] is True   # 2 % within the 3 % tolerance
    row = conn.execute("""SELECT parent_value, children_value, tolerance FROM quality_balance b JOIN point p
                          ON p.point_id = b.parent_point_id WHERE p.code = 'QP.SITE.kWh' AND grain = 'day'""").fetchone()
    assert row == (9600.0, 9408.0, 0.03)


def test_frozen_register_clock_skew_and_incremental_runs(ems, conn, tmp_path):
    assert ems("config", "load", PLANT)[0] == 0
    f1 = {}
    value = 2000.0
    for i in range(97):
        value += 0 if 33 <= i <= 48 else (60 if i else 0)       # intervals ending 08:15 .. 12:00 frozen
        f1[i] = value
    main = write_csv(tmp_path / "feeders.csv", {"QP.F1.kWh": f1, "QP.F2.kWh": f2_register(96),
                                                "QP.T": temperature()})
    skewed = write_csv(tmp_path / "water.csv", {"QP.WATER.m3": {i: 100 + 2 * i for i in range(97)}}, second=30)
    for csv in (main, skewed):
        assert ems("ingest", "csv", csv, "--site", "QP")[0] == 0
    refresh_rollups(conn)
    run_quality(conn, include_today=False)
    frozen = qday(conn, "QP.F1.kWh")
    assert frozen["frozen_h"] == 4.0 and "frozen" in frozen["issues"]
    assert qday(conn, "QP.F2.kWh")["frozen_h"] == 0
    water = qday(conn, "QP.WATER.m3")
    assert water["off_grid"] == 96 and water["max_offset_s"] == 30.0 and "clock_skew" in water["issues"]
    assert water["completeness"] == 1.0
    # nothing new: nothing recomputed
    assert run_quality(conn, include_today=False).point_days == 0
    # a late reading fills one slot of the temperature gap: only that point-day is recomputed
    late = write_csv(tmp_path / "late.csv", {"QP.T": {40: 19.0}}, slots=41)
    assert ems("ingest", "csv", late, "--site", "QP")[0] == 0
    res = run_quality(conn, include_today=False)
    assert res.deferred == 0 and res.point_days == 1          # the temperature is in no balance
    assert qday(conn, "QP.T")["received"] == 89


def test_pure_checks():
    start = pd.Timestamp("2025-06-30 16:00", tz="UTC")
    assert expected_slots(start, start + pd.Timedelta("1D"), 900) == 96
    assert expected_slots(start + pd.Timedelta("7min"), start + pd.Timedelta("1h"), 900) == 3
    ts = pd.Series(pd.date_range(start, periods=10, freq="15min"))
    assert completeness(ts, start, start + pd.Timedelta("1D"), 900) == (96, 10)
    values = pd.Series([1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0, 2.0, 3.0, 3.0])
    assert flatline_hours(ts, values) == 1.0                  # five 2.0s span one hour
    hours = pd.date_range(start, periods=5, freq="h")
    assert frozen_hours(pd.Series([1, 0, 0, 0, 1.0], hours), pd.Series([1, 1, 1, 0, 1.0], hours)) == 2.0
    mask = hampel(pd.Series([10, 10.1, 10.2, 50, 10.4, 10.5, 10.6]))
    assert mask.tolist() == [False, False, False, True, False, False, False]
    assert Thresholds().with_overrides({"flatline_h": "8"}).flatline_h == 8.0
    # an interval meter: 5000 in 15 min is beyond 100 per hour; -3 is negative consumption
    readings = pd.DataFrame({"ts": ts[:4], "value": [10.0, 10.0, 5000.0, -3.0], "delta": [10.0, 10.0, 5000.0, -3.0],
                             "quality": [0, 0, 0, 0]})
    res = point_day(readings, kind="interval", interval_s=900, min_value=None, max_value=None, start=start,
                    end=start + pd.Timedelta("1D"), now=start + pd.Timedelta("2D"), max_rate_per_h=100)
    assert (res.spikes, res.negative, res.received, res.stale_intervals) == (1, 1, 4, 92)
    assert res.issues == ["incomplete", "stale", "spike", "negative"]


def test_quality_cli(plant, monkeypatch):

    code, out, err = plant("quality", "run", "--node", "QP", "--day", "2025-07-01")
    assert code == 0, err
    assert "data quality: 7 point-days, 25 balance rows" in out
    code, out, err = plant("quality", "show", "--node", "QP", "--day", "2025-07-01")
    assert code == 0, err
    assert "QP.T" in out and "91.7%" in out and "incomplete, flatline, spike" in out
    assert "balance QP.SITE.kWh: day parent 9,600.00, children 9,408.00, unaccounted +2.00% (tolerance 3.0%); " \
           "hours beyond tolerance: 12 of 24" in out
    code, _, err = plant("quality", "show", "--node", "NOPE")
    assert code == 2 and "no node with code 'NOPE'" in err
