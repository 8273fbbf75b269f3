"""docker/: what can be checked without a Docker engine: the compose file, the Dockerfile, the init SQL and
the image's service configuration."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from ems.service.config import load_service_config

DOCKER = Path(__file__).resolve().parents[1] / "docker"


def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def test_compose_has_timescaledb_and_the_service():
    c = compose()
    assert set(c["services"]) == {"db", "app"}
    db, app = c["services"]["db"], c["services"]["app"]
    assert db["image"].startswith("timescale/timescaledb:") and re.search(r"-pg(\d+)$", db["image"])
    assert any(v.endswith(":/var/lib/postgresql/data") for v in db["volumes"])
    assert any("/docker-entrypoint-initdb.d/" in v and v.startswith("./init-timescaledb.sql") for v in db["volumes"])
    assert app["depends_on"]["db"]["condition"] == "service_healthy"
    assert app["build"] == {"context": "..", "dockerfile": "docker/Dockerfile"}
    env = app["environment"]
    assert re.fullmatch(r"postgresql://ems:\$\{EMS_DB_PASSWORD\}@db:5432/ems", env["EMS_DATABASE_URL"])
    assert db["environment"]["POSTGRES_DB"] == "ems" and db["environment"]["POSTGRES_USER"] == "ems"
    assert env["EMS_DATA_DIR"] == "/var/lib/ems"
    assert any(v.endswith(":/var/lib/ems") for v in app["volumes"])
    assert set(c["volumes"]) >= {"pgdata", "emsdata"}
    assert app["ports"][0].endswith(":8050")
    # every ${VAR} the compose file uses is in the example .env
    used = set(re.findall(r"\$\{(\w+)", (DOCKER / "compose.yaml").read_text()))
    example = {line.split("=")[0] for line in (DOCKER / ".env.example").read_text().splitlines()
               if line and not line.startswith("#")}
    assert used <= example, used - example


def test_client_tools_match_the_server_major():
    major = re.search(r"-pg(\d+)$", compose()["services"]["db"]["image"]).group(1)
    dockerfile = (DOCKER / "Dockerfile").read_text()
    assert f"postgresql-client-{major}" in dockerfile and f"/usr/lib/postgresql/{major}/bin" in dockerfile


def test_init_sql_enables_timescaledb():
    sql = (DOCKER / "init-timescaledb.sql").read_text()
    assert re.search(r"^CREATE EXTENSION IF NOT EXISTS timescaledb;", sql, re.M)


def test_image_config_is_valid_and_listens_on_all_interfaces():
    cfg = load_service_config(DOCKER / "service.yaml", environ={})
    assert cfg.web.host == "0.0.0.0" and cfg.web.port == 8050 and cfg.role == "all"
    assert "rollup_refresh" in cfg.scheduler.jobs
    text = (DOCKER / "Dockerfile").read_text()
    assert "COPY docker/service.yaml /etc/carbon-cockpit/service.yaml" in text
    assert 'ENTRYPOINT ["ems", "serve", "--config", "/etc/carbon-cockpit/service.yaml"]' in text
    assert "EXPOSE 8050" in text and "/healthz" in text


def test_every_copied_path_exists_and_is_not_ignored():
    root = DOCKER.parent
    ignored = {line.strip() for line in (DOCKER / "Dockerfile.dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    for line in (DOCKER / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            for src in line.split()[1:-1]:
                assert (root / src).exists(), src
                assert src.split("/")[0] not in ignored, src
