"""A Graph simulator served over real HTTPS on a free loopback port, and clients for it."""

from __future__ import annotations

import ssl
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msal
import pytest
import requests
from simulators.common.server import BackgroundServer
from simulators.common.tls import ServerTLS, load_or_create_tls
from simulators.graph.app import create_app


@pytest.fixture(scope="session")
def graph_tls(tmp_path_factory: pytest.TempPathFactory) -> ServerTLS:
    return load_or_create_tls(Path(tmp_path_factory.mktemp("graph-ca")))


@pytest.fixture(scope="session")
def graph_server(graph_tls: ServerTLS) -> Iterator[BackgroundServer]:
    with BackgroundServer(create_app(graph_tls), graph_tls) as server:
        yield server


@pytest.fixture(scope="session")
def sim(graph_server: BackgroundServer, graph_tls: ServerTLS) -> Iterator[httpx.Client]:
    """A client for the simulator's own `/_sim` control API."""
    with httpx.Client(base_url=graph_server.base_url, verify=ca_context(graph_tls)) as client:
        yield client


@pytest.fixture(scope="session")
def credentials(sim: httpx.Client) -> dict[str, Any]:
    body: dict[str, Any] = sim.get("/_sim/credentials").json()
    return body


def ca_context(tls: ServerTLS) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(tls.ca_file))


def msal_session(ca_file: Path) -> requests.Session:
    # The environment's REQUESTS_CA_BUNDLE would override Session.verify; use our CA only.
    session = requests.Session()
    session.trust_env = False
    session.verify = str(ca_file)
    return session


def msal_app(
    credentials: dict[str, Any], ca_file: Path, **kwargs: Any
) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(
        credentials["client_id"],
        client_credential=kwargs.pop("client_credential", credentials["client_secret"]),
        authority=credentials["authority"],
        http_client=msal_session(ca_file),
        instance_discovery=kwargs.pop("instance_discovery", False),
        **kwargs,
    )


@pytest.fixture
def token(credentials: dict[str, Any], graph_tls: ServerTLS) -> str:
    result = msal_app(credentials, graph_tls.ca_file).acquire_token_for_client(
        scopes=[credentials["scope"]]
    )
    return str(result["access_token"])


@pytest.fixture
def graph(
    credentials: dict[str, Any], graph_tls: ServerTLS, token: str, sim: httpx.Client
) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {token}", "Prefer": 'IdType="ImmutableId"'}
    with httpx.Client(
        base_url=credentials["graph_base_url"], headers=headers, verify=ca_context(graph_tls)
    ) as client:
        yield client
    # Leave the shared simulator as we found it.
    sim.post(
        "/_sim/config",
        json={
            "concurrency_limit": 4,
            "budget_per_window": 10_000,
            "request_latency_ms": 0,
            "token_lifetime_s": [3600, 5400],
        },
    )
    sim.delete("/_sim/faults")


@pytest.fixture
def mailbox(sim: httpx.Client) -> dict[str, Any]:
    """A fresh rep mailbox with an empty Salesforce_Sync folder."""
    upn = f"rep-{uuid.uuid4().hex[:8]}@contoso-sim.example"
    body = sim.post("/_sim/users", json={"upn": upn, "time_zone": "Eastern Standard Time"}).json()
    return {"upn": upn, "folder": body["syncFolderId"], "id": body["id"]}
