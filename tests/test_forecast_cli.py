"""``ems forecast backtest`` on plain CSV files, and the input checks that guard every fit."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ems.cli.main import main
from forecasting.checks import CheckLimits, InputCheckError, check_target, require_ok
from forecasting.synthetic import load_series


def _csv(tmp_path, frame: pd.DataFrame, name: str = "series.csv", tz: str = "Asia/Shanghai") -> str:
    out = frame.copy()
    out.index = out.index.tz_convert(tz).tz_localize(None)  # naive local times, as a historian exports
    path = tmp_path / name
    out.rename_axis("time").reset_index().to_csv(path, index=False)
    return str(path)


def test_backtest_json_on_any_csv(tmp_path, capsys):
    path = _csv(tmp_path, load_series(days=21, freq="1h"))
    code = main(["forecast", "backtest", "--csv", path, "--time-col", "time", "--target-col", "load",
                 "--feature-cols", "temp_c", "--tz", "Asia/Shanghai", "--freq", "1h", "--horizon", "1d",
                 "--models", "sarimax,ets", "--folds", "2", "--json", "--report", str(tmp_path / "r.md")])
    out = capsys.readouterr().out
    assert code == 0
    data = json.loads(out)  # one JSON object, nothing else on stdout
    assert set(data["models"]) == {"naive_day", "naive_week", "sarimax", "ets"}
    assert data["n_origins"] == 2 and data["horizon_steps"] == 24
    for m in data["models"].values():
        assert m["n"] == 48 and m["mae"] >= 0 and "pinball" in m and "coverage" in m
    assert data["models"]["sarimax"]["skill_day"] > 0
    report = (tmp_path / "r.md").read_text()
    assert "| sarimax |" in report and "naive_week" in report


def test_report_plot_when_matplotlib_is_installed(tmp_path):
    pytest.importorskip("matplotlib")
    from forecasting.backtest import backtest, rolling_origins
    from forecasting.contract import Spec
    from forecasting.report import write_report

    frame = load_series(days=10, freq="1h")
    spec = Spec(target="load", freq="1h", horizon=12, tz="Asia/Shanghai")
    result = backtest(frame, spec, ["ets"], rolling_origins(frame.index, spec, folds=2))
    path = write_report(result, tmp_path / "bt.md", source="synthetic")
    png = tmp_path / "bt.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    assert "![last origin](bt.png)" in path.read_text()


def test_backtest_table_output(tmp_path, capsys):
    path = _csv(tmp_path, load_series(days=16, freq="1h"))
    code = main(["forecast", "backtest", "--csv", path, "--time-col", "time", "--target-col", "load",
                 "--freq", "1h", "--horizon", "6h", "--models", "ets", "--folds", "1", "--calendar", "none"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.splitlines()[0] == "load: 1 origins, horizon 6 x 1h (6h)"
    assert any(line.startswith("naive_week") for line in out.splitlines())


@pytest.mark.parametrize("argv, message", [
    (["--target-col", "nope"], "no column 'nope'"),
    (["--freq", "7min"], "must divide a day"),
    (["--horizon", "90min"], "not a whole number"),
    (["--tz", "Mars/Olympus"], "unknown time zone"),
    (["--models", "prophet"], "unknown model"),
])
def test_user_errors_exit_2_with_one_line(tmp_path, capsys, argv, message):
    path = _csv(tmp_path, load_series(days=10, freq="1h"))
    base = {"--csv": path, "--time-col": "time", "--target-col": "load", "--freq": "1h", "--horizon": "1d"}
    for flag, value in zip(argv[::2], argv[1::2]):
        base[flag] = value
    args = ["forecast", "backtest"] + [x for kv in base.items() for x in kv]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_a_failing_target_is_reported_not_fitted(tmp_path, capsys):
    frame = load_series(days=10, freq="1h")
    frame.iloc[50:80, 0] = 42.0  # a stuck meter for 30 h
    path = _csv(tmp_path, frame)
    code = main(["forecast", "backtest", "--csv", path, "--time-col", "time", "--target-col", "load",
                 "--freq", "1h", "--horizon", "1d", "--json"])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert "failed the input checks" in captured.err and "flatline" in captured.err


def test_a_bad_number_names_file_line_and_field(tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text("time,load\n2024-01-01 00:00,1\n2024-01-01 01:00,abc\n")
    assert main(["forecast", "backtest", "--csv", str(path), "--time-col", "time", "--target-col", "load",
                 "--freq", "1h"]) == 2
    assert "line 3, field 'load'" in capsys.readouterr().err


# ---- input checks ------------------------------------------------------------------------------

def _series(days=10, freq="1h"):
    return load_series(days=days, freq=freq)["load"]


def test_a_clean_series_passes():
    report = require_ok(_series(), pd.Timedelta("1h"))
    assert report.ok and report.completeness == 1.0 and report.n_outliers == 0


def test_completeness():
    y = _series()
    y.iloc[::5] = np.nan  # 20 % missing
    report = check_target(y, pd.Timedelta("1h"))
    assert not report.ok and "completeness 80.0%" in report.failures[0]
    y = _series()
    y.iloc[10:12] = np.nan
    report = check_target(y, pd.Timedelta("1h"))
    assert report.ok and "2 steps missing" in report.warnings[0]


def test_flatline_but_zero_runs_are_a_plant_that_is_off():
    y = _series()
    y.iloc[24:60] = 0.0  # off for 36 h: allowed
    assert check_target(y, pd.Timedelta("1h")).ok
    y.iloc[100:125] = 17.5
    report = check_target(y, pd.Timedelta("1h"))
    assert not report.ok and report.longest_flatline_steps == 25 and report.flatline_value == 17.5
    constant = pd.Series(3.0, index=y.index, name="c")
    assert "constant" in check_target(constant, pd.Timedelta("1h")).failures[-1]


def test_outliers():
    y = _series()
    y.iloc[30] = 5000.0
    report = check_target(y, pd.Timedelta("1h"))
    assert report.ok and report.n_outliers == 1 and "kept" in report.warnings[0]
    y.iloc[40:50] = -4000.0  # 5 % spikes
    with pytest.raises(InputCheckError) as exc:
        require_ok(y, pd.Timedelta("1h"), CheckLimits(flatline_days=3))
    assert "outliers" in str(exc.value) and exc.value.report.n_outliers >= 10


def test_too_short():
    report = check_target(_series(days=1), pd.Timedelta("1h"))
    assert not report.ok and "days of history" in report.failures[0]
