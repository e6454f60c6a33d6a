"""The Dockerfile passes hadolint and the image rules (pinned bases, non-root, `syncline` entry
point, a default command per service), and its dependency step — the exact `uv sync` it runs —
installs a working `syncline` for every service. Images themselves cannot be built here (no
Docker engine), so this is as close to a build as this machine gets."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.deploy.tooling import COMPOSE_FILE, DOCKERFILE, REPO, SERVICES, run, tool

TEXT = DOCKERFILE.read_text()
# Every image the compose file and the Helm chart use, and the Python module each one runs.
IMAGE_SERVICES = {
    "reconciler": "reconciler",
    "exchange-connector": "exchange_connector",
    "salesforce-connector": "salesforce_connector",
    "status-api": "status_api",
    "simulators": "simulators",
    "cli": "syncline_cli",
}


def _arg_default(name: str) -> str:
    match = re.search(rf"^ARG {name}=(\S+)$", TEXT, re.MULTILINE)
    assert match, f"ARG {name} has no default"
    return match.group(1)


def test_hadolint_finds_nothing() -> None:
    result = run([tool("hadolint"), "--no-color", DOCKERFILE])
    assert result.returncode == 0, result.stdout + result.stderr


def test_base_images_are_pinned_to_exact_versions() -> None:
    python = _arg_default("PYTHON_IMAGE")
    uv = _arg_default("UV_IMAGE")
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+", python), python
    assert re.fullmatch(r"ghcr\.io/astral-sh/uv:\d+\.\d+\.\d+", uv), uv
    registry_froms = [
        line.split()[1]
        for line in TEXT.splitlines()
        if line.startswith("FROM ") and not line.split()[1].startswith(("${", "runtime", "cmd-"))
    ]
    assert registry_froms == [], f"FROM without a pinned ARG: {registry_froms}"
    assert ":latest" not in TEXT


def test_runtime_is_unprivileged_with_syncline_as_entry_point() -> None:
    runtime = TEXT.split("AS runtime", 1)[1].split("AS cmd-", 1)[0]
    users = re.findall(r"^USER (\S+)$", runtime, re.MULTILINE)
    assert users == ["10001:10001"]
    assert 'ENTRYPOINT ["syncline"]' in runtime
    assert "PYTHONDONTWRITEBYTECODE=1" in runtime  # nothing written beside the code
    assert "HOME=/tmp" in runtime
    assert "WORKDIR /tmp" in runtime
    assert "STOPSIGNAL SIGTERM" in runtime
    # Only the virtualenv crosses from the build stage: no sources, no uv, no caches.
    assert re.findall(r"^COPY .*$", runtime, re.MULTILINE) == [
        "COPY --from=build /opt/syncline /opt/syncline"
    ]
    froms = [line for line in TEXT.splitlines() if line.startswith("FROM ")]
    assert froms[-1] == "FROM cmd-${SERVICE}"  # the image is the stage SERVICE names


def test_every_service_image_has_its_default_command() -> None:
    stages = dict(
        re.findall(r"^FROM runtime AS cmd-(\S+)\n(?:EXPOSE .*\n)?CMD (.*)$", TEXT, re.MULTILINE)
    )
    assert set(stages) == set(IMAGE_SERVICES)
    for service in SERVICES:
        assert stages[service].startswith(f'["{service}"'), stages[service]
    compose_args = set(re.findall(r"SERVICE: (\S+)", COMPOSE_FILE.read_text()))
    assert compose_args <= set(IMAGE_SERVICES)


def _uv() -> list[str]:
    """uv as `make bootstrap` installs it (python3 -m uv), else a uv on PATH."""
    for candidate in (["python3", "-m", "uv"], ["uv"]):
        if shutil.which(candidate[0]) and run([*candidate, "--version"]).returncode == 0:
            return candidate
    pytest.skip("uv is not installed (make bootstrap installs it)")


def _uv_sync_packages(service: str) -> list[str]:
    """The packages the Dockerfile's RUN step selects for SERVICE (mirrors its shell logic)."""
    assert "set -- --package syncline-cli" in TEXT
    assert 'if [ "${SERVICE}" != "cli" ]; then set -- "$@" --package "syncline-${SERVICE}"' in TEXT
    packages = ["--package", "syncline-cli"]
    if service != "cli":
        packages += ["--package", f"syncline-{service}"]
    return packages


@pytest.mark.parametrize("service", sorted(IMAGE_SERVICES))
def test_dependency_step_installs_a_working_syncline(service: str, tmp_path: Path) -> None:
    assert "uv sync --frozen --no-dev" in TEXT
    assert "UV_NO_EDITABLE=1" in TEXT
    env_dir = tmp_path / "opt-syncline"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "VIRTUAL_ENV"))}
    env.update(UV_PROJECT_ENVIRONMENT=str(env_dir), UV_PYTHON_DOWNLOADS="never")
    result = subprocess.run(
        [
            *_uv(),
            "sync",
            "--frozen",
            "--no-dev",
            "--no-editable",
            "--quiet",
            *_uv_sync_packages(service),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    syncline = env_dir / "bin" / "syncline"
    usage = subprocess.run(
        [syncline, "--help"], capture_output=True, text=True, check=False, timeout=60
    )
    assert usage.returncode == 0, usage.stderr
    assert "usage: syncline" in usage.stdout
    module = IMAGE_SERVICES[service]
    probe = subprocess.run(
        [
            env_dir / "bin" / "python",
            "-c",
            f"import {module}, syncruntime; print({module}.__file__)",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert probe.returncode == 0, probe.stderr
    # Installed as a wheel inside the environment, not linked back to the source tree.
    assert str(env_dir) in probe.stdout, probe.stdout
    # The other services are not in this image.
    others = [m for s, m in IMAGE_SERVICES.items() if s not in (service, "cli")]
    leaked = subprocess.run(
        [
            env_dir / "bin" / "python",
            "-c",
            f"import importlib.util as u; print([m for m in {others!r} if u.find_spec(m)])",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert leaked.stdout.strip() == "[]", leaked.stdout
