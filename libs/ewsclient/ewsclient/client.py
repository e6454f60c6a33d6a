"""The EWS HTTP client: one httpx pool, Basic or NTLM auth (ntlm.py), a custom CA bundle,
per-mailbox `ExchangeImpersonation` + `X-AnchorMailbox` (B4), and back-off on `ErrorServerBusy`
for the `BackOffMilliseconds` the server asks for (B5)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from lxml import etree

from ewsclient import soap
from ewsclient.autodiscover import discover_ews_url
from ewsclient.errors import ExchangeError, Throttled, Unavailable, classify_code, classify_status
from ewsclient.ntlm import NtlmAuth
from ewsclient.soap import Element

log = logging.getLogger(__name__)


class EwsClient:
    def __init__(
        self,
        username: str,
        password: str,
        *,
        ews_url: str | None = None,
        autodiscover_url: str | None = None,
        ca_bundle: Path | None = None,
        auth: str = "basic",
        ntlm_lanes: int = 8,
        max_retries: int = 4,
        max_back_off_s: float = 60.0,
        timeout_s: float = 60.0,
    ) -> None:
        verify: ssl.SSLContext | bool = True
        if ca_bundle is not None:
            verify = ssl.create_default_context(cafile=str(ca_bundle))
        verify_ctx = verify if isinstance(verify, ssl.SSLContext) else ssl.create_default_context()
        # TLS 1.2+ only (LS-61).
        verify_ctx.minimum_version = ssl.TLSVersion.TLSv1_2

        def pool(connections: int) -> httpx.AsyncClient:
            return httpx.AsyncClient(
                auth=NtlmAuth(username, password)
                if auth == "ntlm"
                else httpx.BasicAuth(username, password),
                verify=verify_ctx,
                timeout=timeout_s,
                headers={"Content-Type": "text/xml; charset=utf-8", "Accept": "text/xml"},
                limits=httpx.Limits(max_connections=connections),
            )

        # Basic: one pool, at most EWSMaxConcurrency (27 since 2013, B5) connections.
        # NTLM authenticates a connection, so each request's handshake must stay on one: NTLM
        # uses `ntlm_lanes` single-connection clients, one request per lane at a time.
        self._lanes: asyncio.Queue[httpx.AsyncClient] | None = None
        if auth == "ntlm":
            lanes = [pool(1) for _ in range(ntlm_lanes)]
            self._lanes = asyncio.Queue()
            for lane in lanes:
                self._lanes.put_nowait(lane)
            self._all = lanes
            self.http = lanes[0]
        else:
            self.http = pool(27)
            self._all = [self.http]
        self.ews_url = ews_url
        self.autodiscover_url = autodiscover_url
        self.max_retries = max_retries
        self.max_back_off_s = max_back_off_s
        self.urls: dict[str, str] = {}
        self.calls: Counter[str] = Counter()
        self.throttled: Counter[str] = Counter()

    async def aclose(self) -> None:
        for http in self._all:
            await http.aclose()

    @contextlib.asynccontextmanager
    async def lane(self) -> AsyncIterator[httpx.AsyncClient]:
        """The HTTP client one request may use now (a free NTLM lane, or the shared pool)."""
        if self._lanes is None:
            yield self.http
            return
        http = await self._lanes.get()
        try:
            yield http
        finally:
            self._lanes.put_nowait(http)

    async def url_for(self, mailbox: str) -> str:
        """The EWS URL serving this mailbox: configured, or found by Autodiscover (cached)."""
        if self.ews_url:
            return self.ews_url
        key = mailbox.lower()
        if key not in self.urls:
            async with self.lane() as http:
                self.urls[key] = await discover_ews_url(http, mailbox, self.autodiscover_url)
        return self.urls[key]

    async def call(
        self, operation: Element, mailbox: str | None, *, url: str | None = None
    ) -> list[Element]:
        """Send one operation (impersonating `mailbox`); return its ResponseMessages.

        Request-level failures raise; per-item errors stay in the returned messages (check
        them with `raise_for_message`). Throttling and transient failures are retried here.
        """
        name = etree.QName(operation).localname
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._send(operation, mailbox, name, url)
            except (Throttled, Unavailable) as exc:
                if attempt > self.max_retries:
                    raise
                wait = exc.retry_after if exc.retry_after is not None else 0.2 * 2**attempt
                if isinstance(exc, Throttled):
                    self.throttled[name] += 1
                log.info(
                    "EWS %s busy (%s); retrying in %.2fs",
                    name,
                    exc.code,
                    wait,
                    extra={"mailbox": mailbox},
                )
                await asyncio.sleep(min(wait, self.max_back_off_s))

    async def _send(
        self, operation: Element, mailbox: str | None, name: str, url: str | None
    ) -> list[Element]:
        if url is None:
            url = await self.url_for(mailbox) if mailbox else self.ews_url
        if url is None:
            raise ExchangeError("NoEwsUrl", "no EWS URL configured and no mailbox to discover")
        headers = {"X-AnchorMailbox": mailbox} if mailbox else {}
        self.calls[name] += 1
        try:
            async with self.lane() as http:
                response = await http.post(
                    url, content=soap.envelope(operation, mailbox), headers=headers
                )
        except httpx.TransportError as exc:
            raise Unavailable("ConnectionFailed", type(exc).__name__) from exc
        if response.status_code == 401:
            raise classify_status(401, "")
        try:
            document = soap.parse(response.content)
        except etree.XMLSyntaxError:
            raise classify_status(response.status_code, response.text) from None
        fault = soap.fault_fields(document)
        if fault is not None:
            raise classify_code(*fault)
        if response.status_code >= 400:
            raise classify_status(response.status_code, response.text)
        return soap.response_messages(document)


def raise_for_message(message: Element) -> None:
    """Raise the classified error of a ResponseClass="Error" message (B5)."""
    if message.get("ResponseClass") == "Error":
        raise classify_code(
            soap.message_code(message), message.findtext(soap.m("MessageText")) or ""
        )
