"""Helpers shared by the status API tests: settings, tenants, and realistic seed rows."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

import asyncpg
from cryptography.fernet import Fernet
from status_api.admin import create_key, create_tenant
from status_api.security import Scope
from status_api.settings import StatusApiSettings

ENCRYPTION_KEY = Fernet.generate_key().decode()


def api_settings(**overrides: Any) -> StatusApiSettings:
    return StatusApiSettings(encryption_keys=ENCRYPTION_KEY, **overrides)


@dataclass(frozen=True)
class Tenant:
    id: str
    admin_key: str
    read_key: str

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_key}"}

    @property
    def read(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.read_key}"}


async def new_tenant(url: str, prefix: str) -> Tenant:
    tenant_id = f"{prefix}-{secrets.token_hex(3)}"
    admin_key = await create_tenant(url, tenant_id, f"{prefix} Inc.")
    read_key = await create_key(url, tenant_id, "dashboard", Scope.READ)
    return Tenant(tenant_id, admin_key, read_key)


NOW = dt.datetime.now(dt.UTC)


async def seed_user(
    pool: asyncpg.Pool[Any],
    tenant_id: str,
    user_id: str,
    *,
    email: str | None = None,
    profile_id: str | None = "00eSales",
    link_state: str = "linked",
    link_reason: str | None = None,
    is_active: bool = True,
) -> None:
    email = email or f"{user_id.lower()}@example.com"
    await pool.execute(
        "INSERT INTO sync_users (tenant_id, user_id, username, email, name, profile_id,"
        " is_active, mailbox, link_state, link_reason) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
        tenant_id,
        user_id,
        email,
        email,
        f"Rep {user_id}",
        profile_id,
        is_active,
        email if link_state == "linked" else None,
        link_state,
        link_reason,
    )


async def seed_status(
    pool: asyncpg.Pool[Any],
    tenant_id: str,
    user_id: str,
    side: str,
    obj: str,
    state: str,
    *,
    last_capture: dict[str, str] | None = None,
    counters: dict[str, Any] | None = None,
    detail: str | None = None,
    next_attempt_at: dt.datetime | None = None,
) -> None:
    await pool.execute(
        "INSERT INTO statuses (tenant_id, user_id, side, object, state, detail, next_attempt_at,"
        " last_capture, counters) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)",
        tenant_id,
        user_id,
        side,
        obj,
        state,
        detail,
        next_attempt_at,
        last_capture or {},
        counters or {},
    )


async def seed_error(
    pool: asyncpg.Pool[Any],
    tenant_id: str,
    user_id: str,
    *,
    kind: str = "contact",
    direction: str = "exchange_to_salesforce",
    code: str = "REQUIRED_FIELD_MISSING",
    reason: str = "Required fields are missing: [LastName]",
    last_seen: dt.datetime | None = None,
    link_id: str | None = None,
    exchange_id: str | None = None,
    salesforce_id: str | None = None,
) -> int:
    record_key = exchange_id or salesforce_id or secrets.token_hex(4)
    seen = last_seen or NOW
    value: int = await pool.fetchval(
        "INSERT INTO sync_errors (tenant_id, user_id, kind, direction, record_key, link_id,"
        " exchange_id, salesforce_id, code, reason, attempts, first_seen, last_seen)"
        " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,3,$11,$11) RETURNING id",
        tenant_id,
        user_id,
        kind,
        direction,
        record_key,
        link_id,
        exchange_id,
        salesforce_id,
        code,
        reason,
        seen,
    )
    return value


async def seed_link(
    pool: asyncpg.Pool[Any],
    tenant_id: str,
    user_id: str,
    *,
    kind: str = "event",
    exchange_id: str = "AAMkAGI2TG93AAA=",
    salesforce_id: str = "00U5g00000XyZ1AAA",
    reason: str = "private_not_synced",
) -> str:
    link_id = "lnk_" + secrets.token_hex(8)
    state = {
        "link_id": link_id,
        "state": "linked",
        "exchange": {
            "record_id": exchange_id,
            "version": "CQAAABYAAAA",
            "content": {"subject": "QBR with Contoso", "sensitivity": "private"},
        },
        "salesforce": {"record_id": salesforce_id, "version": "2026-11-24T10:00:00.000+0000"},
    }
    await pool.execute(
        "INSERT INTO links (link_id, tenant_id, user_id, kind, exchange_id, salesforce_id, state,"
        " last_reason) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
        link_id,
        tenant_id,
        user_id,
        kind,
        exchange_id,
        salesforce_id,
        state,
        reason,
    )
    return link_id
