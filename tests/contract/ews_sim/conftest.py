"""The EWS simulator over real HTTPS on a free loopback port, and a raw SOAP client for it.

The contract tests speak raw SOAP (no Syncline code) so they check the simulator against the EWS
reference, not against our own client's assumptions.
"""

from __future__ import annotations

import ssl
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from lxml import etree
from simulators.common.server import BackgroundServer
from simulators.common.tls import ServerTLS, load_or_create_tls
from simulators.ews.app import create_app

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
M = "http://schemas.microsoft.com/exchange/services/2006/messages"
T = "http://schemas.microsoft.com/exchange/services/2006/types"
E = "http://schemas.microsoft.com/exchange/services/2006/errors"
NS = {"s": SOAP, "m": M, "t": T, "e": E}


def envelope(body: str, mailbox: str | None = None, version: str = "Exchange2016") -> bytes:
    impersonation = (
        "<t:ExchangeImpersonation><t:ConnectingSID>"
        f"<t:PrimarySmtpAddress>{mailbox}</t:PrimarySmtpAddress>"
        "</t:ConnectingSID></t:ExchangeImpersonation>"
        if mailbox
        else ""
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<s:Envelope xmlns:s="{SOAP}" xmlns:m="{M}" xmlns:t="{T}">'
        f'<s:Header><t:RequestServerVersion Version="{version}"/>{impersonation}</s:Header>'
        f"<s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


@dataclass
class Ews:
    http: httpx.Client
    credentials: dict[str, Any]

    @property
    def auth(self) -> tuple[str, str]:
        return self.credentials["username"], self.credentials["password"]

    def post(self, body: str, mailbox: str | None = None, **kw: Any) -> tuple[int, Any]:
        response = self.http.post(
            "/EWS/Exchange.asmx",
            content=envelope(body, mailbox, **kw),
            auth=self.auth,
            headers={"Content-Type": "text/xml; charset=utf-8"},
        )
        return response.status_code, etree.fromstring(response.content)

    def ok(self, body: str, mailbox: str | None = None) -> Any:
        status, doc = self.post(body, mailbox)
        assert status == 200, etree.tostring(doc)
        return doc

    def new_mailbox(self, impersonable: bool = True, sync_folder: bool = True) -> dict[str, Any]:
        smtp = f"rep-{uuid.uuid4().hex[:8]}@contoso-sim.example"
        response = self.http.post(
            "/_sim/mailboxes",
            json={"smtp": smtp, "impersonable": impersonable, "sync_folder": sync_folder},
        )
        assert response.status_code == 201
        return dict(response.json())

    def state(self, smtp: str) -> dict[str, Any]:
        return dict(self.http.get("/_sim/state", params={"mailbox": smtp}).json()["mailboxes"][0])


def xp(doc: Any, path: str) -> list[Any]:
    return list(doc.xpath(path, namespaces=NS))


def code(doc: Any) -> str:
    """The ResponseCode of the first ResponseMessage, or of a SOAP fault's detail."""
    found = xp(doc, "//m:ResponseCode/text() | //e:ResponseCode/text()")
    return str(found[0]) if found else ""


@pytest.fixture(scope="session")
def ews_tls(tmp_path_factory: pytest.TempPathFactory) -> ServerTLS:
    return load_or_create_tls(Path(tmp_path_factory.mktemp("ews-ca")))


@pytest.fixture(scope="session")
def ews_server(ews_tls: ServerTLS) -> Iterator[BackgroundServer]:
    with BackgroundServer(create_app(ews_tls), ews_tls) as server:
        yield server


@pytest.fixture(scope="session")
def ews(ews_server: BackgroundServer, ews_tls: ServerTLS) -> Iterator[Ews]:
    verify = ssl.create_default_context(cafile=str(ews_tls.ca_file))
    with httpx.Client(base_url=ews_server.base_url, verify=verify) as client:
        yield Ews(client, client.get("/_sim/credentials").json())
