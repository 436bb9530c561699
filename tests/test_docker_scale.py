"""Issue 17: the scaled deployment (docker/compose.scale.yaml) loads and is wired as
documented, and its nginx configuration passes ``nginx -t`` (docker is not run here)."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from tests.conftest import REPO

COMPOSE = REPO / "docker/compose.scale.yaml"
NGINX = REPO / "docker/scale/nginx.conf"


def test_compose_has_primary_standby_two_instances_and_nginx() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    assert set(services) >= {"db", "standby", "provdb1", "provdb2", "nginx"}
    standby = "\n".join(services["standby"]["command"])
    assert "pg_basebackup -h db" in standby and " -R " in standby
    for name in ("provdb1", "provdb2"):
        env = services[name]["environment"]
        assert "@db:5432/provdb" in env["PROVDB_DATABASE_URL"]
        assert "@standby:5432/provdb" in env["PROVDB_READ_URLS"]
        # one PROVDB_HOME for both: either serves the results of jobs the other ran
        assert "provdb-home:/var/lib/provdb" in services[name]["volumes"]
        assert env["PROVDB_HOME"] == "/var/lib/provdb"
    assert "./scale/nginx.conf:/etc/nginx/nginx.conf:ro" in services["nginx"]["volumes"]
    # no password written down: compose refuses to start until docker/.env sets them
    assert "${POSTGRES_PASSWORD:?" in COMPOSE.read_text()
    assert services["db"]["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")


def test_nginx_configuration_passes_nginx_t(tmp_path) -> None:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not shutil.which(nginx):
        pytest.fail("nginx not found: apt-get install nginx (.ci/run installs it)")
    text = NGINX.read_text()
    assert "provdb1:8080" in text and "provdb2:8080" in text
    # the compose service names resolve only inside compose: loopback stands in for them
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        text.replace("provdb1:8080", "127.0.0.1:18081").replace("provdb2:8080", "127.0.0.1:18082")
    )
    done = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-e", "stderr", "-c", str(conf),
         "-g", f"pid {tmp_path}/nginx.pid;"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "syntax is ok" in done.stderr
