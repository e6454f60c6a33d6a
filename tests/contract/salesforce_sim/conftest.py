"""A live Salesforce simulator over HTTPS (local CA) for the contract tests, re-seeded per test."""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest
from simulators.common.server import BackgroundServer
from simulators.common.tls import load_or_create_tls
from simulators.salesforce.app import create_app

API = "/services/data/v62.0"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@dataclass
class Org:
    """A test's handle on the simulated org: a client with a session, plus the seed summary."""

    http: httpx.Client
    credentials: dict[str, Any]
    seeded: dict[str, Any]
    token: str

    def assertion(self, **overrides: Any) -> str:
        claims = {
            "iss": self.credentials["client_id"],
            "sub": self.credentials["username"],
            "aud": self.credentials["login_url"],
            "exp": int(time.time()) + 120,
            **overrides,
        }
        return jwt.encode(claims, self.credentials["private_key_pem"], algorithm="RS256")

    def login(self, **overrides: Any) -> httpx.Response:
        return self.http.post(
            "/services/oauth2/token",
            data={"grant_type": JWT_GRANT, "assertion": self.assertion(**overrides)},
        )

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.http.get(API + path, headers={**self.auth, **kw.pop("headers", {})}, **kw)

    def post(self, path: str, body: Any, **kw: Any) -> httpx.Response:
        return self.http.post(
            API + path, json=body, headers={**self.auth, **kw.pop("headers", {})}, **kw
        )

    def patch(self, path: str, body: Any, **kw: Any) -> httpx.Response:
        return self.http.patch(
            API + path, json=body, headers={**self.auth, **kw.pop("headers", {})}, **kw
        )

    def delete(self, path: str, **kw: Any) -> httpx.Response:
        return self.http.delete(API + path, headers={**self.auth, **kw.pop("headers", {})}, **kw)

    def reseed(self, **request: Any) -> dict[str, Any]:
        """Re-seed (which ends all sessions, as the users are new) and log in again."""
        self.seeded = self.http.post("/_sim/seed", json=request).json()
        self.token = self.login().json()["access_token"]
        return self.seeded

    def query(self, soql: str, **kw: Any) -> httpx.Response:
        return self.get("/query", params={"q": soql}, **kw)


@pytest.fixture(scope="session")
def sf_server() -> Iterator[BackgroundServer]:
    tls = load_or_create_tls()
    with BackgroundServer(create_app(ca_pem=tls.ca_pem), tls=tls) as server:
        yield server


@pytest.fixture
def org(sf_server: BackgroundServer) -> Iterator[Org]:
    assert sf_server.tls is not None
    ctx = ssl.create_default_context(cafile=str(sf_server.tls.ca_file))
    with httpx.Client(base_url=sf_server.base_url, verify=ctx) as http:
        http.post(
            "/_sim/settings",
            json={
                "session_timeout_s": 7200,
                "page_size": 2000,
                "delete_log_retention_days": 15,
                "clock_offset_s": 0,
            },
        )
        http.post("/_sim/quota", json={"allocation": 100000, "used": 0})
        seeded = http.post("/_sim/seed", json={"seed": 7, "reps": 2}).json()
        credentials = http.get("/_sim/credentials").json()
        handle = Org(http, credentials, seeded, "")
        response = handle.login()
        assert response.status_code == 200, response.text
        handle.token = response.json()["access_token"]
        yield handle
