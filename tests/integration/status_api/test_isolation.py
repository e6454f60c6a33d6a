"""Auth and tenant isolation on EVERY route of the app, enumerated from the app itself.

For each tenant-scoped route, with real ids of tenant B's resources: no credentials -> 401;
tenant A's admin key -> 404 (A must not learn that B or its resources exist); B's read key ->
403 on admin routes; B's own admin key -> 2xx (so the 404 above is isolation, not absence).
A new route without a sample here fails `test_every_route_has_a_sample`.
"""

from __future__ import annotations

import secrets
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi.routing import APIRoute
from status_api.deps import require_admin
from status_api.main import API_PREFIX, ROUTERS, create_app
from status_api.security import Scope, store_api_key

from tests.integration.status_api.helpers import Tenant, api_settings, seed_link, seed_user

_APP = create_app(api_settings())


def _needs_admin(route: APIRoute) -> bool:
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        if dep.call is require_admin:
            return True
        stack.extend(dep.dependencies)
    return False


ROUTES = sorted(
    (method, API_PREFIX + route.path, _needs_admin(route))
    for router in ROUTERS
    for route in router.routes
    if isinstance(route, APIRoute)
    for method in route.methods or ()
)
TENANT_ROUTES = [r for r in ROUTES if "{tenant_id}" in r[1]]

BODIES: dict[tuple[str, str], Any] = {
    ("PATCH", "/v1/tenants/{tenant_id}"): {"name": "Renamed Inc."},
    ("POST", "/v1/tenants/{tenant_id}/api-keys"): {"name": "ci", "scope": "read"},
    ("PUT", "/v1/tenants/{tenant_id}/connections/{kind}"): {
        "kind": "exchange_ews",
        "username": "svc-sync@corp.example",
        "password": "Summer2026!",
        "ews_url": "https://mail.corp.example/EWS/Exchange.asmx",
    },
    ("POST", "/v1/tenants/{tenant_id}/configurations"): {"name": "EMEA reps"},
    ("PUT", "/v1/tenants/{tenant_id}/configurations/{configuration_id}"): {
        "name": "Sales EMEA",
        "active": True,
        "settings": {"contacts": "salesforce_to_exchange"},
    },
    ("POST", "/v1/tenants/{tenant_id}/users/{user_id}/resets"): {"object": "contact"},
    ("POST", "/v1/tenants/{tenant_id}/connection-tests"): {"systems": ["salesforce"]},
    ("POST", "/v1/tenants/{tenant_id}/api-keys/{key_id}/rotate"): None,
    (
        "PUT",
        "/v1/tenants/{tenant_id}/configurations/{configuration_id}/assignments/{principal_type}/{principal_id}",
    ): None,
}


def test_every_route_has_a_sample() -> None:
    with_body = {(m, p) for m, p, _ in TENANT_ROUTES if m in ("POST", "PUT", "PATCH")}
    assert with_body == set(BODIES)
    untenanted = {p for _, p, _ in ROUTES if "{tenant_id}" not in p}
    assert untenanted == {"/v1/catalog/{name}"}
    # Nothing is served that this enumeration misses (the schema lists every operation).
    published = {
        (method.upper(), path)
        for path, operations in _APP.openapi()["paths"].items()
        for method in operations
    }
    assert published == {(m, p) for m, p, _ in ROUTES} | {("GET", "/healthz"), ("GET", "/readyz")}


async def _seed_owner(
    db: asyncpg.Pool[Any], owner: Tenant, client: httpx.AsyncClient
) -> dict[str, str]:
    await seed_user(db, owner.id, "005Owner0001")
    link_exchange_id = "AAMkOwner" + secrets.token_hex(4)
    await seed_link(db, owner.id, "005Owner0001", exchange_id=link_exchange_id)
    r = await client.post(
        f"/v1/tenants/{owner.id}/configurations", json={"name": "Owner cfg"}, headers=owner.admin
    )
    configuration_id = r.json()["id"]
    r = await client.put(
        f"/v1/tenants/{owner.id}/configurations/{configuration_id}/assignments/user/005Owner0001",
        headers=owner.admin,
    )
    assert r.status_code == 200
    r = await client.post(
        f"/v1/tenants/{owner.id}/users/005Owner0001/resets",
        json={"object": "event"},
        headers=owner.admin,
    )
    request_id = r.json()["request_id"]
    async with db.acquire() as conn:
        spare, _ = await store_api_key(conn, owner.id, "spare", Scope.READ)
    await client.put(
        f"/v1/tenants/{owner.id}/connections/exchange_ews",
        json=BODIES[("PUT", "/v1/tenants/{tenant_id}/connections/{kind}")],
        headers=owner.admin,
    )
    return {
        "tenant_id": owner.id,
        "user_id": "005Owner0001",
        "configuration_id": configuration_id,
        "principal_type": "user",
        "principal_id": "005Owner0001",
        "key_id": spare.key_id,
        "kind": "exchange_ews",
        "side": "exchange",
        "record_id": link_exchange_id,
        "request_id": request_id,
    }


@pytest.mark.parametrize(("method", "path", "admin_only"), TENANT_ROUTES)
async def test_route_is_authenticated_and_tenant_isolated(
    client: httpx.AsyncClient,
    db: asyncpg.Pool[Any],
    tenant: Tenant,
    other_tenant: Tenant,
    method: str,
    path: str,
    admin_only: bool,
) -> None:
    owner, intruder = other_tenant, tenant
    url = path.format(**await _seed_owner(db, owner, client))
    body = BODIES.get((method, path))

    async def call(headers: dict[str, str]) -> httpx.Response:
        return await client.request(method, url, json=body, headers=headers)

    anonymous = await call({})
    assert anonymous.status_code == 401, anonymous.text
    assert anonymous.headers["www-authenticate"] == "Bearer"
    bogus = await call({"Authorization": "Bearer slk_" + secrets.token_urlsafe(32)})
    assert bogus.status_code == 401

    for key in (intruder.admin, intruder.read):
        foreign = await call(key)
        assert foreign.status_code == 404, foreign.text
        assert foreign.json() == {"detail": "tenant not found", "code": "not_found"}

    as_reader = await call(owner.read)
    if admin_only:
        assert as_reader.status_code == 403, as_reader.text
    else:
        assert as_reader.status_code in (200, 201, 202), as_reader.text

    as_owner = await call(owner.admin)
    assert as_owner.status_code in (200, 201, 202, 204), as_owner.text


async def test_catalog_needs_any_valid_key(client: httpx.AsyncClient, tenant: Tenant) -> None:
    assert (await client.get("/v1/catalog/statuses")).status_code == 401
    r = await client.get("/v1/catalog/statuses", headers=tenant.read)
    assert r.status_code == 200
    values = {e["value"] for e in r.json()}
    assert {"ST-1", "ST-15", "ST-31", "ST-41"} <= values


async def test_health_needs_no_credentials(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).json() == {"status": "ready"}
