"""Tenants and their API keys: list (never showing a key again), create, rotate, revoke."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from status_api import queries
from status_api.deps import AdminAccess, Pool, ReadAccess, TenantId
from status_api.errors import NotFound
from status_api.schemas import (
    ID_PATTERN,
    ApiKeyCreate,
    ApiKeyIssued,
    ApiKeyOut,
    TenantOut,
    TenantUpdate,
)
from status_api.security import Scope, store_api_key

router = APIRouter(tags=["tenants"])
KeyId = Annotated[str, Path(pattern=ID_PATTERN)]


@router.get("/tenants/{tenant_id}")
async def get_tenant(tenant_id: TenantId, _: ReadAccess, pool: Pool) -> TenantOut:
    row = await pool.fetchrow("SELECT id, name, created_at FROM tenants WHERE id = $1", tenant_id)
    if row is None:
        raise NotFound("tenant not found")
    return TenantOut(**dict(row))


@router.patch("/tenants/{tenant_id}")
async def update_tenant(
    tenant_id: TenantId, body: TenantUpdate, _: AdminAccess, pool: Pool
) -> TenantOut:
    row = await pool.fetchrow(
        "UPDATE tenants SET name = $2 WHERE id = $1 RETURNING id, name, created_at",
        tenant_id,
        body.name,
    )
    if row is None:
        raise NotFound("tenant not found")
    return TenantOut(**dict(row))


@router.get("/tenants/{tenant_id}/api-keys")
async def list_api_keys(tenant_id: TenantId, _: AdminAccess, pool: Pool) -> list[ApiKeyOut]:
    rows = await pool.fetch(queries.API_KEYS, tenant_id)
    return [ApiKeyOut(**dict(r)) for r in rows]


@router.post("/tenants/{tenant_id}/api-keys", status_code=201)
async def create_api_key(
    tenant_id: TenantId, body: ApiKeyCreate, _: AdminAccess, pool: Pool
) -> ApiKeyIssued:
    async with pool.acquire() as conn:
        key, row = await store_api_key(conn, tenant_id, body.name, body.scope)
    return ApiKeyIssued(**dict(row), token=key.token)


@router.post("/tenants/{tenant_id}/api-keys/{key_id}/rotate", status_code=201)
async def rotate_api_key(
    tenant_id: TenantId, key_id: KeyId, _: AdminAccess, pool: Pool
) -> ApiKeyIssued:
    """Issue a new key with the same name and scope and revoke the old one, atomically."""
    async with pool.acquire() as conn, conn.transaction():
        old = await conn.fetchrow(
            "UPDATE api_keys SET revoked_at = now() WHERE tenant_id = $1 AND key_id = $2"
            " AND revoked_at IS NULL RETURNING name, scope",
            tenant_id,
            key_id,
        )
        if old is None:
            raise NotFound("api key not found or already revoked")
        key, row = await store_api_key(conn, tenant_id, old["name"], Scope(old["scope"]))
    return ApiKeyIssued(**dict(row), token=key.token)


@router.delete("/tenants/{tenant_id}/api-keys/{key_id}", status_code=204)
async def revoke_api_key(
    tenant_id: TenantId, key_id: KeyId, _: AdminAccess, pool: Pool
) -> Response:
    status = await pool.execute(
        "UPDATE api_keys SET revoked_at = now() WHERE tenant_id = $1 AND key_id = $2"
        " AND revoked_at IS NULL",
        tenant_id,
        key_id,
    )
    if status.endswith(" 0"):
        raise NotFound("api key not found or already revoked")
    return Response(status_code=204)
