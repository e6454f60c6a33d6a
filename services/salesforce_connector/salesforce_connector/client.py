"""Salesforce REST over httpx, with re-login on INVALID_SESSION_ID and the API budget governor.

Every response's `Sforce-Limit-Info: api-usage=N/M` feeds the governor (REST "Limit Info
Header", C3). The governor refuses calls beyond the configured share of the org's daily
allocation and, after 403 REQUEST_LIMIT_EXCEEDED (which carries no Retry-After), pauses for a
fixed interval: callers get `QuotaExhausted(resume_at)` and wait, never hot-loop (C11).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import ssl
from collections.abc import Callable
from typing import Any

import httpx

from salesforce_connector.auth import Authenticator
from salesforce_connector.errors import QuotaExhausted, RequestRejected, TransientError
from salesforce_connector.settings import SalesforceSettings

log = logging.getLogger(__name__)
_USAGE = re.compile(r"api-usage=(\d+)/(\d+)")
Clock = Callable[[], dt.datetime]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class BudgetGovernor:
    """Keeps this connector within `share` of the org's daily API allocation."""

    def __init__(self, share: float, pause_s: float, clock: Clock = _utcnow) -> None:
        self.share = share
        self.pause_s = pause_s
        self.clock = clock
        self.used: int | None = None
        self.allocation: int | None = None
        self.paused_until: dt.datetime | None = None
        self.pause_reason = ""

    @property
    def used_share(self) -> float | None:
        if not self.used or not self.allocation:
            return None
        return self.used / self.allocation

    def before_call(self) -> None:
        now = self.clock()
        if self.paused_until is not None:
            if now < self.paused_until:
                raise QuotaExhausted(self.paused_until, self.pause_reason)
            self.paused_until = None  # try again; the next header tells us where we stand
            return
        share = self.used_share
        if share is not None and share >= self.share:
            self.pause(f"{self.share:.0%} share of the daily API allocation used")
            assert self.paused_until is not None
            raise QuotaExhausted(self.paused_until, self.pause_reason)

    def observe(self, header: str | None) -> None:
        m = _USAGE.search(header or "")
        if m:
            self.used, self.allocation = int(m.group(1)), int(m.group(2))

    def pause(self, reason: str) -> None:
        self.paused_until = self.clock() + dt.timedelta(seconds=self.pause_s)
        self.pause_reason = reason
        log.warning("API budget pause", extra={"reason": reason, "until": str(self.paused_until)})


def ssl_context(settings: SalesforceSettings) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    if settings.ca_bundle is not None:
        ctx.load_verify_locations(cafile=str(settings.ca_bundle))
    return ctx


class SalesforceClient:
    def __init__(self, settings: SalesforceSettings, http: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self.http = http or httpx.AsyncClient(
            verify=ssl_context(settings), timeout=settings.timeout_s
        )
        self.auth = Authenticator(settings, self.http)
        self.governor = BudgetGovernor(settings.budget_share, settings.quota_pause_s)
        self.calls = 0

    @property
    def base(self) -> str:
        return f"/services/data/v{self.settings.api_version}"

    async def aclose(self) -> None:
        await self.http.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        as_user: str | None = None,
    ) -> Any:
        """One REST call; `path` is host-relative. Returns the decoded body (None for 204).

        `as_user` (a username) makes the call in that user's own session (LS-13).
        """
        for attempt in range(2):
            self.governor.before_call()
            session = await self.auth.session(as_user)
            try:
                response = await self.http.request(
                    method,
                    session.instance_url + path,
                    json=json,
                    params=params,
                    headers={"Authorization": f"Bearer {session.access_token}", **(headers or {})},
                )
            except httpx.TransportError as exc:
                raise TransientError(f"{method} {path}: {exc}") from exc
            self.calls += 1
            self.governor.observe(response.headers.get("sforce-limit-info"))
            if response.status_code == 401 and attempt == 0:
                self.auth.invalidate(session)  # INVALID_SESSION_ID: mint a new session, retry
                continue
            return self._result(response)
        raise TransientError("session refused twice in a row")

    def _result(self, response: httpx.Response) -> Any:
        status = response.status_code
        if status == 204 or not response.content:
            return None
        body = response.json()
        if status < 300:
            return body
        errors = body if isinstance(body, list) else [body]
        rejected = RequestRejected(status, [e for e in errors if isinstance(e, dict)])
        if status == 403 and rejected.code == "REQUEST_LIMIT_EXCEEDED":
            self.governor.pause("REQUEST_LIMIT_EXCEEDED")
            assert self.governor.paused_until is not None
            raise QuotaExhausted(self.governor.paused_until, "REQUEST_LIMIT_EXCEEDED")
        if status >= 500 or rejected.code == "UNABLE_TO_LOCK_ROW":
            raise TransientError(str(rejected))
        raise rejected

    # --- resources ------------------------------------------------------------------------------

    async def query(
        self, soql: str, include_deleted: bool = False, as_user: str | None = None
    ) -> list[dict[str, Any]]:
        """All rows of a SOQL query, following `nextRecordsUrl` (C4)."""
        resource = "queryAll" if include_deleted else "query"
        page = await self.request(
            "GET", f"{self.base}/{resource}", params={"q": soql}, as_user=as_user
        )
        rows: list[dict[str, Any]] = list(page["records"])
        while not page.get("done", True):
            page = await self.request("GET", page["nextRecordsUrl"], as_user=as_user)
            rows.extend(page["records"])
        return rows

    async def deleted(self, object_name: str, start: dt.datetime, end: dt.datetime) -> Any:
        params = {"start": start.isoformat(), "end": end.isoformat()}
        return await self.request(
            "GET", f"{self.base}/sobjects/{object_name}/deleted/", params=params
        )
