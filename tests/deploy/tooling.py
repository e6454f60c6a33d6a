"""Paths of the deployment artefacts and the checkers provisioned into `.local/bin`.

The checkers are installed by `deploy/checks/install-tools.sh` (run by `make test`); when one is
missing, the tests install it once, and skip only when it truly cannot be installed here.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "syncline"
DOCKERFILE = REPO / "deploy" / "docker" / "Dockerfile"
COMPOSE_FILE = REPO / "docker-compose.yml"
BIN = REPO / ".local" / "bin"
INSTALL_SCRIPT = REPO / "deploy" / "checks" / "install-tools.sh"

# The services the chart, the compose file and the Dockerfile must agree on.
SERVICES = ("reconciler", "exchange-connector", "salesforce-connector", "status-api")
CONSUMERS = ("reconciler", "exchange-connector", "salesforce-connector")

_install_failure: str | None = None


def tool(name: str) -> Path:
    """The path of a provisioned checker, installing the set once if it is missing."""
    global _install_failure
    path = BIN / name
    if path.exists():
        return path
    if _install_failure is None:
        result = subprocess.run(
            ["bash", str(INSTALL_SCRIPT)], capture_output=True, text=True, timeout=900, check=False
        )
        _install_failure = "" if result.returncode == 0 else result.stderr[-2000:]
    if not path.exists():
        pytest.skip(
            f"{name} cannot be installed here (bash {INSTALL_SCRIPT.relative_to(REPO)} failed): "
            f"{_install_failure or 'no binary produced'}"
        )
    return path


def run(
    argv: Sequence[str | Path],
    *,
    env: dict[str, str] | None = None,
    cwd: Path = REPO,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in argv],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
        cwd=cwd,
    )


def helm_template(
    *values_files: str,
    sets: Sequence[str] = (),
    kube_version: str = "1.33.0",
    release: str = "syncline",
    namespace: str = "syncline",
) -> list[dict[str, Any]]:
    """`helm template` the chart; returns the rendered documents (empty ones dropped)."""
    argv: list[str | Path] = [
        tool("helm"),
        "template",
        release,
        CHART,
        "--namespace",
        namespace,
        "--kube-version",
        kube_version,
    ]
    for f in values_files:
        argv += ["--values", CHART / f]
    for s in sets:
        argv += ["--set", s]
    result = run(argv)
    if result.returncode != 0:
        raise RenderError(result.stderr)
    return [d for d in yaml.safe_load_all(result.stdout) if d]


class RenderError(Exception):
    """helm refused to render (a `fail` or `required` in a template, or a syntax error)."""
