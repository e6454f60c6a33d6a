"""Entra ID's endpoints for the client-credentials grant, enough for unmodified MSAL (A1).

- `GET /common/discovery/instance` (instance discovery; MSAL calls it for unknown hosts unless
  `instance_discovery=False`), `GET /{tenant}/v2.0/.well-known/openid-configuration`,
- `POST /{tenant}/oauth2/v2.0/token` with `client_secret` or a certificate `client_assertion`
  (RS256/PS256 JWT, aud = token endpoint, iss = sub = client id).

Access tokens are opaque random strings held in memory with an expiry drawn from the configured
range (Entra gives 60-90 minutes at random, so clients must read `expires_in`).
"""

from __future__ import annotations

import random
import secrets
import time
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

import jwt
from cryptography import x509
from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse

from simulators.graph.store import GraphStore


@dataclass(frozen=True)
class AccessToken:
    client_id: str
    tenant_id: str
    expires_at: float


class TokenBook:
    """Issued access tokens. Revocation (`/_sim/revoke-tokens`) empties the book."""

    def __init__(self) -> None:
        self.tokens: dict[str, AccessToken] = {}

    def issue(self, client_id: str, tenant_id: str, lifetime_s: int) -> str:
        token = "eyJ0eXAiOiJKV1QiLCJzaW0iOnRydWV9." + secrets.token_urlsafe(32)
        self.tokens[token] = AccessToken(client_id, tenant_id, time.time() + lifetime_s)
        return token

    def check(self, authorization: str | None) -> AccessToken | None:
        if not authorization or not authorization.lower().startswith("bearer "):
            return None
        found = self.tokens.get(authorization[7:].strip())
        if found is None or found.expires_at <= time.time():
            return None
        return found

    def revoke_all(self) -> int:
        count = len(self.tokens)
        self.tokens.clear()
        return count


def _oauth_error(status: int, error: str, code: int, description: str) -> JSONResponse:
    body = {
        "error": error,
        "error_description": f"AADSTS{code}: {description}",
        "error_codes": [code],
        "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
        "trace_id": secrets.token_hex(16),
        "correlation_id": secrets.token_hex(16),
    }
    return JSONResponse(body, status_code=status)


def _verify_assertion(
    assertion: str, certificate_pem: bytes, audience: str, client_id: str
) -> bool:
    public_key = x509.load_pem_x509_certificate(certificate_pem).public_key()
    try:
        claims = jwt.decode(
            assertion,
            public_key,  # type: ignore[arg-type]
            algorithms=["RS256", "PS256"],
            audience=audience,
            issuer=client_id,
            options={"require": ["exp", "aud", "iss", "sub"]},
        )
    except jwt.PyJWTError:
        return False
    return bool(claims.get("sub") == client_id)


def build_router(store: GraphStore, book: TokenBook) -> APIRouter:
    router = APIRouter(tags=["identity"])

    def authority(request: Request, tenant: str) -> str:
        return f"{str(request.base_url).rstrip('/')}/{tenant}"

    @router.get("/common/discovery/instance")
    async def instance_discovery(request: Request, authorization_endpoint: str = "") -> Any:
        base = str(request.base_url).rstrip("/")
        # MSAL sends the authority's host without its port, so only the path is reliable.
        tenant = urlsplit(authorization_endpoint).path.strip("/").split("/")[0] or "common"
        return {
            "tenant_discovery_endpoint": f"{base}/{tenant}/v2.0/.well-known/openid-configuration",
            "api-version": "1.1",
            "metadata": [
                {"preferred_network": request.url.netloc, "aliases": [request.url.netloc]}
            ],
        }

    @router.get("/{tenant}/v2.0/.well-known/openid-configuration")
    async def openid_configuration(request: Request, tenant: str) -> Any:
        if tenant not in (store.tenant_id, store.domain, "organizations", "common"):
            return _oauth_error(400, "invalid_tenant", 90002, f"Tenant '{tenant}' not found.")
        auth = authority(request, tenant)
        return {
            "token_endpoint": f"{auth}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": [
                "client_secret_post",
                "private_key_jwt",
                "client_secret_basic",
            ],
            "jwks_uri": f"{auth}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{str(request.base_url).rstrip('/')}/{store.tenant_id}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": f"{str(request.base_url).rstrip('/')}/oidc/userinfo",
            "authorization_endpoint": f"{auth}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{auth}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{auth}/oauth2/v2.0/logout",
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "tid"],
            "tenant_region_scope": "EU",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": request.url.netloc,
        }

    @router.post("/{tenant}/oauth2/v2.0/token")
    async def token(
        request: Request,
        tenant: str,
        grant_type: Annotated[str, Form()],
        client_id: Annotated[str, Form()],
        scope: Annotated[str, Form()] = "",
        client_secret: Annotated[str | None, Form()] = None,
        client_assertion_type: Annotated[str | None, Form()] = None,
        client_assertion: Annotated[str | None, Form()] = None,
    ) -> Any:
        if tenant not in (store.tenant_id, store.domain):
            return _oauth_error(400, "invalid_request", 90002, f"Tenant '{tenant}' not found.")
        if grant_type != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type", 70003, "Unsupported grant type.")
        app = store.apps.get(client_id)
        if app is None:
            return _oauth_error(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory.",
            )
        if not scope.endswith("/.default"):
            return _oauth_error(400, "invalid_scope", 1002012, "The provided scope is invalid.")
        if client_assertion is not None:
            audience = f"{authority(request, tenant)}/oauth2/v2.0/token"
            ok = (
                client_assertion_type == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
                and app.certificate_pem is not None
                and _verify_assertion(client_assertion, app.certificate_pem, audience, client_id)
            )
            if not ok:
                return _oauth_error(
                    401, "invalid_client", 700027, "Client assertion failed signature validation."
                )
        elif client_secret is None or not secrets.compare_digest(client_secret, app.secret or ""):
            return _oauth_error(401, "invalid_client", 7000215, "Invalid client secret provided.")
        low, high = store.settings.token_lifetime_s
        lifetime = random.randint(low, high)
        access = book.issue(client_id, store.tenant_id, lifetime)
        return {
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": access,
        }

    return router
