"""Running a service process: signals, graceful stop, and `/healthz`, `/readyz`, `/metrics`.

`run_service` owns the event loop. SIGTERM/SIGINT set the stop event; the service's main
coroutine finishes its in-flight batch, commits and returns; then the health server stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

import uvicorn
from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from syncruntime.logging import configure_logging
from syncruntime.settings import ServiceSettings

log = logging.getLogger(__name__)


@dataclass
class Health:
    """Readiness as named checks; the service flips them as its dependencies come up."""

    checks: dict[str, bool] = field(default_factory=dict)

    def set(self, name: str, ok: bool) -> None:
        self.checks[name] = ok

    @property
    def ready(self) -> bool:
        return bool(self.checks) and all(self.checks.values())


def health_app(service: str, health: Health) -> FastAPI:
    app = FastAPI(title=f"syncline {service} health", docs_url=None, redoc_url=None)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": service}

    @app.get("/readyz")
    async def readyz(response: Response) -> dict[str, object]:
        if not health.ready:
            response.status_code = 503
        return {"ready": health.ready, "checks": health.checks}

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app


class _QuietServer(uvicorn.Server):
    """uvicorn without its own signal handling: the service's stop event owns SIGTERM/SIGINT."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


MainFactory = Callable[[asyncio.Event, Health], Awaitable[None]]


async def serve(service: str, main: MainFactory, settings: ServiceSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    health = Health()
    server: uvicorn.Server | None = None
    server_task: asyncio.Task[None] | None = None
    if settings.health_port is not None:
        config = uvicorn.Config(
            health_app(service, health),
            host=settings.health_host,
            port=settings.health_port,
            log_level="warning",
            lifespan="off",
        )
        server = _QuietServer(config)
        server_task = asyncio.create_task(server.serve())
    log.info("service starting", extra={"service_name": service})
    try:
        await main(stop, health)
    finally:
        if server is not None and server_task is not None:
            server.should_exit = True
            await server_task
        log.info("service stopped", extra={"service_name": service})


def run_service(service: str, main: MainFactory, settings: ServiceSettings | None = None) -> int:
    settings = settings or ServiceSettings()
    configure_logging(service, settings.log_level)
    asyncio.run(serve(service, main, settings))
    return 0
