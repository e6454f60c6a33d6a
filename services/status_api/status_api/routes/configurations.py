"""Configurations (LS-50..52), their assignments to users and profiles (LS-53), and the
effective configuration of one user with the reason it applies."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Path, Response
from reconcile.settings import effective_configuration
from syncmodel.messages import ControlAction

from status_api.control import send_control
from status_api.deps import AdminAccess, Pool, ReadAccess, TenantId, UserId
from status_api.errors import Conflict, NotFound
from status_api.policy import load_policy
from status_api.schemas import (
    ID_PATTERN,
    AssignmentOut,
    Candidate,
    ConfigurationIn,
    ConfigurationOut,
    EffectiveConfiguration,
    PrincipalType,
    explain_reason,
)

router = APIRouter(tags=["configurations"])
ConfigurationId = Annotated[str, Path(pattern=ID_PATTERN)]
PrincipalId = Annotated[str, Path(pattern=ID_PATTERN)]

_SELECT = """
SELECT c.configuration_id AS id, c.name, c.description, c.active, c.settings, c.created_at,
       c.updated_at,
       count(a.*) FILTER (WHERE a.principal_type = 'user') AS assigned_users,
       count(a.*) FILTER (WHERE a.principal_type = 'profile') AS assigned_profiles
FROM configurations c
LEFT JOIN assignments a USING (tenant_id, configuration_id)
WHERE c.tenant_id = $1 AND ($2::text IS NULL OR c.configuration_id = $2)
GROUP BY c.tenant_id, c.configuration_id
ORDER BY c.name
"""


async def _fetch(conn: Any, tenant_id: str, configuration_id: str) -> ConfigurationOut:
    row = await conn.fetchrow(_SELECT, tenant_id, configuration_id)
    if row is None:
        raise NotFound("configuration not found")
    return ConfigurationOut(**dict(row))


@router.get("/tenants/{tenant_id}/configurations")
async def list_configurations(
    tenant_id: TenantId, _: ReadAccess, pool: Pool
) -> list[ConfigurationOut]:
    return [ConfigurationOut(**dict(r)) for r in await pool.fetch(_SELECT, tenant_id, None)]


@router.post("/tenants/{tenant_id}/configurations", status_code=201)
async def create_configuration(
    tenant_id: TenantId, body: ConfigurationIn, _: AdminAccess, pool: Pool
) -> ConfigurationOut:
    configuration_id = "cfg_" + secrets.token_hex(6)
    async with pool.acquire() as conn, conn.transaction():
        try:
            await conn.execute(
                "INSERT INTO configurations (tenant_id, configuration_id, name, description,"
                " active, settings) VALUES ($1, $2, $3, $4, $5, $6)",
                tenant_id,
                configuration_id,
                body.name,
                body.description,
                body.active,
                body.settings.model_dump(mode="json"),
            )
        except asyncpg.UniqueViolationError as exc:
            raise Conflict(f"a configuration named {body.name!r} exists") from exc
        await send_control(conn, tenant_id, ControlAction.CONFIGURATION_CHANGED)
        return await _fetch(conn, tenant_id, configuration_id)


@router.get("/tenants/{tenant_id}/configurations/{configuration_id}")
async def get_configuration(
    tenant_id: TenantId, configuration_id: ConfigurationId, _: ReadAccess, pool: Pool
) -> ConfigurationOut:
    return await _fetch(pool, tenant_id, configuration_id)


@router.put("/tenants/{tenant_id}/configurations/{configuration_id}")
async def replace_configuration(
    tenant_id: TenantId,
    configuration_id: ConfigurationId,
    body: ConfigurationIn,
    _: AdminAccess,
    pool: Pool,
) -> ConfigurationOut:
    async with pool.acquire() as conn, conn.transaction():
        try:
            status = await conn.execute(
                "UPDATE configurations SET name = $3, description = $4, active = $5,"
                " settings = $6, updated_at = now()"
                " WHERE tenant_id = $1 AND configuration_id = $2",
                tenant_id,
                configuration_id,
                body.name,
                body.description,
                body.active,
                body.settings.model_dump(mode="json"),
            )
        except asyncpg.UniqueViolationError as exc:
            raise Conflict(f"a configuration named {body.name!r} exists") from exc
        if status.endswith(" 0"):
            raise NotFound("configuration not found")
        await send_control(conn, tenant_id, ControlAction.CONFIGURATION_CHANGED)
        return await _fetch(conn, tenant_id, configuration_id)


@router.delete("/tenants/{tenant_id}/configurations/{configuration_id}", status_code=204)
async def delete_configuration(
    tenant_id: TenantId, configuration_id: ConfigurationId, _: AdminAccess, pool: Pool
) -> Response:
    async with pool.acquire() as conn, conn.transaction():
        status = await conn.execute(
            "DELETE FROM configurations WHERE tenant_id = $1 AND configuration_id = $2",
            tenant_id,
            configuration_id,
        )
        if status.endswith(" 0"):
            raise NotFound("configuration not found")
        await send_control(conn, tenant_id, ControlAction.CONFIGURATION_CHANGED)
    return Response(status_code=204)


@router.get("/tenants/{tenant_id}/configurations/{configuration_id}/assignments")
async def list_assignments(
    tenant_id: TenantId, configuration_id: ConfigurationId, _: ReadAccess, pool: Pool
) -> list[AssignmentOut]:
    await _fetch(pool, tenant_id, configuration_id)
    rows = await pool.fetch(
        "SELECT principal_type, principal_id, configuration_id, assigned_at FROM assignments"
        " WHERE tenant_id = $1 AND configuration_id = $2 ORDER BY principal_type, principal_id",
        tenant_id,
        configuration_id,
    )
    return [AssignmentOut(**dict(r)) for r in rows]


@router.put(
    "/tenants/{tenant_id}/configurations/{configuration_id}/assignments/{principal_type}/{principal_id}"
)
async def assign(
    tenant_id: TenantId,
    configuration_id: ConfigurationId,
    principal_type: PrincipalType,
    principal_id: PrincipalId,
    _: AdminAccess,
    pool: Pool,
) -> AssignmentOut:
    """Assign a user or profile; one already assigned elsewhere is moved here (LS-53a)."""
    async with pool.acquire() as conn, conn.transaction():
        await _fetch(conn, tenant_id, configuration_id)
        previous = await conn.fetchval(
            "SELECT configuration_id FROM assignments WHERE tenant_id = $1"
            " AND principal_type = $2 AND principal_id = $3 FOR UPDATE",
            tenant_id,
            principal_type.value,
            principal_id,
        )
        row = await conn.fetchrow(
            "INSERT INTO assignments (tenant_id, principal_type, principal_id, configuration_id)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, principal_type, principal_id)"
            " DO UPDATE SET configuration_id = EXCLUDED.configuration_id, assigned_at = now()"
            " RETURNING principal_type, principal_id, configuration_id, assigned_at",
            tenant_id,
            principal_type.value,
            principal_id,
            configuration_id,
        )
        if previous != configuration_id:
            await send_control(conn, tenant_id, ControlAction.CONFIGURATION_CHANGED)
    moved = previous if previous not in (None, configuration_id) else None
    assert row is not None
    return AssignmentOut(**dict(row), moved_from=moved)


@router.delete(
    "/tenants/{tenant_id}/configurations/{configuration_id}/assignments/{principal_type}/{principal_id}",
    status_code=204,
)
async def unassign(
    tenant_id: TenantId,
    configuration_id: ConfigurationId,
    principal_type: PrincipalType,
    principal_id: PrincipalId,
    _: AdminAccess,
    pool: Pool,
) -> Response:
    async with pool.acquire() as conn, conn.transaction():
        status = await conn.execute(
            "DELETE FROM assignments WHERE tenant_id = $1 AND configuration_id = $2"
            " AND principal_type = $3 AND principal_id = $4",
            tenant_id,
            configuration_id,
            principal_type.value,
            principal_id,
        )
        if status.endswith(" 0"):
            raise NotFound("assignment not found")
        await send_control(conn, tenant_id, ControlAction.CONFIGURATION_CHANGED)
    return Response(status_code=204)


@router.get("/tenants/{tenant_id}/users/{user_id}/effective-configuration")
async def get_effective_configuration(
    tenant_id: TenantId, user_id: UserId, _: ReadAccess, pool: Pool
) -> EffectiveConfiguration:
    async with pool.acquire() as conn:
        profile_id = await conn.fetchval(
            "SELECT profile_id FROM sync_users WHERE tenant_id = $1 AND user_id = $2",
            tenant_id,
            user_id,
        )
        configurations, assignments = await load_policy(conn, tenant_id)
        chosen, reason = effective_configuration(user_id, profile_id, configurations, assignments)
        candidates = [
            Candidate(
                configuration_id=a.configuration_id,
                name=configurations[a.configuration_id].name,
                active=configurations[a.configuration_id].active,
                via=PrincipalType.USER if a.user_id else PrincipalType.PROFILE,
                applies=chosen is not None and chosen.id == a.configuration_id,
            )
            for a in assignments
            if (a.user_id == user_id or (profile_id is not None and a.profile_id == profile_id))
            and a.configuration_id in configurations
        ]
        out = await _fetch(conn, tenant_id, chosen.id) if chosen else None
    return EffectiveConfiguration(
        user_id=user_id,
        profile_id=profile_id,
        configuration=out,
        reason=reason,
        explanation=explain_reason(reason),
        candidates=candidates,
    )
