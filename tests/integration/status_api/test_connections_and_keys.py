"""Connections keep secrets write-only and encrypted at rest (with key rotation); API keys are
shown once, stored hashed, scoped, rotatable and revocable; `syncline admin` bootstraps."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from typing import Any

import asyncpg
import httpx
import pytest
from cryptography.fernet import Fernet
from status_api import admin
from status_api.crypto import SecretBox

from tests.integration.status_api.helpers import ENCRYPTION_KEY, Tenant

GRAPH = {
    "kind": "exchange_graph",
    "directory_tenant_id": "0f6b7c1e-2f4a-4c56-9d11-1a2b3c4d5e6f",
    "client_id": "6731de76-14a6-49ae-97bc-6eba6914391e",
    "client_secret": "Zq8~very-secret-value.Xy",
}
SALESFORCE = {
    "kind": "salesforce",
    "client_id": "3MVG9A2kN3Bn17hs8MIaQx",
    "username": "sync@acme.example",
    "private_key_pem": "-----BEGIN PRIVATE KEY-----\nMIIEv...\n-----END PRIVATE KEY-----\n",
}


async def test_secrets_are_write_only_and_encrypted_at_rest(
    client: httpx.AsyncClient, db: asyncpg.Pool[Any], tenant: Tenant
) -> None:
    url = f"/v1/tenants/{tenant.id}/connections/exchange_graph"
    r = await client.put(url, json=GRAPH, headers=tenant.admin)
    assert r.status_code == 200, r.text
    assert "Zq8~very-secret-value.Xy" not in r.text
    assert r.json()["secret_fields"] == ["client_secret"]
    assert r.json()["config"]["client_id"] == GRAPH["client_id"]

    listed = await client.get(f"/v1/tenants/{tenant.id}/connections", headers=tenant.read)
    assert "Zq8~" not in listed.text
    assert [c["kind"] for c in listed.json()] == ["exchange_graph"]

    row = await db.fetchrow(
        "SELECT config, secret_ciphertext, secret_key_id FROM connections WHERE tenant_id = $1",
        tenant.id,
    )
    assert row is not None
    assert b"Zq8~" not in row["secret_ciphertext"]
    assert "Zq8~" not in str(row["config"])
    box = SecretBox([ENCRYPTION_KEY])
    assert box.open(row["secret_ciphertext"]) == {"client_secret": GRAPH["client_secret"]}
    assert row["secret_key_id"] == box.primary_key_id


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (SALESFORCE, "does not match"),
        ({k: v for k, v in GRAPH.items() if k != "client_secret"}, "exactly one"),
        (
            {**GRAPH, "certificate": {"private_key_pem": "x", "thumbprint": "AB" * 20}},
            "exactly one",
        ),
        ({**GRAPH, "authority_host": "not a url"}, "url"),
        ({**GRAPH, "unexpected": 1}, "extra"),
        (
            {"kind": "exchange_ews", "username": "svc", "password": "p", "autodiscover": False},
            "ews_url",
        ),
    ],
)
async def test_invalid_connections_get_clear_422(
    client: httpx.AsyncClient, tenant: Tenant, body: dict[str, Any], fragment: str
) -> None:
    r = await client.put(
        f"/v1/tenants/{tenant.id}/connections/exchange_graph", json=body, headers=tenant.admin
    )
    assert r.status_code == 422
    assert fragment in r.text.lower()


async def test_rotate_secrets_reencrypts_under_the_new_key(
    client: httpx.AsyncClient,
    db: asyncpg.Pool[Any],
    status_database: str,
    tenant: Tenant,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    r = await client.put(
        f"/v1/tenants/{tenant.id}/connections/salesforce", json=SALESFORCE, headers=tenant.admin
    )
    assert r.status_code == 200
    new_key = Fernet.generate_key().decode()
    rotated = await admin.rotate_secrets(status_database, SecretBox([new_key, ENCRYPTION_KEY]))
    assert rotated >= 1
    row = await db.fetchrow(
        "SELECT secret_ciphertext, secret_key_id FROM connections WHERE tenant_id = $1"
        " AND kind = 'salesforce'",
        tenant.id,
    )
    assert row is not None
    only_new = SecretBox([new_key])
    assert row["secret_key_id"] == only_new.primary_key_id
    assert (
        only_new.open(row["secret_ciphertext"])["private_key_pem"] == SALESFORCE["private_key_pem"]
    )
    # Put the session key back in front so later tests can still decrypt.
    await admin.rotate_secrets(status_database, SecretBox([ENCRYPTION_KEY, new_key]))


async def test_api_keys_shown_once_hashed_rotated_revoked(
    client: httpx.AsyncClient, db: asyncpg.Pool[Any], tenant: Tenant
) -> None:
    base = f"/v1/tenants/{tenant.id}/api-keys"
    issued = await client.post(
        base, json={"name": "grafana", "scope": "read"}, headers=tenant.admin
    )
    assert issued.status_code == 201
    token, key_id = issued.json()["token"], issued.json()["key_id"]
    stored = await db.fetchval("SELECT key_hash FROM api_keys WHERE key_id = $1", key_id)
    assert stored == hashlib.sha256(token.encode()).digest()

    listed = await client.get(base, headers=tenant.admin)
    assert token not in listed.text
    assert "token" not in listed.json()[0]
    reader = {"Authorization": f"Bearer {token}"}
    assert (await client.get(f"/v1/tenants/{tenant.id}", headers=reader)).status_code == 200
    assert (await client.get(base, headers=reader)).status_code == 403  # read scope

    rotated = await client.post(f"{base}/{key_id}/rotate", headers=tenant.admin)
    assert rotated.status_code == 201
    assert rotated.json()["scope"] == "read"
    assert (await client.get(f"/v1/tenants/{tenant.id}", headers=reader)).status_code == 401
    fresh = {"Authorization": f"Bearer {rotated.json()['token']}"}
    assert (await client.get(f"/v1/tenants/{tenant.id}", headers=fresh)).status_code == 200

    revoked = await client.delete(f"{base}/{rotated.json()['key_id']}", headers=tenant.admin)
    assert revoked.status_code == 204
    assert (await client.get(f"/v1/tenants/{tenant.id}", headers=fresh)).status_code == 401
    again = await client.delete(f"{base}/{rotated.json()['key_id']}", headers=tenant.admin)
    assert again.status_code == 404


async def test_admin_cli_bootstraps_a_tenant_and_prints_its_key_once(
    client: httpx.AsyncClient,
    status_database: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SYNCLINE_DATABASE_URL", status_database)

    tenant_id = "boot-" + secrets.token_hex(3)
    # main() runs its own event loop: call it from a worker thread.

    code = await asyncio.to_thread(
        admin.main, ["create-tenant", "--id", tenant_id, "--name", "Boot"]
    )
    assert code == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    me = await client.get(f"/v1/tenants/{tenant_id}", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["name"] == "Boot"
    keys = await client.get(
        f"/v1/tenants/{tenant_id}/api-keys", headers={"Authorization": f"Bearer {token}"}
    )
    assert [k["scope"] for k in keys.json()] == ["admin"]
    duplicate = await asyncio.to_thread(
        admin.main, ["create-tenant", "--id", tenant_id, "--name", "Again"]
    )
    assert duplicate == 1
