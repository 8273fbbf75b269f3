"""Historian import end to end through the CLI, on a real PostgreSQL: counters, units, quarantine,
idempotence, conflicts, corrections, late data, strict mode and bad files. Golden file for the stored result."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ems.readings.quality import Quality

DATA = Path(__file__).parent / "data"
INGEST = DATA / "ingest"


@pytest.fixture
def plant(ems):
    code, out, err = ems("config", "load", DATA / "plant_small.yaml")
    assert code == 0, err
    return ems


def stored(conn, code: str) -> pd.DataFrame:
    rows = conn.execute(
        """SELECT r.ts, r.value, r.delta, r.quality FROM reading r JOIN point p USING (point_id)
           WHERE p.code = %s ORDER BY r.ts""", (code,)).fetchall()
    frame = pd.DataFrame(rows, columns=["ts", "value", "delta", "quality"]).astype({"value": float, "delta": float, "quality": int})
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True).dt.tz_convert("Asia/Shanghai").dt.strftime("%H:%M")
    return frame


def quarantine(conn) -> list[tuple]:
    return conn.execute("SELECT field, line, raw, reason FROM quarantine ORDER BY line NULLS LAST, field").fetchall()


def test_import_counters_units_and_quarantine(plant, conn):
    code, out, err = plant("ingest", "csv", INGEST / "pa_2025-07-01.csv", "--site", "PA")
    assert code == 0, err
    assert "accepted 29" in out and "quarantined 14" in out
    assert "quarantined unknown_tag: 11" in out and "quarantined out_of_range: 1" in out
    assert "counter glitch: 1" in out and "counter reset: 1" in out

    main = stored(conn, "PA.MAIN.kWh")
    assert main["ts"].tolist() == ["00:15", "00:30", "00:45", "01:00", "01:15", "01:30", "01:45", "02:45",
                                   "03:00", "03:15", "03:30"]
    assert main["value"].tolist()[-2] == 1146.5                         # thousands separator
    np.testing.assert_allclose(main["delta"].to_numpy(),
                               [np.nan, 12.5, 11.5, 12.5, np.nan, 24.5, 12.5, 48.5, 12.0, 12.5, 11.5])
    assert main["quality"][4] & Quality.GLITCH                          # the zero glitch
    assert main["quality"][7] & Quality.GAP_SPANNING                    # 01:45 -> 02:45 spans a gap

    ch1 = stored(conn, "PA.CH1.kWh")                                    # header unit MWh -> stored in kWh
    np.testing.assert_allclose(ch1["value"].to_numpy(), [500, 506, 512.1, 518, 524, 530, 536, 548, 3, 9])
    np.testing.assert_allclose(ch1["delta"].to_numpy(), [np.nan, 6, 6.1, 5.9, 6, 6, 6, 12, 3, 6])
    assert ch1["quality"][8] & Quality.RESET and ch1["quality"][7] & Quality.GAP_SPANNING

    reasons = {(f, r) for f, _, _, r in quarantine(conn)}
    assert {("PA.OAT", "missing_marker"), ("PA.OAT", "excel_error"), ("PA.OAT", "out_of_range"),
            ("PA.XYZ", "unknown_tag")} <= reasons
    lines = {r: line for f, line, _, r in quarantine(conn) if f == "PA.OAT"}
    assert lines == {"missing_marker": 4, "out_of_range": 7, "excel_error": 10}
    events = conn.execute("SELECT kind, count(*) FROM counter_event GROUP BY 1 ORDER BY 1").fetchall()
    assert dict(events) == {"gap": 3, "glitch": 1, "reset": 1}  # 01:00 -> 01:30 spans the glitch


def test_reimport_is_a_no_op(plant, conn):
    plant("ingest", "csv", INGEST / "pa_2025-07-01.csv", "--site", "PA")
    before = conn.execute("SELECT count(*), sum(delta) FROM reading").fetchone()
    code, out, _ = plant("ingest", "csv", INGEST / "pa_2025-07-01.csv", "--site", "PA", "--json")
    report = json.loads(out)
    assert code == 0 and report["accepted"] == 0 and report["duplicates"] == 29
    assert conn.execute("SELECT count(*), sum(delta) FROM reading").fetchone() == before


def test_late_data_fills_the_gap_and_fixes_deltas(plant, conn):
    plant("ingest", "csv", INGEST / "pa_2025-07-01.csv", "--site", "PA")
    total_before = stored(conn, "PA.MAIN.kWh")["delta"].sum()
    code, out, err = plant("ingest", "csv", INGEST / "pa_2025-07-01_fill.csv", "--site", "PA")
    assert code == 0, err
    main = stored(conn, "PA.MAIN.kWh").set_index("ts")
    assert main.loc[["02:00", "02:15", "02:30", "02:45"], "delta"].tolist() == [12.0, 11.5, 13.0, 12.0]
    assert not main.loc["02:45", "quality"] & Quality.GAP_SPANNING
    assert main["delta"].sum() == pytest.approx(total_before)              # same energy, now resolved in time
    dirty = conn.execute("SELECT count(*) FROM dirty_hour").fetchone()[0]
    assert dirty >= 4


def test_conflicting_reimport_is_quarantined_unless_corrected(plant, conn):
    plant("ingest", "csv", INGEST / "pa_2025-07-01.csv", "--site", "PA")
    code, out, _ = plant("ingest", "csv", INGEST / "pa_oat_changed.csv", "--site", "PA", "--strict")
    assert code == 3 and "quarantined conflicts_with_stored: 1" in out
    assert stored(conn, "PA.OAT").set_index("ts").loc["00:30", "value"] == 28.0
    code, out, _ = plant("ingest", "csv", INGEST / "pa_oat_changed.csv", "--site", "PA", "--correct")
    assert code == 0 and "corrected 1" in out
    row = stored(conn, "PA.OAT").set_index("ts").loc["00:30"]
    assert row["value"] == 28.4 and int(row["quality"]) & Quality.EDITED
    assert conn.execute("SELECT old_value, new_value FROM reading_edit").fetchall() == [(28.0, 28.4)]


def test_bad_files_fail_cleanly_and_write_nothing(plant, conn, tmp_path):
    png = tmp_path / "chart.csv"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    code, out, err = plant("ingest", "csv", png, "--site", "PA")
    assert code == 2 and "chart.csv" in err and "Traceback" not in err
    broken = tmp_path / "broken.csv"
    broken.write_bytes(b"Timestamp,PA.OAT\n2025-07-01 00:15:00,28.1\n" + b"2025-07-01 00:30:00,\xff\xfe\x80\n")
    code, out, err = plant("ingest", "csv", broken, "--site", "PA")
    assert code == 2 and "broken.csv" in err and "line 3" in err
    assert conn.execute("SELECT count(*) FROM reading").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM quarantine").fetchone()[0] == 0
    statuses = conn.execute("SELECT status FROM ingest_batch ORDER BY batch_id").fetchall()
    assert statuses == [("failed",), ("failed",)]
    code, _, err = plant("ingest", "csv", INGEST / "pa_2025-07-01.csv", "--site", "NOPE")
    assert code == 2 and "no node with code 'NOPE'" in err


def test_mapping_file_links_tags_to_points(plant, conn, tmp_path):
    export = tmp_path / "scada.csv"
    export.write_text("时间,冷机1电量,室外温度\n2025-07-01 00:15:00,1.0,82.4\n2025-07-01 00:30:00,1.0002,84.2\n",
                      encoding="gbk")
    mapping = tmp_path / "map.csv"
    mapping.write_text("位号,点位编码,单位,倍率\n冷机1电量,PA.CH1.kWh,MWh,1\n室外温度,PA.OAT,degF,1\n", encoding="gbk")
    code, out, err = plant("ingest", "csv", export, "--site", "PA", "--mapping", mapping)
    assert code == 0, err
    np.testing.assert_allclose(stored(conn, "PA.CH1.kWh")["delta"].to_numpy(), [np.nan, 0.2])
    np.testing.assert_allclose(stored(conn, "PA.OAT")["value"].to_numpy(), [28.0, 29.0])


def test_readings_command(plant):
    plant("ingest", "csv", INGEST / "pa_2025-07-01.csv", "--site", "PA")
    code, out, err = plant("readings", "--point", "PA.MAIN.kWh", "--from", "2025-07-01", "--to", "2025-07-02",
                           "--every", "1h", "--csv")
    assert code == 0, err
    frame = pd.read_csv(pd.io.common.StringIO(out))
    hourly = dict(zip(frame["bucket"].str[11:16], frame["delta_sum"]))
    assert hourly["00:00"] == 36.5           # 00:15..01:00: 12.5 + 11.5 + 12.5 (the first has no delta)
    assert hourly["01:00"] == 37.0           # 01:15 glitch (none) + 01:30 24.5 + 01:45 12.5 + 02:00 none
    code, _, err = plant("readings", "--point", "NOPE", "--from", "2025-07-01", "--to", "2025-07-02")
    assert code == 2 and "no point with code 'NOPE'" in err


def test_golden_stored_result(plant, conn):
    """The stored readings and quarantine of a realistic export match the reviewed golden file."""
    plant("ingest", "csv", INGEST / "pa_2025-07-01.csv", "--site", "PA")
    rows = conn.execute(
        """SELECT p.code, to_char(r.ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI"Z"'), r.value, r.delta, r.quality
           FROM reading r JOIN point p USING (point_id) ORDER BY 1, 2""").fetchall()
    q = conn.execute("SELECT field, line, raw, ts_text, reason, detail FROM quarantine ORDER BY line, field").fetchall()
    text = "\n".join(",".join("" if v is None else str(v) for v in row) for row in rows) + "\n--- quarantine\n" + \
        "\n".join("|".join("" if v is None else str(v) for v in row) for row in q) + "\n"
    golden = INGEST / "pa_2025-07-01.golden.txt"
    if os.environ.get("EMS_UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")
