"""Fault injection and request counting shared by the simulators (the `/_sim/` control API).

Both pieces sit in one pure-ASGI middleware (cheap enough for thousands of requests a second):

- faults: extra latency, a random error rate, and bursts of N consecutive 429/503 answers with a
  `Retry-After` header, optionally limited to a path prefix and to one subject (mailbox / org);
- counters: requests per endpoint (`"GET /v1.0/users/{user}/contacts"`, the route template) and
  per subject, so benchmarks can count API calls exactly.

Usage in a simulator app::

    control = SimControl(subject_of=my_subject_fn, error_body=my_error_fn, counted_prefix="/v1.0")
    app.include_router(control.router)   # /_sim/faults (GET/POST/DELETE), /_sim/counters
    app.add_middleware(FaultMiddleware, control=control)   # or wrap: FaultMiddleware(app, control)

A simulator that executes sub-requests itself (Graph `$batch`, Salesforce `/composite`) counts
each one with `control.counters.record(...)` or, simpler, routes them back through the app.
`/_sim/*` itself is never faulted or counted.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

ErrorBody = Callable[[int], tuple[bytes, str]]
"""Renders an injected error for a status code as (body, content type) in the API's own format."""

SubjectOf = Callable[[Scope], str | None]
"""Extracts the subject (mailbox, org) a request is about from the ASGI scope, if any."""


class Burst(BaseModel):
    status: int = Field(default=429, description="429 or 503 (any 4xx/5xx is accepted).")
    count: int = Field(default=1, ge=0, description="How many consecutive requests fail.")
    retry_after: int | None = Field(default=1, ge=0, description="Retry-After seconds, or none.")


class FaultSettings(BaseModel):
    """What `POST /_sim/faults` accepts (all optional; unspecified = no fault)."""

    latency_ms: float = Field(default=0, ge=0, description="Extra latency on every request.")
    error_rate: float = Field(default=0, ge=0, le=1, description="Share of requests failed.")
    error_status: int = Field(default=503, description="Status for error_rate failures.")
    error_retry_after: int | None = Field(default=None, ge=0)
    burst: Burst | None = None
    path_prefix: str | None = Field(default=None, description="Only paths starting with this.")
    subject: str | None = Field(default=None, description="Only this mailbox/org (lower-case).")


@dataclass
class Counters:
    """Request counts per endpoint template and per subject (thread-safe, cheap)."""

    by_endpoint: Counter[str] = field(default_factory=Counter)
    by_subject: Counter[str] = field(default_factory=Counter)
    by_subject_endpoint: Counter[str] = field(default_factory=Counter)
    total: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, endpoint: str, subject: str | None) -> None:
        with self._lock:
            self.total += 1
            self.by_endpoint[endpoint] += 1
            if subject:
                self.by_subject[subject] += 1
                self.by_subject_endpoint[f"{subject} {endpoint}"] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "total": self.total,
                "by_endpoint": dict(self.by_endpoint),
                "by_subject": dict(self.by_subject),
                "by_subject_endpoint": dict(self.by_subject_endpoint),
            }

    def reset(self) -> None:
        with self._lock:
            self.total = 0
            self.by_endpoint.clear()
            self.by_subject.clear()
            self.by_subject_endpoint.clear()


class SimControl:
    """Fault settings + counters of one simulator process, and the `/_sim` router for them."""

    def __init__(
        self, subject_of: SubjectOf, error_body: ErrorBody, counted_prefix: str = "/"
    ) -> None:
        self.subject_of = subject_of
        self.error_body = error_body
        self.counted_prefix = counted_prefix
        self.faults = FaultSettings()
        self.counters = Counters()
        self._burst_left = 0
        self.router = self._build_router()

    def set_faults(self, settings: FaultSettings) -> None:
        self.faults = settings
        self._burst_left = settings.burst.count if settings.burst else 0

    def _applies(self, path: str, subject: str | None) -> bool:
        f = self.faults
        if f.path_prefix and not path.startswith(f.path_prefix):
            return False
        return not (f.subject and f.subject != subject)

    def injected_error(self, path: str, subject: str | None) -> tuple[int, int | None] | None:
        """(status, retry_after) if this request must fail, consuming one burst slot."""
        f = self.faults
        if not self._applies(path, subject):
            return None
        if self._burst_left > 0 and f.burst is not None:
            self._burst_left -= 1
            return f.burst.status, f.burst.retry_after
        if f.error_rate and random.random() < f.error_rate:
            return f.error_status, f.error_retry_after
        return None

    def _build_router(self) -> APIRouter:
        router = APIRouter(prefix="/_sim", tags=["simulator control"])

        @router.get("/faults")
        async def get_faults() -> dict[str, Any]:
            return {**self.faults.model_dump(), "burst_left": self._burst_left}

        @router.post("/faults")
        async def post_faults(settings: FaultSettings) -> dict[str, Any]:
            self.set_faults(settings)
            return {**self.faults.model_dump(), "burst_left": self._burst_left}

        @router.delete("/faults", status_code=204)
        async def clear_faults() -> None:
            self.set_faults(FaultSettings())

        @router.get("/counters")
        async def get_counters() -> dict[str, Any]:
            return self.counters.snapshot()

        @router.delete("/counters", status_code=204)
        async def reset_counters() -> None:
            self.counters.reset()

        return router


class FaultMiddleware:
    """Pure ASGI middleware: counts the request, then maybe delays or fails it."""

    def __init__(self, app: ASGIApp, control: SimControl) -> None:
        self.app = app
        self.control = control

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(self.control.counted_prefix):
            await self.app(scope, receive, send)
            return
        control = self.control
        subject = control.subject_of(scope)
        if control.faults.latency_ms and control._applies(path, subject):
            await asyncio.sleep(control.faults.latency_ms / 1000)
        injected = control.injected_error(path, subject)
        if injected is not None:
            control.counters.record(f"{scope['method']} {path}", subject)
            await _send_error(send, control, *injected)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            # FastAPI puts the matched route into the scope: count by its template, not raw path.
            route = scope.get("route")
            template = getattr(route, "path", None) or path
            control.counters.record(f"{scope['method']} {template}", subject)


async def _send_error(send: Send, control: SimControl, status: int, retry: int | None) -> None:
    body, content_type = control.error_body(status)
    headers = [(b"content-type", content_type.encode()), (b"content-length", b"%d" % len(body))]
    if retry is not None:
        headers.append((b"retry-after", str(retry).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
