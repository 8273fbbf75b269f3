"""Service configuration: file + environment, validated with errors naming file, line and field."""

from __future__ import annotations

import pytest

from ems.errors import UserError
from ems.service.config import Retry, load_service_config, parse_every
from ems.service.scheduler import plan_jobs


def write(tmp_path, text: str):
    p = tmp_path / "service.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_defaults_without_a_file():
    cfg = load_service_config(None, environ={})
    assert cfg.role == "all" and cfg.web.port == 8050 and cfg.logging.format == "json"
    keys = {j.key for j in plan_jobs(cfg)}
    assert keys == {"rollup_refresh", "data_quality", "alarms", "forecast_run", "forecast_retrain", "inventory_drafts",
                    "factor_restatements", "chw_recommend", "recommendation_expiry", "job_run_prune"}


def test_file_env_override_and_per_site_plan(tmp_path):
    p = write(tmp_path, """
web: {port: 9000}
scheduler:
  jobs:
    rollup_refresh: {every: 1min}
    site_check: {every: 1h, function: "ems.service.jobs:noop"}
  sites:
    QD:
      timezone: Asia/Shanghai
      jobs:
        site_check: {cron: "*/15 * * * *"}
    FS:
      jobs: {}
""")
    cfg = load_service_config(p, environ={"EMS_SERVE__WEB__PORT": "9100", "EMS_SERVE__LOGGING__LEVEL": "debug"})
    assert cfg.web.port == 9100 and cfg.logging.level == "DEBUG"
    plan = {j.key: j for j in plan_jobs(cfg)}
    assert set(plan) == {"rollup_refresh", "site_check@QD", "site_check@FS"}
    qd, fs = plan["site_check@QD"], plan["site_check@FS"]
    assert qd.schedule.cron == "*/15 * * * *" and qd.timezone == "Asia/Shanghai" and qd.per_site
    assert qd.target == "ems.service.jobs:noop"         # inherited from the group-level entry
    assert fs.schedule.every == "1h" and fs.timezone == "UTC"
    assert str(qd.trigger().timezone) == "Asia/Shanghai"


@pytest.mark.parametrize("text, line, field, words", [
    ("web:\n  port: 70000\n", 2, "port", "less than or equal"),
    ("scheduler:\n  jobs:\n    rollup_refresh: {every: 5 minutes}\n", 3, "every", "not an interval"),
    ("scheduler:\n  jobs:\n    rollup_refresh:\n      cron: '61 * * * *'\n", 4, "cron", "crontab"),
    ("scheduler:\n  jobs:\n    nonesuch: {every: 1h}\n", 3, "nonesuch", "unknown job 'nonesuch'"),
    ("scheduler:\n  sites:\n    QD:\n      jobs:\n        rollup_refresh: {every: 1h}\n", 5, "rollup_refresh",
     "every site at once"),
    ("scheduler:\n  timezone: Mars/Olympus\n", 2, "timezone", "IANA"),
    ("web:\n  port: 80\n  colour: blue\n", 3, "colour", "Extra inputs"),
    ("scheduler:\n  jobs:\n    noop: {every: 1h, cron: '* * * * *'}\n", 3, "noop", "exactly one"),
])
def test_errors_name_file_line_field(tmp_path, text, line, field, words):
    p = write(tmp_path, text)
    with pytest.raises(UserError) as exc:
        load_service_config(p, environ={})
    msg = str(exc.value)
    assert msg.startswith(f"{p}, line {line}, field '{field}'"), msg
    assert words in msg


def test_env_error_names_the_variable(tmp_path):
    with pytest.raises(UserError) as exc:
        load_service_config(None, environ={"EMS_SERVE__WEB__THREADS": "many"})
    assert "environment EMS_SERVE__WEB__THREADS, field 'threads'" in str(exc.value)


def test_bad_yaml_and_cli_exit_code(tmp_path, capsys):
    from ems.cli.main import main

    p = write(tmp_path, "web: [1,\n")
    assert main(["serve", "--config", str(p), "--check"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {p}, line ") and "not valid YAML" in err[0]


def test_check_prints_the_plan(tmp_path, capsys):
    from ems.cli.main import main

    p = write(tmp_path, "scheduler:\n  jobs:\n    rollup_refresh: {every: 30s}\n")
    assert main(["serve", "--config", str(p), "--check"]) == 0
    out = capsys.readouterr().out
    assert "job rollup_refresh: every 30s (UTC)" in out


def test_intervals_and_backoff():
    assert parse_every("90s").total_seconds() == 90 and parse_every("1.5h").total_seconds() == 5400
    r = Retry(attempts=5, backoff_s=10, factor=3, max_backoff_s=60)
    assert [r.delay(n) for n in (1, 2, 3)] == [10, 30, 60]
