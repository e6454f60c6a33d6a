"""Optional OIDC bearer tokens (e.g. Entra ID): signature against the issuer's JWKS, `iss`,
`aud`, `exp`; tenant from a claim; scope from app roles. API keys keep working alongside."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from status_api.main import create_app
from syncruntime.settings import PostgresSettings

from tests.integration.status_api.helpers import Tenant, api_settings

ISSUER = "https://login.example.test/7c1d/v2.0"
AUDIENCE = "api://syncline-status"
SIGNING_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ROGUE_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def jwks_url() -> Iterator[str]:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(SIGNING_KEY.public_key()))
    body = json.dumps({"keys": [jwk | {"kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()

    class Keys(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Keys)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/keys"
    server.shutdown()


@pytest.fixture(scope="module")
async def oidc_client(jwks_url: str, status_database: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = api_settings(oidc_issuer=ISSUER, oidc_audience=AUDIENCE, oidc_jwks_url=jwks_url)
    app = create_app(settings, PostgresSettings(SYNCLINE_DATABASE_URL=status_database))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://status-api") as c:
            yield c


def bearer(key: Any = SIGNING_KEY, **claims: Any) -> dict[str, str]:
    payload = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "admin@corp.example",
        "exp": int(time.time()) + 600,
        "roles": ["Syncline.Read"],
    } | claims
    token = jwt.encode(payload, key, algorithm="RS256", headers={"kid": "k1"})
    return {"Authorization": f"Bearer {token}"}


async def test_oidc_tokens_map_to_tenant_and_scope(
    oidc_client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    me = f"/v1/tenants/{tenant.id}"
    reader = bearer(syncline_tenant=tenant.id)
    assert (await oidc_client.get(me, headers=reader)).status_code == 200
    assert (await oidc_client.get(f"{me}/api-keys", headers=reader)).status_code == 403
    admin = bearer(syncline_tenant=tenant.id, roles=["Syncline.Admin"])
    assert (await oidc_client.get(f"{me}/api-keys", headers=admin)).status_code == 200
    elsewhere = await oidc_client.get(f"/v1/tenants/{other_tenant.id}", headers=admin)
    assert elsewhere.status_code == 404
    assert (await oidc_client.get(me, headers=tenant.read)).status_code == 200  # keys still work


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "api://someone-else"},
        {"iss": "https://evil.example/v2.0"},
        {"exp": int(time.time()) - 60},
        {"roles": []},
        {"syncline_tenant": None},
        {"key": ROGUE_KEY},
    ],
    ids=["audience", "issuer", "expired", "no-role", "no-tenant", "wrong-signature"],
)
async def test_invalid_tokens_are_401(
    oidc_client: httpx.AsyncClient, tenant: Tenant, claims: dict[str, Any]
) -> None:
    claims = {"syncline_tenant": tenant.id} | claims
    key = claims.pop("key", SIGNING_KEY)
    r = await oidc_client.get(f"/v1/tenants/{tenant.id}", headers=bearer(key, **claims))
    assert r.status_code == 401
