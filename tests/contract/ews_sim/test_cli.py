"""`syncline sim ews` serves the simulator as its own process (HTTPS with the persistent CA)."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
from simulators.common.server import free_port


def test_sim_ews_command_serves_https(tmp_path: Path) -> None:
    port = free_port()
    command = [sys.executable, "-m", "syncline_cli.main", "sim", "ews", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--tls-dir", str(tmp_path)],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while not (tmp_path / "ca.pem").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        url = f"https://127.0.0.1:{port}/_sim/credentials"
        verify = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
        body = None
        while body is None and time.monotonic() < deadline:
            try:
                body = httpx.get(url, verify=verify).json()
            except httpx.TransportError:
                time.sleep(0.1)
        assert body is not None, process.stdout.read() if process.stdout else ""
        assert body["ews_url"] == f"https://127.0.0.1:{port}/EWS/Exchange.asmx"
        assert body["ca_certificate_pem"] == (tmp_path / "ca.pem").read_text()
    finally:
        process.terminate()
        process.wait(timeout=10)
