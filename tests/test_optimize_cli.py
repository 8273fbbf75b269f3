"""``ems optimize`` CLI: evaluate JSON on a short window, user errors exit 2 with one line."""

from __future__ import annotations

import json

import pytest

from ems.cli.main import main


def test_evaluate_json_short_window(capsys):
    rc = main(["optimize", "evaluate", "--days", "2", "--plant", "FS", "--systems", "air,storage", "--json",
               "--no-doc"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    air, sto = out["compressed_air:FS"], out["storage:FS"]
    for row in (air, sto):
        for k in ("kwh", "cost_cny", "tco2", "violation_hours"):
            assert k in row["baseline"] and k in row["optimised"]
        assert "saving" in row
    assert air["saving_vs_baseline_pct"] > 5.0
    assert sto["perfect_foresight"]["cost_cny"] <= sto["baseline"]["cost_cny"] + 1e-6
    assert air["saving"]["tco2"] == pytest.approx(air["saving"]["kwh"] * 0.4042 / 1000, rel=1e-9)


@pytest.mark.parametrize("argv, message", [
    (["optimize", "evaluate", "--days", "400"], "outside 1..153"),
    (["optimize", "evaluate", "--plant", "XX", "--days", "1"], "no optimiser configuration"),
    (["optimize", "evaluate", "--systems", "boiler", "--days", "1"], "unknown system"),
])
def test_user_errors_exit_2(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and err.count("\n") == 0


@pytest.mark.db
def test_recommend_accept_reject_list(db_url, monkeypatch, capsys):
    monkeypatch.setenv("EMS_DATABASE_URL", db_url)
    assert main(["optimize", "recommend", "--plant", "FS", "--at", "2025-07-15 14:00", "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["expected_kwh_saved"] > 0 and 5.5 <= rec["decision"]["chws_setpoint_c"] <= 13.0
    assert main(["optimize", "reject", str(rec["rec_id"])]) == 2
    assert "needs a reason" in capsys.readouterr().err
    assert main(["optimize", "accept", str(rec["rec_id"]), "--by", "alice"]) == 0
    assert main(["optimize", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert rows[0]["status"] == "accepted"
    assert main(["optimize", "recommend", "--plant", "FS", "--at", "2025-07-15 14:00",
                 "--forecast-issued", "2025-07-15 08:00"]) == 2
    assert "stale" in capsys.readouterr().err
