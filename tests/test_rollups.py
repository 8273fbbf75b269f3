"""Roll-ups: known totals per point, node and medium; virtual meters; late data, corrections and a
meter replacement land in the right buckets; a refresh touches only dirty buckets."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ems.rollups.query import group_overview, node_energy
from ems.rollups.refresh import refresh_rollups
from ems.rollups.virtual import lineage

DATA = Path(__file__).parent / "data"
INGEST = DATA / "ingest"
DAY = pd.Timestamp("2025-07-01", tz="Asia/Shanghai")


@pytest.fixture
def loaded(ems, conn):
    assert ems("config", "load", DATA / "plant_small.yaml")[0] == 0
    assert ems("ingest", "csv", INGEST / "pa_2025-07-01.csv", "--site", "PA")[0] == 0
    refresh_rollups(conn)
    return ems


def point_buckets(conn, code: str, grain: str) -> dict[str, float]:
    rows = conn.execute(
        """SELECT to_char(r.bucket AT TIME ZONE 'Asia/Shanghai', 'MM-DD HH24:MI'), r.sum_delta
           FROM rollup_point r JOIN point p USING (point_id) WHERE p.code = %s AND r.grain = %s ORDER BY 1""",
        (code, grain)).fetchall()
    return dict(rows)


def node_total(conn, node: str, grain: str = "day") -> float:
    frame = node_energy(conn, node, DAY, DAY + pd.Timedelta("1D"), grain, "electricity")
    return round(float(frame["value"].sum()), 6)


def test_point_rollups_and_node_membership(loaded, conn):
    hourly = point_buckets(conn, "PA.MAIN.kWh", "hour")
    assert hourly == {"07-01 00:00": 36.5, "07-01 01:00": 37.0, "07-01 02:00": 60.5, "07-01 03:00": 24.0}
    assert point_buckets(conn, "PA.MAIN.kWh", "day") == {"07-01 00:00": 158.0}
    assert point_buckets(conn, "PA.MAIN.kWh", "month") == {"07-01 00:00": 158.0}
    assert point_buckets(conn, "PA.MAIN.kWh", "15min") == {}   # a 15-min meter's 15-min view is its raw data
    fifteen = node_energy(conn, "PA", DAY, DAY + pd.Timedelta("1D"), "15min", "electricity")
    by_start = dict(zip(fifteen["bucket"].dt.strftime("%H:%M"), fifteen["value"]))
    assert by_start["02:30"] == 48.5 and pd.isna(by_start["01:00"])   # the glitch carries no delta
    assert sum(v for v in by_start.values() if not pd.isna(v)) == 158.0
    # the chiller sub-meter counts for its workshop, not again for the plant or the group
    assert node_total(conn, "PA.CHP") == pytest.approx(sum(v for v in point_buckets(conn, "PA.CH1.kWh", "day").values()))
    assert node_total(conn, "PA") == 158.0 and node_total(conn, "GRP") == 158.0
    temps = conn.execute("""SELECT mean, min, max, n FROM rollup_point r JOIN point p USING (point_id)
                            WHERE p.code = 'PA.OAT' AND grain = 'day'""").fetchone()
    assert temps[1:] == (26.7, 28.1, 8) and temps[0] == pytest.approx((28.1 + 28.0 + 27.6 + 27.5 + 27.1 + 27.0 + 26.8 + 26.7) / 8)


def test_virtual_meter_and_lineage(loaded, conn):
    main = point_buckets(conn, "PA.MAIN.kWh", "day")["07-01 00:00"]
    ch1 = point_buckets(conn, "PA.CH1.kWh", "day")["07-01 00:00"]
    assert point_buckets(conn, "PA.REST.kWh", "day")["07-01 00:00"] == pytest.approx(main - ch1)
    hourly_rest = point_buckets(conn, "PA.REST.kWh", "hour")
    hourly_main, hourly_ch1 = point_buckets(conn, "PA.MAIN.kWh", "hour"), point_buckets(conn, "PA.CH1.kWh", "hour")
    for bucket, value in hourly_rest.items():
        assert value == pytest.approx(hourly_main[bucket] - hourly_ch1[bucket])
    assert lineage(conn, "PA.REST.kWh") == ["PA.REST.kWh [kWh, interval] = PA.MAIN.kWh - PA.CH1.kWh",
                                            "  PA.MAIN.kWh [kWh, cumulative] (metered)",
                                            "  PA.CH1.kWh [kWh, cumulative] (metered)"]


def test_late_data_correction_and_meter_replacement_land_in_the_right_totals(loaded, conn, tmp_path):
    before_day = node_total(conn, "PA")
    before_hours = point_buckets(conn, "PA.MAIN.kWh", "hour")
    # late readings fill the 02:00-02:30 gap: the day total stays, the hours are resolved
    assert loaded("ingest", "csv", INGEST / "pa_2025-07-01_fill.csv", "--site", "PA")[0] == 0
    res = refresh_rollups(conn)
    assert res.dirty_hours <= 4                                          # only the touched hours
    hours = point_buckets(conn, "PA.MAIN.kWh", "hour")
    assert node_total(conn, "PA") == before_day
    assert hours["07-01 02:00"] == 12.0 + 11.5 + 13.0 + 12.0 and hours["07-01 00:00"] == before_hours["07-01 00:00"]
    # a correction of the last register reading changes the day by exactly the difference
    fix = tmp_path / "fix.csv"
    fix.write_text("Timestamp,PA.MAIN.kWh\n2025-07-01 03:30:00,1160.0\n", encoding="utf-8")
    assert loaded("ingest", "csv", fix, "--site", "PA", "--correct")[0] == 0
    refresh_rollups(conn)
    assert node_total(conn, "PA") == before_day + 2.0
    # the chiller meter replaced at 03:15 (register restarts near 0): its energy after the swap counts
    ch1 = node_energy(conn, "PA.CHP", DAY, DAY + pd.Timedelta("1D"), "15min", "electricity")
    by_start = dict(zip(ch1["bucket"].dt.strftime("%H:%M"), ch1["value"]))
    assert by_start["03:00"] == 3.0 and by_start["03:15"] == 6.0
    assert node_total(conn, "PA.CHP") == pytest.approx(6 + 6.1 + 5.9 + 6 + 6 + 6 + 12 + 3 + 6)


def test_refresh_without_dirty_hours_is_a_no_op_and_overview(loaded, conn):
    runs = conn.execute("SELECT count(*) FROM rollup_run").fetchone()[0]
    assert refresh_rollups(conn).dirty_hours == 0
    assert conn.execute("SELECT count(*) FROM rollup_run").fetchone()[0] == runs
    overview = group_overview(conn, DAY - pd.Timedelta("31D"), DAY + pd.Timedelta("31D"))
    assert overview[["node", "medium", "value"]].values.tolist() == [["PA", "electricity", 158.0]]


def test_a_late_reading_on_the_hour_updates_the_previous_hour(loaded, conn):
    """A delta stamped 03:00 ends the 02:45-03:00 interval: the 02:00 hour bucket must be recomputed."""
    pid = conn.execute("SELECT point_id FROM point WHERE code = 'PA.MAIN.kWh'").fetchone()[0]
    before = point_buckets(conn, "PA.MAIN.kWh", "hour")["07-01 02:00"]
    with conn.transaction():
        conn.execute("""UPDATE reading SET delta = delta + 5 WHERE point_id = %s
                        AND ts = timestamptz '2025-07-01 03:00+08'""", (pid,))
        conn.execute("INSERT INTO dirty_hour (point_id, hour_utc) VALUES (%s, timestamptz '2025-07-01 03:00+08')", (pid,))
    refresh_rollups(conn)
    assert point_buckets(conn, "PA.MAIN.kWh", "hour")["07-01 02:00"] == before + 5
