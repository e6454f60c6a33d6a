"""Who is calling: per-tenant API keys (stored hashed, scoped, revocable) and OIDC bearer tokens.

An API key is 256 bits from `secrets`, shown once; only its SHA-256 is stored (a slow hash adds
nothing for a key of that entropy). OIDC tokens are verified with PyJWT against the configured
issuer's JWKS; the tenant comes from a claim, the scope from app roles.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import asyncpg
import jwt

from status_api.settings import StatusApiSettings

KEY_PREFIX = "slk_"


class Scope(StrEnum):
    """`read` sees everything of its tenant; `admin` may also change it."""

    READ = "read"
    ADMIN = "admin"


@dataclass(frozen=True)
class Principal:
    tenant_id: str
    scope: Scope
    subject: str
    method: str  # "api_key" | "oidc"


@dataclass(frozen=True)
class NewApiKey:
    key_id: str
    token: str
    key_hash: bytes


def hash_key(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def new_api_key() -> NewApiKey:
    key_id = "key_" + secrets.token_hex(8)
    token = KEY_PREFIX + secrets.token_urlsafe(32)
    return NewApiKey(key_id=key_id, token=token, key_hash=hash_key(token))


async def store_api_key(
    conn: asyncpg.Connection[Any] | asyncpg.pool.PoolConnectionProxy[Any],
    tenant_id: str,
    name: str,
    scope: Scope,
) -> tuple[NewApiKey, asyncpg.Record]:
    key = new_api_key()
    row = await conn.fetchrow(
        "INSERT INTO api_keys (key_id, tenant_id, name, scope, key_hash) VALUES ($1,$2,$3,$4,$5)"
        " RETURNING key_id, name, scope, created_at, last_used_at, revoked_at",
        key.key_id,
        tenant_id,
        name,
        scope.value,
        key.key_hash,
    )
    assert row is not None
    return key, row


async def principal_from_api_key(pool: asyncpg.Pool[Any], token: str) -> Principal | None:
    if not token.startswith(KEY_PREFIX) or len(token) > 128:
        return None
    # `last_used_at` is refreshed at most once a minute: no write per request under load.
    row = await pool.fetchrow(
        """
        WITH key AS (
            SELECT key_id, tenant_id, scope, last_used_at FROM api_keys
            WHERE key_hash = $1 AND revoked_at IS NULL
        ), touched AS (
            UPDATE api_keys SET last_used_at = now()
            WHERE key_id = (SELECT key_id FROM key)
              AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
        )
        SELECT key_id, tenant_id, scope FROM key
        """,
        hash_key(token),
    )
    if row is None:
        return None
    return Principal(row["tenant_id"], Scope(row["scope"]), row["key_id"], "api_key")


class OidcVerifier:
    """Validates bearer JWTs: signature (issuer JWKS), `iss`, `aud`, `exp`; maps roles to scope."""

    def __init__(self, settings: StatusApiSettings) -> None:
        assert settings.oidc_issuer is not None
        self.issuer = settings.oidc_issuer
        self.audience = settings.oidc_audience
        jwks_url = settings.oidc_jwks_url or self.issuer.rstrip("/") + "/discovery/v2.0/keys"
        self.jwks = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=3600)
        self.tenant_claim = settings.oidc_tenant_claim
        self.admin_role = settings.oidc_admin_role
        self.read_role = settings.oidc_read_role

    def _verify(self, token: str) -> dict[str, Any]:
        key = self.jwks.get_signing_key_from_jwt(token)
        claims: dict[str, Any] = jwt.decode(
            token,
            key=key.key,
            algorithms=["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"],
            issuer=self.issuer,
            audience=self.audience,
            options={"require": ["exp", "iss", "sub"], "verify_aud": self.audience is not None},
        )
        return claims

    async def principal(self, token: str) -> Principal | None:
        try:
            claims = await asyncio.to_thread(self._verify, token)
        except jwt.PyJWTError:
            return None
        tenant = claims.get(self.tenant_claim)
        roles = set(claims.get("roles") or []) | set(str(claims.get("scp") or "").split())
        if not isinstance(tenant, str) or not tenant:
            return None
        if self.admin_role in roles:
            scope = Scope.ADMIN
        elif self.read_role in roles:
            scope = Scope.READ
        else:
            return None
        return Principal(tenant, scope, str(claims["sub"]), "oidc")


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and not token.startswith(KEY_PREFIX)
