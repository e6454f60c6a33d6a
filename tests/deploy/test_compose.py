"""docker-compose.yml is valid Compose (checked by compose-go, the loader of `docker compose
config`, since this machine has the Docker CLI but no compose plugin) and has the topology of
`make run`: Kafka (KRaft) and PostgreSQL, one-shot migrate/topics, the four services, and the
simulators under the `demo` profile."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.tooling import COMPOSE_FILE, SERVICES, run, tool

KEY = "x" * 43 + "="  # any value: the file only requires that one is given


def _config(
    *args: str, key: str | None = KEY, cwd: Path = COMPOSE_FILE.parent, file: Path = COMPOSE_FILE
) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNCLINE_", "COMPOSE_"))}
    if key is not None:
        env["SYNCLINE_ENCRYPTION_KEYS"] = key
    result = run([tool("compose-config"), "-f", file, *args], env=env, cwd=cwd)
    return result.returncode, result.stdout + result.stderr


def _project(*args: str) -> dict[str, Any]:
    code, out = _config(*args)
    assert code == 0, out
    project: dict[str, Any] = yaml.safe_load(out)
    return project


def test_compose_file_validates_with_and_without_the_demo_profile() -> None:
    base = _project()["services"]
    demo = _project("-profile", "demo")["services"]
    expected = {"kafka", "postgres", "migrate", "topics", *SERVICES}
    assert set(base) == expected
    assert set(demo) == expected | {"sim-graph", "sim-salesforce"}


def test_the_validator_rejects_a_broken_file(tmp_path: Path) -> None:
    broken = tmp_path / "docker-compose.yml"
    text = COMPOSE_FILE.read_text()
    broken.write_text(text.replace("read_only: true", "read_only: definitely", 1))
    code, out = _config(file=broken, cwd=tmp_path)
    assert code != 0
    assert "read_only" in out
    broken.write_text(
        text.replace("condition: service_completed_successfully", "condition: service_finished", 1)
    )
    code, out = _config(file=broken, cwd=tmp_path)
    assert code != 0
    assert "condition value must be one of" in out
    broken.write_text(text.replace("stop_grace_period:", "stop_grace_periods:", 1))
    code, out = _config(file=broken, cwd=tmp_path)
    assert code != 0
    assert "stop_grace_periods" in out


def test_an_encryption_key_is_required_not_defaulted() -> None:
    code, out = _config(key=None)
    assert code != 0
    assert "SYNCLINE_ENCRYPTION_KEYS" in out


def test_services_run_hardened_with_health_checks_after_bootstrap() -> None:
    services = _project("-profile", "demo")["services"]
    for name in (*SERVICES, "migrate", "topics", "sim-graph", "sim-salesforce"):
        s = services[name]
        assert s["read_only"] is True, name
        assert s["user"] == "10001:10001", name
        assert s["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in s["security_opt"], name
        assert any(str(t).startswith("/tmp") for t in s["tmpfs"]), name
        assert s["build"]["dockerfile"].endswith("deploy/docker/Dockerfile"), name
    for name in SERVICES:
        s = services[name]
        assert s["command"][0] == name
        assert "/healthz" in " ".join(s["healthcheck"]["test"]), name
        for bootstrap in ("migrate", "topics"):
            assert s["depends_on"][bootstrap]["condition"] == "service_completed_successfully"
        env = s["environment"]
        assert env["SYNCLINE_KAFKA_BOOTSTRAP"] == "kafka:9092"
        assert env["SYNCLINE_DATABASE_URL"].startswith("postgresql://syncline:")
        assert env["SYNCLINE_DATABASE_URL"].endswith("@postgres:5432/syncline")
        # Only the status API seals and opens stored connection secrets.
        assert ("SYNCLINE_ENCRYPTION_KEYS" in env) == (name == "status-api")
    assert services["status-api"]["command"][-2:] == ["--port", "8080"]
    # Each connector serves one tenant, named in its environment.
    assert services["exchange-connector"]["environment"]["SYNCLINE_EXCHANGE_TENANT"] == "demo"
    assert services["salesforce-connector"]["environment"]["SYNCLINE_SALESFORCE_TENANT"] == "demo"
    assert services["migrate"]["command"] == ["migrate"]
    assert services["topics"]["command"] == ["topics"]
    assert services["migrate"]["restart"] == "no"
    assert services["topics"]["restart"] == "no"
    assert services["sim-graph"]["command"][:2] == ["sim", "graph"]
    assert services["sim-graph"]["command"][-2:] == ["--port", "8443"]
    assert services["sim-salesforce"]["command"][-2:] == ["--port", "8444"]


def test_infrastructure_uses_the_official_images() -> None:
    services = _project()["services"]
    kafka, postgres = services["kafka"], services["postgres"]
    assert kafka["image"].startswith("apache/kafka:4.")
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft
    assert kafka["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert postgres["image"] == "postgres:16"
    # Published on loopback only: the local stack is not exposed to the network.
    for s in services.values():
        for port in s.get("ports", []):
            assert port["host_ip"] == "127.0.0.1", port


def test_raw_file_uses_no_unpinned_images() -> None:
    doc = yaml.safe_load(COMPOSE_FILE.read_text())
    for name, s in doc["services"].items():
        image = s["image"]
        assert ":" in image, (name, image)
        assert not image.endswith(":latest"), (name, image)
