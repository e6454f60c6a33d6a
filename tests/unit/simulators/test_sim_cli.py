"""`syncline sim`: argument handling and the shared TLS helper (persistent local CA)."""

from __future__ import annotations

from pathlib import Path

import pytest
from simulators.cli import main
from simulators.common.tls import load_or_create_tls


def test_sim_ews_requires_a_port_too() -> None:
    # `sim ews` itself runs a server (covered as a subprocess in tests/contract/ews_sim).
    with pytest.raises(SystemExit):
        main(["ews"])


def test_sim_requires_a_port() -> None:
    with pytest.raises(SystemExit):
        main(["graph"])


def test_local_ca_survives_restarts_and_issues_loopback_certificates(tmp_path: Path) -> None:
    first = load_or_create_tls(tmp_path)
    second = load_or_create_tls(tmp_path)
    assert first.ca_pem == second.ca_pem
    assert first.cert_file.read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert (tmp_path / "ca-key.pem").stat().st_mode & 0o077 == 0
