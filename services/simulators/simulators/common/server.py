"""Serving a simulator app with uvicorn, in the foreground (CLI) or in a background thread (tests).

Usage::

    serve(app, host="127.0.0.1", port=8443, tls=load_or_create_tls())   # blocks (CLI)

    with BackgroundServer(app, tls=tls) as server:                      # tests
        httpx.get(server.base_url + "/_sim/state", verify=str(tls.ca_file))
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn

from simulators.common.tls import ServerTLS


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _config(app: Any, host: str, port: int, tls: ServerTLS | None) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",  # the apps have no startup/shutdown hooks
        ssl_certfile=str(tls.cert_file) if tls else None,
        ssl_keyfile=str(tls.key_file) if tls else None,
        # Simulators are hammered by benchmarks; a long keep-alive avoids TLS re-handshakes.
        timeout_keep_alive=75,
    )


def serve(app: Any, host: str, port: int, tls: ServerTLS | None) -> None:
    """Run until interrupted (SIGINT/SIGTERM are handled by uvicorn)."""
    uvicorn.Server(_config(app, host, port, tls)).run()


class BackgroundServer:
    """A uvicorn server on a free loopback port in a daemon thread; a context manager."""

    def __init__(self, app: Any, tls: ServerTLS | None, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = free_port(host)
        self.tls = tls
        self._server = uvicorn.Server(_config(app, host, self.port, tls))
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @property
    def base_url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def start(self) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("simulator did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        # Idle keep-alive clients (MSAL's requests session) would otherwise delay shutdown.
        self._server.force_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
