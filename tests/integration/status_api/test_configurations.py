"""Configurations CRUD, assignments (LS-53: moving a user, individual beats profile) and the
effective configuration with its reason; changes announce themselves on syncline.control."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx

from tests.integration.status_api.helpers import Tenant, seed_user


async def _create(client: httpx.AsyncClient, tenant: Tenant, **body: Any) -> dict[str, Any]:
    r = await client.post(
        f"/v1/tenants/{tenant.id}/configurations", json=body, headers=tenant.admin
    )
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


async def test_configuration_crud_validates_settings_with_the_reconcile_model(
    client: httpx.AsyncClient, db: asyncpg.Pool[Any], tenant: Tenant
) -> None:
    created = await _create(
        client,
        tenant,
        name="US reps",
        active=True,
        settings={"events": "exchange_to_salesforce", "sync_private_events": True},
    )
    assert created["settings"]["events"] == "exchange_to_salesforce"
    assert created["settings"]["contacts"] == "both"  # SyncSettings default
    base = f"/v1/tenants/{tenant.id}/configurations"
    duplicate = await client.post(base, json={"name": "US reps"}, headers=tenant.admin)
    assert duplicate.status_code == 409
    bad = await client.post(
        base, json={"name": "x", "settings": {"events": "sideways"}}, headers=tenant.admin
    )
    assert bad.status_code == 422
    remap = await client.post(
        base,
        json={"name": "y", "settings": {"field_remapping": {"contact": {"Email": "foo"}}}},
        headers=tenant.admin,
    )
    assert remap.status_code == 422

    url = f"{base}/{created['id']}"
    replaced = await client.put(
        url, json={"name": "US reps", "active": False}, headers=tenant.admin
    )
    assert replaced.json()["active"] is False
    assert replaced.json()["settings"]["events"] == "both"  # PUT replaces
    assert [c["id"] for c in (await client.get(base, headers=tenant.read)).json()] == [
        created["id"]
    ]
    assert (await client.delete(url, headers=tenant.admin)).status_code == 204
    assert (await client.get(url, headers=tenant.read)).status_code == 404
    changes = await db.fetch(
        "SELECT payload FROM outbox WHERE topic = 'syncline.control' AND key = $1", tenant.id
    )
    assert [c["payload"]["action"] for c in changes] == ["configuration_changed"] * 3


async def test_ls53_individual_assignment_moves_and_beats_profile(
    client: httpx.AsyncClient, db: asyncpg.Pool[Any], tenant: Tenant
) -> None:
    await seed_user(db, tenant.id, "005A", profile_id="00eSales")
    by_profile = await _create(client, tenant, name="Profile cfg", active=True)
    first = await _create(client, tenant, name="First", active=True)
    second = await _create(client, tenant, name="Second", active=True)
    base = f"/v1/tenants/{tenant.id}/configurations"
    effective = f"/v1/tenants/{tenant.id}/users/005A/effective-configuration"

    none = (await client.get(effective, headers=tenant.read)).json()
    assert none["reason"] == "not_assigned"
    assert none["configuration"] is None

    await client.put(
        f"{base}/{by_profile['id']}/assignments/profile/00eSales", headers=tenant.admin
    )
    via_profile = (await client.get(effective, headers=tenant.read)).json()
    assert via_profile["reason"] == "profile_assignment"
    assert via_profile["configuration"]["id"] == by_profile["id"]

    await client.put(f"{base}/{first['id']}/assignments/user/005A", headers=tenant.admin)
    moved = await client.put(f"{base}/{second['id']}/assignments/user/005A", headers=tenant.admin)
    assert moved.json()["moved_from"] == first["id"]
    listed = await client.get(f"{base}/{first['id']}/assignments", headers=tenant.read)
    assert listed.json() == []

    individual = (await client.get(effective, headers=tenant.read)).json()
    assert individual["reason"] == "individual_assignment"
    assert individual["configuration"]["id"] == second["id"]
    assert {(c["configuration_id"], c["via"], c["applies"]) for c in individual["candidates"]} == {
        (second["id"], "user", True),
        (by_profile["id"], "profile", False),
    }

    # An inactive individual configuration falls back to the active profile one.
    await client.put(
        f"{base}/{second['id']}", json={"name": "Second", "active": False}, headers=tenant.admin
    )
    fallback = (await client.get(effective, headers=tenant.read)).json()
    assert fallback["reason"] == "profile_assignment"
    assert "profile" in fallback["explanation"]

    gone = await client.delete(
        f"{base}/{by_profile['id']}/assignments/profile/00eSales", headers=tenant.admin
    )
    assert gone.status_code == 204
    inactive = (await client.get(effective, headers=tenant.read)).json()
    assert inactive["reason"] == "only_inactive_assigned"
