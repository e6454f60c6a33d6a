"""FastAPI dependencies: the pool, the secret box, and the authenticated tenant principal.

Every `/v1/tenants/{tenant_id}/…` route takes `ReadAccess` or `AdminAccess`: a principal of
another tenant gets 404 (it must not even learn that the tenant exists), a read key on an admin
route gets 403.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import asyncpg
from fastapi import Depends, HTTPException, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from status_api.crypto import SecretBox
from status_api.schemas import ID_PATTERN
from status_api.security import (
    OidcVerifier,
    Principal,
    Scope,
    looks_like_jwt,
    principal_from_api_key,
)
from status_api.settings import StatusApiSettings

_bearer = HTTPBearer(
    auto_error=False,
    description="A Syncline API key (`slk_…`) or, when configured, an OIDC access token.",
)


if TYPE_CHECKING:
    PgPool = asyncpg.Pool[Any]
else:  # asyncpg.Pool is not subscriptable at runtime, and FastAPI evaluates annotations
    PgPool = asyncpg.Pool


def get_pool(request: Request) -> PgPool:
    pool: PgPool = request.app.state.pool
    return pool


def get_secret_box(request: Request) -> SecretBox:
    box: SecretBox = request.app.state.secret_box
    return box


def get_settings(request: Request) -> StatusApiSettings:
    settings: StatusApiSettings = request.app.state.settings
    return settings


Pool = Annotated[PgPool, Depends(get_pool)]
Box = Annotated[SecretBox, Depends(get_secret_box)]
Settings = Annotated[StatusApiSettings, Depends(get_settings)]
TenantId = Annotated[str, Path(pattern=ID_PATTERN, description="Syncline tenant id.")]
UserId = Annotated[str, Path(pattern=ID_PATTERN, description="Salesforce user id.")]

_UNAUTHORIZED = HTTPException(
    status_code=401,
    detail="missing or invalid credentials",
    headers={"WWW-Authenticate": "Bearer"},
)


async def authenticate(
    request: Request,
    pool: Pool,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or not credentials.credentials:
        raise _UNAUTHORIZED
    token = credentials.credentials
    verifier: OidcVerifier | None = request.app.state.oidc
    if verifier is not None and looks_like_jwt(token):
        principal = await verifier.principal(token)
    else:
        principal = await principal_from_api_key(pool, token)
    if principal is None:
        raise _UNAUTHORIZED
    request.state.principal = principal  # for the admin-action log in main.py
    return principal


Authenticated = Annotated[Principal, Depends(authenticate)]


def require_read(tenant_id: TenantId, principal: Authenticated) -> Principal:
    if principal.tenant_id != tenant_id:
        raise HTTPException(status_code=404, detail="tenant not found")
    return principal


def require_admin(tenant_id: TenantId, principal: Authenticated) -> Principal:
    principal = require_read(tenant_id, principal)
    if principal.scope is not Scope.ADMIN:
        raise HTTPException(status_code=403, detail="this operation needs an admin key")
    return principal


ReadAccess = Annotated[Principal, Depends(require_read)]
AdminAccess = Annotated[Principal, Depends(require_admin)]
