"""Hostile input gets a clear 4xx, never a 500: size limits, NULs, bad ids, bad JSON."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.integration.status_api.helpers import Tenant


async def test_request_body_size_limit(client: httpx.AsyncClient, tenant: Tenant) -> None:
    huge = {"name": "x" * 100, "description": "y" * 400_000}
    r = await client.post(
        f"/v1/tenants/{tenant.id}/configurations", json=huge, headers=tenant.admin
    )
    assert r.status_code == 413
    assert r.json()["code"] == "body_too_large"


async def test_chunked_body_without_length_is_limited(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(100):
            yield b"x" * 10_000

    r = await client.post(
        f"/v1/tenants/{tenant.id}/configurations",
        content=chunks(),
        headers=tenant.admin | {"Content-Type": "application/json"},
    )
    assert r.status_code == 413


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/configurations", {"name": "bad\u0000name"}),
        ("POST", "/configurations", {"name": "ok", "settings": {"selection_category": "a\u0000"}}),
        ("POST", "/configurations", b'{"name": "\\ud800"}'),
        ("POST", "/configurations", b'{"name": "\\u0000"}'),
        ("POST", "/configurations", b"\xff\xfe"),
        ("POST", "/configurations", {"name": ""}),
        ("POST", "/configurations", [1, 2]),
        ("PATCH", "", {"name": 5}),
        ("GET", "/users/bad id/resets", None),
        ("GET", "/users/..%2f..%2fetc/resets", None),
        ("GET", "/errors?limit=0", None),
        ("GET", "/errors?before_id=99999999999999999999999", None),
        ("GET", "/users?q=%00", None),
        ("GET", "/errors?since=yesterday", None),
        ("PUT", "/connections/ldap", {"kind": "ldap"}),
        ("POST", "/api-keys", {"name": "k", "scope": "root"}),
    ],
)
async def test_bad_input_is_a_4xx(
    client: httpx.AsyncClient, tenant: Tenant, method: str, path: str, body: object
) -> None:
    url = f"/v1/tenants/{tenant.id}{path}"
    if isinstance(body, bytes):
        headers = tenant.admin | {"Content-Type": "application/json"}
        r = await client.request(method, url, content=body, headers=headers)
    else:
        r = await client.request(method, url, json=body, headers=tenant.admin)
    assert 400 <= r.status_code < 500, r.text
    assert "code" in r.json()


async def test_malformed_json(client: httpx.AsyncClient, tenant: Tenant) -> None:
    r = await client.post(
        f"/v1/tenants/{tenant.id}/configurations",
        content=b'{"name": ',
        headers=tenant.admin | {"Content-Type": "application/json"},
    )
    assert r.status_code == 422


async def test_metrics_are_exposed_for_prometheus_without_auth() -> None:
    """ServiceMonitor scrapes /metrics: request counts per route template, never per id."""
    from fastapi.testclient import TestClient
    from status_api.main import create_app
    from status_api.settings import StatusApiSettings

    with TestClient(create_app(StatusApiSettings())) as client:
        client.get("/v1/tenants/acme/users")  # unauthenticated: 401, still counted
        body = client.get("/metrics").text
    assert "syncline_status_api_requests_total" in body
    assert 'route="/tenants/{tenant_id}/users"' in body
