"""Alarm rules as data and their evaluation: file errors name file, line and field; a flapping signal is
one event under hysteresis (and many without); imbalance, data-quality, kW/RT, rate-of-change and
forecast rules raise at the planted times; events are acknowledged with a note."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ems.alarms.engine import run_alarms
from ems.alarms.hysteresis import Condition, episodes
from ems.alarms.rules import load_rules, parse_rules
from ems.errors import UserError
from ems.quality.store import run_quality
from ems.rollups.refresh import refresh_rollups
from tests.test_quality import PLANT, T0, TZ, plant, write_csv  # noqa: F401  (plant is a fixture)

EXAMPLES = Path(__file__).parents[1] / "examples"
SINCE = pd.Timestamp("2025-06-30", tz=TZ)
NOW = pd.Timestamp("2025-07-03", tz=TZ)


def local(text: str) -> pd.Timestamp:
    return pd.Timestamp(f"2025-07-01 {text}", tz=TZ)


def events(conn, rule_id: str) -> list[tuple]:
    rows = conn.execute("""SELECT subject, started_at, ended_at, peak_value FROM alarm_event WHERE rule_id = %s
                           ORDER BY started_at, subject""", (rule_id,)).fetchall()
    return [(s, pd.Timestamp(a).tz_convert(TZ), None if b is None else pd.Timestamp(b).tz_convert(TZ), p)
            for s, a, b, p in rows]


def rules_text(*rules: str) -> str:
    return "version: 1\nrules:\n" + "".join(rules)


FLAP = [30.0] * 4 + [26.0, 30.0] * 6 + [20.0] * 4   # steady high 1 h, flapping 3 h, low 1 h


@pytest.fixture
def flapping(ems, conn, tmp_path):
    assert ems("config", "load", PLANT)[0] == 0
    csv = write_csv(tmp_path / "t.csv", {"QP.T": dict(enumerate(FLAP))}, slots=len(FLAP))
    assert ems("ingest", "csv", csv, "--site", "QP")[0] == 0
    return ems


def test_flapping_signal_is_one_event_under_hysteresis(flapping, conn):
    rules = parse_rules(rules_text(
        "  - {id: hot, type: threshold, point: QP.T, above: 28, clear: 24, min_duration: 30min, min_clear: 30min}\n",
        "  - {id: naive, type: threshold, point: QP.T, above: 28}\n"), "inline.yaml")
    res = run_alarms(conn, rules, now=NOW, since=SINCE)
    assert events(conn, "hot") == [("QP.T", local("00:00"), local("04:00"), 30.0)]
    assert len(events(conn, "naive")) == 7                   # without hysteresis every return above 28 raises anew
    assert res.raised == 8 and res.cleared == 8
    # a second run over the same data changes nothing (state carried, no duplicate events)
    again = run_alarms(conn, rules, now=NOW, since=SINCE)
    assert (again.samples, again.raised, again.cleared) == (0, 0, 0)
    assert conn.execute("SELECT count(*) FROM alarm_event").fetchone()[0] == 8


def test_hysteresis_state_machine():
    idx = pd.date_range("2025-07-01", periods=len(FLAP), freq="15min", tz="UTC")
    cond = Condition("above", 28, 24, pd.Timedelta("30min"), pd.Timedelta("30min"))
    assert episodes(pd.Series(FLAP, idx), cond) == [(idx[0], idx[16])]
    below = Condition("below", 10, 12)
    series = pd.Series([11, 9, 9, 9, 11, 13, 8], idx[:7], dtype=float)
    assert episodes(series, below) == [(idx[1], idx[5]), (idx[6], None)]   # 11 is inside the band: still active


def test_rules_file_errors_name_file_line_and_field(tmp_path):
    assert len(load_rules(EXAMPLES / "alarms.yaml").rules) == 8
    bad = tmp_path / "bad.yaml"
    bad.write_text(rules_text("  - id: a\n    type: threshold\n    point: X\n    above: 5\n",
                              "  - id: b\n    type: threshold\n    point: X\n    above: 5\n    min_duration: 5 parsecs\n"))
    with pytest.raises(UserError) as exc:
        load_rules(bad)
    assert exc.value.where == f"{bad}, line 11, field 'min_duration'" and "rule 'b'" in exc.value.message
    bad.write_text(rules_text("  - id: a\n    type: threshold\n    point: X\n    above: 5\n    clear: 7\n"))
    with pytest.raises(UserError) as exc:
        load_rules(bad)
    assert exc.value.where == f"{bad}, line 7, field 'clear'"
    bad.write_text(rules_text("  - id: a\n    type: enpi\n    node: X\n    indicator: kw_per_rt\n    above: 1\n"))
    with pytest.raises(UserError) as exc:
        load_rules(bad)
    assert exc.value.where == f"{bad}, line 6, field 'indicator'"
    bad.write_text(rules_text("  - {id: a, type: threshold, point: X, above: 1, notify: [pager]}\n"))
    with pytest.raises(UserError, match="unknown notifier 'pager'") as exc:
        load_rules(bad)
    assert exc.value.where == f"{bad}, line 3, field 'notify'"


def test_imbalance_and_data_quality_rules(plant, conn):  # noqa: F811
    run_quality(conn, include_today=False)
    rules = parse_rules(rules_text(
        "  - {id: bal, type: meter_imbalance, parent: QP.SITE.kWh, above: 0.03, min_duration: 1h}\n",
        "  - {id: flat, type: data_quality, node: QP, check: flatline_h, above: 4}\n",
        "  - {id: stale, type: data_quality, node: QP.W1, check: stale_intervals, above: 4}\n"), "inline.yaml")
    res = run_alarms(conn, rules, now=NOW, since=SINCE)
    # feeder 2 drifts from 12:00: the hourly share is 4 % from then on; held 1 h -> raised, starting 12:00
    assert events(conn, "bal") == [("QP.SITE.kWh", local("12:00"), None, pytest.approx(0.04))]
    assert events(conn, "flat") == [("QP.T", local("00:00"), None, 6.0)]   # the day with the 6-hour flatline
    # the feeders' data end with the reading at 00:00 on 07-02: that day is stale for 95 intervals
    day2 = pd.Timestamp("2025-07-02", tz=TZ)
    assert events(conn, "stale") == [("QP.F1.kWh", day2, None, 95.0), ("QP.F2.kWh", day2, None, 95.0)]
    assert res.errors == []


def test_enpi_rate_and_forecast_rules(ems, conn, tmp_path):
    assert ems("config", "load", PLANT)[0] == 0
    hours = range(1, 11)   # hourly interval totals stamped at the end of each hour, 01:00 .. 10:00
    power = {h * 4: (200.0 if h <= 6 else 400.0) for h in hours}
    cooling = {h * 4: 2000.0 for h in hours}
    ramp = {i: round(20 + 0.1 * i, 3) for i in range(40)}
    ramp[20] = 30.0                                            # +8.1 °C in 15 min at 05:00
    ramp.update({i: round(20 + 0.1 * i, 3) + 10 for i in range(21, 40)})
    csv = write_csv(tmp_path / "chp.csv", {"QP.CHP.kWh": power, "QP.CHP.COOL.kWh": cooling, "QP.T": ramp}, slots=41)
    assert ems("ingest", "csv", csv, "--site", "QP")[0] == 0
    refresh_rollups(conn)
    model = conn.execute(
        """INSERT INTO forecast_model (target, model, step_s, horizon_steps, quantiles, train_start, train_end,
                                       artefact, artefact_sha256, is_champion)
           VALUES ('QP.GRID.kWh', 'naive_day', 3600, 24, '{0.5}', '2025-06-01', '2025-07-01', '\\x00', 'x', true)
           RETURNING model_id""").fetchone()[0]
    for h in range(8):
        conn.execute("""INSERT INTO forecast_value (model_id, issued_at, ts, step, p50, quantiles, actual)
                        VALUES (%s, %s, %s, %s, 100, '{}', %s)""",
                     (model, T0.tz_localize(TZ), (T0 + pd.Timedelta(hours=h)).tz_localize(TZ), h + 1,
                      100 if h < 5 else 150))
    rules = parse_rules(rules_text(
        "  - {id: kwrt, type: enpi, node: QP.CHP, indicator: chiller_kw_per_rt, above: 0.6, min_load: 100}\n",
        "  - {id: jump, type: rate_of_change, point: QP.T, above: 10}\n",
        "  - {id: fc, type: forecast_deviation, point: QP.GRID.kWh, above: 0.2, min_duration: 1h}\n"), "inline.yaml")
    run_alarms(conn, rules, now=NOW, since=SINCE)
    # 200 kW on 2000 kW cooling = 0.352 kW/RT; 400 kW from the hour 06:00-07:00 = 0.703 kW/RT
    assert events(conn, "kwrt") == [("QP.CHP", local("06:00"), None, pytest.approx(400 / (2000 / 3.516853)))]
    # 0.4 °C/h on the ramp; the 8.1 °C step in 15 min is 32.4 °C/h, cleared at the next reading
    assert events(conn, "jump") == [("QP.T", local("05:00"), local("05:15"), pytest.approx(32.4))]
    # actuals 50 % above the forecast from 05:00 on, held for an hour
    assert events(conn, "fc") == [("QP.GRID.kWh", local("05:00"), None, pytest.approx(0.5))]


def test_alarms_cli_run_list_ack(flapping, monkeypatch, tmp_path):

    rules = tmp_path / "rules.yaml"
    rules.write_text(rules_text("  - {id: hot, type: threshold, point: QP.T, above: 28, clear: 24, "
                                "min_duration: 30min, min_clear: 30min, severity: critical}\n"))
    code, out, err = flapping("alarms", "rules", "check", rules)
    assert code == 0 and "1 rules, 0 notifiers: ok" in out, err
    code, _, err = flapping("alarms", "rules", "check", EXAMPLES / "nope.yaml")
    assert code == 2 and "nope.yaml" in err and "cannot read file" in err
    assert flapping("alarms", "rules", "load", rules)[0] == 0
    code, out, err = flapping("alarms", "run", "--since", "2025-06-30", "--now", "2025-07-03")
    assert code == 0, err
    assert "1 raised, 1 cleared" in out
    code, out, _ = flapping("alarms", "list")
    assert "#1 [critical] hot: QP.T value 30 above 28" in out and "not acked" in out
    code, out, err = flapping("alarms", "ack", "1", "--note", "sensor in the sun, shade fitted", "--by", "li.wei")
    assert code == 0 and "acknowledged #1" in out, err
    code, out, _ = flapping("alarms", "list", "--unacked")
    assert out.strip() == "no alarm events"
    code, out, _ = flapping("alarms", "list")
    assert "acked by li.wei: sensor in the sun, shade fitted" in out
    code, _, err = flapping("alarms", "ack", "99", "--note", "x")
    assert code == 2 and "no alarm event with id 99" in err


def test_scheduled_jobs_plug_into_the_registry(flapping, conn, tmp_path):
    from ems.alarms.store import save_rule_set
    from ems.quality.jobs import JOBS
    from ems.service.registry import lookup

    assert lookup("data_quality").resolve() is JOBS["data_quality"]
    assert lookup("alarms").resolve() is JOBS["alarms"]
    assert JOBS["alarms"](conn) == 0                         # no rule set loaded yet: nothing to do
    refresh_rollups(conn)
    assert JOBS["data_quality"](conn) >= 1                   # the queued temperature day (and today's figures)
    assert conn.execute("SELECT count(*) FROM quality_dirty").fetchone()[0] == 0
    assert conn.execute("""SELECT received FROM quality_day q JOIN point p USING (point_id)
                           WHERE p.code = 'QP.T' AND q.day = '2025-07-01'""").fetchone() == (len(FLAP),)
    rules = tmp_path / "rules.yaml"
    rules.write_text(rules_text("  - {id: hot, type: threshold, point: QP.T, above: 28, clear: 24, "
                                "min_duration: 30min, min_clear: 30min, lookback: 100000D}\n"))
    save_rule_set(conn, rules)
    assert JOBS["alarms"](conn) == 2                         # one event raised and cleared
    assert JOBS["alarms"](conn) == 0
