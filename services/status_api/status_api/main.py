"""`syncline status-api`: the FastAPI app (OpenAPI 3.1, `/v1`) and its uvicorn entry point."""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from syncruntime.logging import configure_logging
from syncruntime.postgres import create_pool
from syncruntime.settings import PostgresSettings

from status_api.crypto import SecretBox
from status_api.errors import StatusApiError
from status_api.routes import configurations, connection_tests, connections, status, tenants, users
from status_api.schemas import Problem
from status_api.security import OidcVerifier
from status_api.settings import StatusApiSettings

log = logging.getLogger(__name__)

API_PREFIX = "/v1"
ROUTERS = (
    tenants.router,
    connections.router,
    configurations.router,
    users.router,
    status.router,
    connection_tests.router,
)

COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "Malformed request."},
    401: {"model": Problem, "description": "Missing or invalid credentials."},
    403: {"model": Problem, "description": "The key's scope does not allow this."},
    404: {"model": Problem, "description": "Not found (also: another tenant's resource)."},
    409: {"model": Problem, "description": "Conflicts with the current state (e.g. name taken)."},
    413: {"model": Problem, "description": "Request body too large."},
    422: {"model": Problem, "description": "Invalid input."},
    503: {"model": Problem, "description": "Secrets unavailable (encryption keys)."},
}


class BodySizeLimit:
    """Rejects request bodies above a limit with 413, by header and while streaming."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await _send_problem(send, 413, "request body too large", "body_too_large")
            return
        seen = 0
        rejected = False

        async def limited() -> Message:
            nonlocal seen, rejected
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes and not rejected:
                rejected = True
                await _send_problem(send, 413, "request body too large", "body_too_large")
                return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not rejected:  # once we answered 413, whatever the app says is dropped
                await send(message)

        await self.app(scope, limited, guarded_send)


async def _send_problem(send: Send, status_code: int, detail: str, code: str) -> None:
    body = Problem(detail=detail, code=code).model_dump_json().encode()
    await send(
        {
            "type": "http.response.start",
            "status": status_code,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _problem(status_code: int, detail: Any, code: str, headers: Any = None) -> JSONResponse:
    return JSONResponse(
        Problem(detail=detail, code=code).model_dump(mode="json"),
        status_code=status_code,
        headers=headers,
    )


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StatusApiError)
    async def _domain(_: Request, exc: StatusApiError) -> JSONResponse:
        return _problem(exc.status_code, exc.message, exc.code)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {401: "unauthorized", 403: "forbidden", 404: "not_found"}.get(
            exc.status_code, "http"
        )
        return _problem(exc.status_code, str(exc.detail), code, getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "loc": list(e.get("loc", ())),
                "msg": str(e.get("msg", "")),
                "type": str(e.get("type", "")),
            }
            for e in exc.errors()
        ]
        return _problem(422, errors, "invalid")

    @app.exception_handler(asyncpg.DataError)
    async def _unstorable(_: Request, exc: asyncpg.DataError) -> JSONResponse:
        # Last line of defence: input pydantic accepted but Postgres cannot store (e.g. \u0000).
        return _problem(422, "a value cannot be stored: " + type(exc).__name__, "invalid")


REQUESTS = Counter(
    "syncline_status_api_requests_total", "Status API requests", ["method", "route", "status"]
)
LATENCY = Histogram(
    "syncline_status_api_request_duration_seconds", "Status API latency", ["method", "route"]
)


def create_app(
    settings: StatusApiSettings | None = None,
    postgres: PostgresSettings | None = None,
) -> FastAPI:
    settings = settings or StatusApiSettings()
    postgres = postgres or PostgresSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pool = await create_pool(postgres)
        try:
            yield
        finally:
            await app.state.pool.close()

    app = FastAPI(
        title="Syncline status API",
        version="1.0.0",
        summary="Configure, observe and repair Exchange ⇄ Salesforce sync, per tenant.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.secret_box = SecretBox.from_setting(settings.encryption_keys)
    app.state.oidc = OidcVerifier(settings) if settings.oidc_issuer else None
    for router in ROUTERS:
        app.include_router(router, prefix=API_PREFIX, responses=COMMON_RESPONSES)
    _install_error_handlers(app)

    @app.middleware("http")
    async def log_changes(request: Request, call_next: Any) -> Any:
        """Who changed what: one line per write (never bodies: they may hold secrets)."""
        started = time.perf_counter()
        response = await call_next(request)
        route = getattr(request.scope.get("route"), "path", "unmatched")
        REQUESTS.labels(request.method, route, str(response.status_code)).inc()
        LATENCY.labels(request.method, route).observe(time.perf_counter() - started)
        principal = getattr(request.state, "principal", None)
        if request.method not in ("GET", "HEAD", "OPTIONS") and principal is not None:
            log.info(
                "%s %s -> %d",
                request.method,
                request.url.path,
                response.status_code,
                extra={"tenant": principal.tenant_id, "subject": principal.subject},
            )
        return response

    app.add_middleware(BodySizeLimit, max_bytes=settings.api_max_body_bytes)

    @app.get("/healthz", tags=["health"], include_in_schema=True)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], responses={503: {"model": Problem}})
    async def readyz(request: Request) -> JSONResponse:
        try:
            await request.app.state.pool.fetchval("SELECT 1 FROM api_keys LIMIT 1")
        except (OSError, asyncpg.PostgresError):
            return _problem(503, "database unavailable or not migrated", "not_ready")
        return JSONResponse({"status": "ready"})

    @app.get("/metrics", tags=["health"], include_in_schema=False)
    async def metrics() -> Response:
        # Prometheus text format: the request counter and latency histogram below.
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app


def main(argv: Sequence[str] = ()) -> int:
    parser = argparse.ArgumentParser(prog="syncline status-api")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(list(argv))
    configure_logging("status-api")
    settings = StatusApiSettings()
    if not settings.encryption_keys:
        log.warning("SYNCLINE_ENCRYPTION_KEYS is not set: connections cannot be saved")
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_config=None)
    return 0
