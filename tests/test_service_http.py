"""``ems serve``: real HTTP requests to a served process; health, readiness, roles, SIGTERM shutdown."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from ems.service.config import load_service_config
from ems.service.runtime import Service

ROOT = Path(__file__).resolve().parents[1]


def get(url: str) -> tuple[int, dict | str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            body = r.read().decode()
            status = r.status
    except urllib.error.HTTPError as e:
        body, status = e.read().decode(), e.code
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body


@pytest.fixture
def service_cfg(tmp_path):
    p = tmp_path / "service.yaml"
    p.write_text("web: {port: 0, threads: 2}\nscheduler:\n  jobs:\n    noop: {every: 1s}\n")
    return load_service_config(p, environ={})


def test_all_in_one_serves_cockpit_health_and_scheduler(ems_env, tmp_path, service_cfg):
    svc = Service(service_cfg, data_dir=tmp_path / "data")
    svc.start()
    try:
        base = f"http://127.0.0.1:{svc.port}"
        status, body = get(base + "/healthz")
        assert status == 200 and body["status"] == "ok" and body["scheduler"]["state"] == "running"
        status, body = get(base + "/readyz")
        assert status == 200 and body["database"] == "ok" and body["schema_version"] >= 10
        status, page = get(base + "/login")                 # the cockpit, behind waitress
        assert status == 200 and "<html" in page.lower()
        deadline = time.monotonic() + 10
        with svc.db.connection() as conn:
            while conn.execute("SELECT count(*) FROM job_run WHERE status = 'ok'").fetchone()[0] == 0:
                assert time.monotonic() < deadline, "the scheduler never ran a job"
                time.sleep(0.1)
        # readiness follows the schema: a migration this code has but the database lacks -> 503
        with svc.db.connection() as conn:
            conn.execute("DELETE FROM schema_migrations WHERE version = 10")
        status, body = get(base + "/readyz")
        assert status == 503 and body["missing_migrations"] == [10]
        svc.stopping.set()
        status, body = get(base + "/readyz")
        assert status == 503 and body["reason"] == "shutting down"
    finally:
        assert svc.stop() == 0
    assert svc.scheduler.state == "stopped"
    with pytest.raises(OSError):
        get(f"http://127.0.0.1:{svc.port}/healthz")


def test_worker_role_has_no_cockpit(ems_env, tmp_path, service_cfg):
    svc = Service(service_cfg, role="worker", data_dir=tmp_path / "data")
    svc.start()
    try:
        status, body = get(f"http://127.0.0.1:{svc.port}/healthz")
        assert status == 200 and body["role"] == "worker"
        status, body = get(f"http://127.0.0.1:{svc.port}/")
        assert status == 404
    finally:
        svc.stop()


def test_ingest_role_needs_a_connectors_file(ems, tmp_path):
    code, _, err = ems("serve", "--role", "ingest", "--port", "0")
    assert code == 2 and "role 'ingest' needs a connectors file" in err


def _entrypoint() -> list[str]:
    """The image's ENTRYPOINT, with the config path mapped to the file the Dockerfile copies there."""
    text = (ROOT / "docker" / "Dockerfile").read_text()
    entry = json.loads(next(line for line in text.splitlines() if line.startswith("ENTRYPOINT"))[len("ENTRYPOINT"):])
    copy = next(line.split()[1:] for line in text.splitlines() if line.startswith("COPY docker/service.yaml"))
    return [str(ROOT / copy[0]) if a == copy[1] else a for a in entry]


def test_image_entrypoint_runs_outside_docker_and_stops_on_sigterm(db_url, tmp_path):
    cmd = _entrypoint()
    assert cmd[:2] == ["ems", "serve"]
    env = dict(os.environ, EMS_DATABASE_URL=db_url, EMS_DATA_DIR=str(tmp_path / "data"),
               EMS_SERVE__WEB__PORT="0", EMS_SERVE__WEB__HOST="127.0.0.1",
               EMS_SERVE__SCHEDULER__JOBS__NOOP__EVERY="1s")
    exe = [sys.executable, "-c", "import sys; from ems.cli.main import main; sys.exit(main())"] + cmd[1:]
    proc = subprocess.Popen(exe, env=env, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    lines: list[dict] = []
    try:
        port = None
        deadline = time.monotonic() + 40
        while port is None:
            assert time.monotonic() < deadline, f"no start: {shlex.join(cmd)}"
            line = proc.stderr.readline()
            assert line, f"exited early with {proc.poll()}"
            rec = json.loads(line)                            # every log line is one JSON object
            lines.append(rec)
            if rec.get("event") == "service_started":
                port = rec["port"]
        status, body = get(f"http://127.0.0.1:{port}/healthz")
        assert status == 200 and body["role"] == "all"
        assert get(f"http://127.0.0.1:{port}/readyz")[0] == 200
        proc.send_signal(signal.SIGTERM)
        _, rest = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    lines += [json.loads(x) for x in rest.splitlines() if x.strip()]
    assert proc.returncode == 0
    events = [rec.get("event") for rec in lines]
    for e in ("database_ready", "scheduler_started", "web_started", "service_stopping", "web_stopped",
              "scheduler_stopped", "service_stopped"):
        assert e in events, e
    assert events.index("scheduler_stopped") > events.index("service_stopping")
    assert all({"ts", "level", "logger", "msg"} <= set(rec) for rec in lines)
