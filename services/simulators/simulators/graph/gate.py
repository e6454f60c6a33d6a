"""What Graph checks before a request reaches an Outlook handler, as one pure-ASGI middleware.

In order: bearer token (401 `InvalidAuthenticationToken`), the mailbox in `/users/{id}`
(404 `ErrorInvalidUser`), the application access policy (403 `ErrorAccessDenied`, A1), and
Exchange Online throttling per app + mailbox (A8): more than `concurrency_limit` requests in
flight → 429 `ApplicationThrottled` (MailboxConcurrency); more than `budget_per_window` requests
per window → 429 `ApplicationThrottled` with `Retry-After` until the window frees a slot.
Every `/v1.0` response carries `request-id` and `client-request-id`.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict, deque
from typing import Any

from simulators.common.faults import ASGIApp, Message, Receive, Scope, Send
from simulators.graph.auth import TokenBook
from simulators.graph.errors import error_json
from simulators.graph.store import GraphStore, User


def mailbox_segment(path: str) -> str | None:
    """The `{id}` of `/v1.0/users/{id}/...` (or `/v1.0/users/{id}`)."""
    if not path.startswith("/v1.0/users/"):
        return None
    rest = path[len("/v1.0/users/") :]
    return rest.split("/", 1)[0] or None


class Throttle:
    """In-flight counts and sliding-window budgets per (app, mailbox)."""

    def __init__(self) -> None:
        self.in_flight: defaultdict[tuple[str, str], int] = defaultdict(int)
        self.recent: defaultdict[tuple[str, str], deque[float]] = defaultdict(deque)
        self.throttled = 0

    def admit(self, key: tuple[str, str], store: GraphStore) -> tuple[str, int] | None:
        """None if admitted (caller must `release`), else (message, retry_after)."""
        settings = store.settings
        if self.in_flight[key] >= settings.concurrency_limit:
            self.throttled += 1
            return "Application is over its MailboxConcurrency limit.", (
                settings.throttle_retry_after_s
            )
        now = time.monotonic()
        window = self.recent[key]
        while window and window[0] <= now - settings.budget_window_s:
            window.popleft()
        if len(window) >= settings.budget_per_window:
            self.throttled += 1
            wait = int(window[0] + settings.budget_window_s - now) + 1
            return "Application is over its MailboxRequests limit.", wait
        window.append(now)
        self.in_flight[key] += 1
        return None

    def release(self, key: tuple[str, str]) -> None:
        self.in_flight[key] -= 1

    def reset(self) -> None:
        self.recent.clear()
        self.throttled = 0


class GraphGate:
    def __init__(
        self, app: ASGIApp, store: GraphStore, book: TokenBook, throttle: Throttle
    ) -> None:
        self.app, self.store, self.book, self.throttle = app, store, book, throttle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith("/v1.0/"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        request_id = str(uuid.uuid4())
        client_request_id = headers.get("client-request-id") or request_id
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        extra = [
            (b"request-id", request_id.encode()),
            (b"client-request-id", client_request_id.encode()),
        ]

        async def send_with_ids(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        async def fail(status: int, code: str, message: str, retry: int | None = None) -> None:
            body = error_json(status, code, message, request_id, client_request_id)
            hdrs = [(b"content-type", b"application/json"), *extra]
            if retry is not None:
                hdrs.append((b"retry-after", str(retry).encode()))
            await send({"type": "http.response.start", "status": status, "headers": hdrs})
            await send({"type": "http.response.body", "body": body})

        token = self.book.check(headers.get("authorization"))
        if token is None:
            message = (
                "Access token is empty."
                if "authorization" not in headers
                else "Access token has expired or is not yet valid."
            )
            await fail(401, "InvalidAuthenticationToken", message)
            return
        state["client_id"] = token.client_id
        segment = mailbox_segment(path)
        if segment is None:
            await self.app(scope, receive, send_with_ids)
            return
        user = self.store.find_user(segment)
        if user is None:
            await fail(404, "ErrorInvalidUser", f"The requested user '{segment}' is invalid.")
            return
        if not self._allowed(token.client_id, user):
            await fail(403, "ErrorAccessDenied", "Access to OData is disabled.")
            return
        state["user"] = user
        key = (token.client_id, user.id)
        refused = self.throttle.admit(key, self.store)
        if refused is not None:
            await fail(429, "ApplicationThrottled", refused[0], refused[1])
            return
        try:
            latency = self.store.settings.request_latency_ms
            if latency:
                # Held while counted in flight, so tests can provoke MailboxConcurrency.
                await asyncio.sleep(latency / 1000)
            await self.app(scope, receive, send_with_ids)
        finally:
            self.throttle.release(key)

    def _allowed(self, client_id: str, user: User) -> bool:
        app = self.store.apps.get(client_id)
        return app is not None and (
            app.allowed_mailboxes is None or user.id in app.allowed_mailboxes
        )
