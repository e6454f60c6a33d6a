"""Connections (spec §4): how Syncline reaches Exchange and Salesforce. Secrets are write-only.

A PUT replaces the connection, secrets included; secrets are sealed with the primary encryption
key before they touch the database and are never part of a response or a log line.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, SecretStr

from status_api import queries
from status_api.crypto import SecretBox
from status_api.deps import AdminAccess, Box, Pool, ReadAccess, TenantId
from status_api.errors import Invalid, NotFound
from status_api.schemas import ConnectionIn, ConnectionKind, ConnectionOut

router = APIRouter(tags=["connections"])


def split_secrets(body: BaseModel) -> tuple[dict[str, Any], dict[str, str]]:
    """Non-secret settings (stored as jsonb) and secrets (to be sealed), flattened one level."""
    config: dict[str, Any] = {}
    secret: dict[str, str] = {}
    for name, value in body:
        if name == "kind":
            continue
        if isinstance(value, SecretStr):
            secret[name] = value.get_secret_value()
        elif isinstance(value, BaseModel):
            inner_config, inner_secret = split_secrets(value)
            config |= {f"{name}_{k}": v for k, v in inner_config.items()}
            secret |= {f"{name}_{k}": v for k, v in inner_secret.items()}
        elif value is None or isinstance(value, bool | int | str):
            config[name] = value
        else:
            config[name] = str(value)
    return config, secret


def connection_out(row: Any) -> ConnectionOut:
    config = dict(row["config"])
    secret_fields = config.pop("secret_fields", [])
    return ConnectionOut(
        kind=ConnectionKind(row["kind"]),
        config=config,
        secret_fields=sorted(secret_fields),
        secret_key_id=row["secret_key_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


@router.get("/tenants/{tenant_id}/connections")
async def list_connections(tenant_id: TenantId, _: ReadAccess, pool: Pool) -> list[ConnectionOut]:
    rows = await pool.fetch(queries.CONNECTIONS, tenant_id)
    return [connection_out(r) for r in rows]


@router.get("/tenants/{tenant_id}/connections/{kind}")
async def get_connection(
    tenant_id: TenantId, kind: ConnectionKind, _: ReadAccess, pool: Pool
) -> ConnectionOut:
    row = await pool.fetchrow(queries.CONNECTION, tenant_id, kind.value)
    if row is None:
        raise NotFound(f"no {kind.value} connection")
    return connection_out(row)


@router.put("/tenants/{tenant_id}/connections/{kind}")
async def put_connection(
    tenant_id: TenantId,
    kind: ConnectionKind,
    body: ConnectionIn,
    _: AdminAccess,
    pool: Pool,
    box: Box,
) -> ConnectionOut:
    if body.kind != kind.value:
        raise Invalid(f"body kind {body.kind!r} does not match the path ({kind.value!r})")
    config, secret = split_secrets(body)
    # The names (never the values) of the stored secrets, so a GET can say what is set.
    config["secret_fields"] = sorted(secret)
    ciphertext, key_id = box.seal(secret)
    row = await pool.fetchrow(
        queries.UPSERT_CONNECTION, tenant_id, kind.value, config, ciphertext, key_id
    )
    return connection_out(row)


@router.delete("/tenants/{tenant_id}/connections/{kind}", status_code=204)
async def delete_connection(
    tenant_id: TenantId, kind: ConnectionKind, _: AdminAccess, pool: Pool
) -> Response:
    status = await pool.execute(
        "DELETE FROM connections WHERE tenant_id = $1 AND kind = $2", tenant_id, kind.value
    )
    if status.endswith(" 0"):
        raise NotFound(f"no {kind.value} connection")
    return Response(status_code=204)


async def load_connection(
    pool: Any, box: SecretBox, tenant_id: str, kind: ConnectionKind
) -> tuple[dict[str, Any], dict[str, str]] | None:
    """The connection's settings and decrypted secrets, for the connection test only."""
    row = await pool.fetchrow(
        "SELECT config, secret_ciphertext FROM connections WHERE tenant_id = $1 AND kind = $2",
        tenant_id,
        kind.value,
    )
    if row is None:
        return None
    secret = box.open(row["secret_ciphertext"]) if row["secret_ciphertext"] else {}
    config: dict[str, Any] = dict(row["config"])
    config.pop("secret_fields", None)
    return config, secret
