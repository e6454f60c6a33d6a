"""Child processes of `syncline dev` and of the end-to-end tests: start, stop, kill, restart."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Service:
    """One `syncline …` process, restartable, its output appended to `<log_dir>/<name>.log`."""

    name: str
    args: list[str]
    env: dict[str, str]
    log_dir: Path
    cwd: Path | None = None
    proc: subprocess.Popen[bytes] | None = None

    @property
    def log_file(self) -> Path:
        return self.log_dir / f"{self.name}.log"

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            self.proc = subprocess.Popen(  # noqa: S603 - our own CLI, arguments we build
                [sys.executable, "-m", "syncline_cli.main", *self.args],
                env=os.environ | self.env,
                cwd=self.cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def kill9(self) -> None:
        self.stop(signal.SIGKILL)

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_file.exists():
            return ""
        return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])


async def wait_for(
    probe: Callable[[], Awaitable[T | None]], *, within: float = 60, what: str = "condition"
) -> T:
    """Poll `probe` until it returns something truthy; fail with `what` after `within` s."""
    deadline = time.monotonic() + within
    last: T | None = None
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            last = await probe()
            if last:
                return last
        await asyncio.sleep(0.5)
    raise TimeoutError(f"timed out after {within:.0f}s waiting for {what} (last: {last!r})")


async def wait_http(
    url: str, what: str, verify: bool | str | ssl.SSLContext = True, within: float = 60
) -> None:
    async def probe() -> bool:
        async with httpx.AsyncClient(verify=verify, timeout=5) as http:
            return (await http.get(url)).status_code < 500

    await wait_for(probe, within=within, what=what)
