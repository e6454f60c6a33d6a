"""Graph over httpx for one app: mailbox-scoped requests with Exchange Online's rules built in.

- every request sends `Prefer: IdType="ImmutableId"` (stable ids across folder moves, A2) and
  `outlook.timezone="UTC"` (A10: read times in UTC, convert with the original zones ourselves);
- at most 4 requests in flight per mailbox (A8 MailboxConcurrency) and a client-side budget per
  mailbox below Graph's 10,000 per 10 minutes, so throttling is rare rather than routine;
- 429/503/504 are retried after `Retry-After` (or exponential backoff when missing);
- a 401 refreshes the token once and retries; a second 401 is an AuthenticationFailed;
- every other failure is raised as the classified `ExchangeError` (errors.py).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import Counter, defaultdict, deque
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from exchange_connector.auth import TokenProvider
from exchange_connector.errors import ExchangeError, Throttled, Unavailable, classify

PREFER = 'IdType="ImmutableId", outlook.timezone="UTC"'
MAILBOX_CONCURRENCY = 4
_RETRYABLE = {429, 503, 504}


class MailboxBudget:
    """A sliding-window request budget per mailbox: wait instead of being throttled."""

    def __init__(self, per_window: int, window_s: float) -> None:
        self.per_window, self.window_s = per_window, window_s
        self.sent: deque[float] = deque()

    async def take(self) -> None:
        while True:
            now = time.monotonic()
            while self.sent and self.sent[0] <= now - self.window_s:
                self.sent.popleft()
            if len(self.sent) < self.per_window:
                self.sent.append(now)
                return
            await asyncio.sleep(self.sent[0] + self.window_s - now)


class GraphClient:
    def __init__(
        self,
        base_url: str,
        tokens: TokenProvider,
        *,
        ca_bundle: Path | None = None,
        max_retries: int = 5,
        budget_per_window: int = 8_000,
        budget_window_s: float = 600.0,
        timeout_s: float = 30.0,
        backoff_base_s: float = 0.5,
    ) -> None:
        verify: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=str(ca_bundle)) if ca_bundle else True
        )
        self.base_url = base_url.rstrip("/")
        self.tokens = tokens
        self.max_retries = max_retries
        self.backoff_base_s = backoff_base_s
        self.http = httpx.AsyncClient(
            verify=verify,
            timeout=timeout_s,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=50),
        )
        self._slots: defaultdict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(MAILBOX_CONCURRENCY)
        )
        self._budgets: defaultdict[str, MailboxBudget] = defaultdict(
            lambda: MailboxBudget(budget_per_window, budget_window_s)
        )
        self.calls: Counter[str] = Counter()
        self.throttled: Counter[str] = Counter()

    async def aclose(self) -> None:
        await self.http.aclose()

    def url(self, mailbox: str, path: str) -> str:
        return f"{self.base_url}/users/{mailbox}/{path.lstrip('/')}"

    async def request(
        self,
        method: str,
        url: str,
        mailbox: str,
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Send one request (absolute URL or a path under /users/{mailbox}); raise on failure."""
        if not url.startswith("http"):
            url = self.url(mailbox, url)
        refreshed = False
        attempt = 0
        while True:
            token = await self.tokens.token()
            sent_headers = {"Authorization": f"Bearer {token}", "Prefer": PREFER, **(headers or {})}
            await self._budgets[mailbox].take()
            async with self._slots[mailbox]:
                self.calls[mailbox] += 1
                try:
                    response = await self.http.request(
                        method, url, json=json, headers=sent_headers, params=params
                    )
                except httpx.TransportError as exc:
                    response = None
                    error: ExchangeError = Unavailable(type(exc).__name__, str(exc))
            if response is not None and response.status_code < 400:
                return response
            if response is not None and response.status_code == 401 and not refreshed:
                refreshed = True
                await self.tokens.invalidate()
                continue
            if response is not None:
                error = classify(response, item_path=_is_item_path(url, mailbox))
                if response.status_code not in _RETRYABLE:
                    raise error
            if isinstance(error, Throttled):
                self.throttled[mailbox] += 1
            attempt += 1
            if attempt > self.max_retries:
                raise error
            await asyncio.sleep(self._delay(error, attempt))

    def _delay(self, error: ExchangeError, attempt: int) -> float:
        if error.retry_after is not None:
            return error.retry_after
        return float(min(60.0, self.backoff_base_s * 2 ** (attempt - 1)))

    async def batch(
        self, mailbox: str, requests: list[dict[str, Any]]
    ) -> dict[str, tuple[int, Any]]:
        """JSON batching (A7): up to 20 requests per call, each answered on its own.

        `requests` are `{"id", "method", "url"}` with `url` relative to /v1.0 (e.g.
        `/users/{mailbox}/events/{id}`). Returns id -> (status, body). Throttled or unavailable
        sub-requests are re-sent after their `Retry-After`; other failures are returned as is.
        """
        results: dict[str, tuple[int, Any]] = {}
        pending = list(requests)
        attempt = 0
        while pending:
            retry: list[dict[str, Any]] = []
            wait = 0.0
            for start in range(0, len(pending), 20):
                chunk = pending[start : start + 20]
                response = await self.request(
                    "POST", f"{self.base_url}/$batch", mailbox, json={"requests": chunk}
                )
                by_id = {str(r["id"]): r for r in chunk}
                for answer in response.json().get("responses", []):
                    status = int(answer.get("status", 500))
                    rid = str(answer.get("id"))
                    if status in _RETRYABLE and attempt < self.max_retries:
                        retry.append(by_id[rid])
                        headers = {k.lower(): v for k, v in (answer.get("headers") or {}).items()}
                        wait = max(wait, float(headers.get("retry-after") or 0))
                        continue
                    results[rid] = (status, answer.get("body"))
            if retry:
                attempt += 1
                self.throttled[mailbox] += len(retry)
                await asyncio.sleep(wait or self.backoff_base_s * 2 ** (attempt - 1))
            pending = retry
        return results

    async def get_json(self, url: str, mailbox: str, **kwargs: Any) -> dict[str, Any]:
        body: dict[str, Any] = (await self.request("GET", url, mailbox, **kwargs)).json()
        return body

    async def pages(
        self,
        url: str,
        mailbox: str,
        *,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Follow `@odata.nextLink` (replayed verbatim) until a page without one."""
        next_url: str | None = url
        while next_url:
            body = await self.get_json(next_url, mailbox, headers=headers, params=params)
            params = None  # links already carry the query
            yield body
            next_url = body.get("@odata.nextLink")


def _is_item_path(url: str, mailbox: str) -> bool:
    """A 404 on `/users/{mailbox}` itself means the mailbox; deeper paths mean an item."""
    tail = url.split(f"/users/{mailbox}", 1)[-1].split("?", 1)[0].strip("/")
    return bool(tail) and tail.count("/") >= 1
