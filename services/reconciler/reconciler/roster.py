"""The roster, imperative side: captured Salesforce users + configurations -> `syncline.roster`.

The pure part (effective configuration, duplicate e-mails, ST-31) is `reconcile.build_roster`;
this module loads its inputs, stores each user's link state and effective settings, and queues a
roster message for every user whose entry changed (outbox, same transaction).
"""

from __future__ import annotations

import datetime as dt
import logging

from pydantic import BaseModel
from reconcile import Assignment, Configuration, RosterReason, SyncSettings, build_roster
from syncmodel import SalesforceUser, bus_key
from syncmodel.topics import ROSTER
from syncruntime.postgres import Conn
from syncruntime.postgres.outbox import append_many

# ST-n statuses shown for a user's link to a mailbox.
log = logging.getLogger(__name__)

_LINK_STATE = {
    RosterReason.SYNCING: "linked",
    RosterReason.USER_INACTIVE: "not_linked",
    RosterReason.DUPLICATE_EMAIL: "not_linked",
    RosterReason.NO_CONFIGURATION: "not_linked",
}


async def upsert_user(conn: Conn, tenant: str, user_id: str, user: SalesforceUser | None) -> None:
    if user is None:  # a deleted user stops syncing but keeps its history
        await conn.execute(
            "UPDATE sync_users SET is_active = false, updated_at = now()"
            " WHERE tenant_id = $1 AND user_id = $2",
            tenant,
            user_id,
        )
        return
    status = await conn.execute(
        """
        INSERT INTO sync_users (tenant_id, user_id, username, email, name, profile_id, time_zone,
                                is_active)
        SELECT $1, $2, $3, $4, $5, $6, $7, $8 WHERE EXISTS (SELECT 1 FROM tenants WHERE id = $1)
        ON CONFLICT (tenant_id, user_id) DO UPDATE SET
            username = EXCLUDED.username, email = EXCLUDED.email, name = EXCLUDED.name,
            profile_id = EXCLUDED.profile_id, time_zone = EXCLUDED.time_zone,
            is_active = EXCLUDED.is_active, updated_at = now()
        """,
        tenant,
        user_id,
        user.username,
        user.email,
        user.name,
        user.profile_id,
        user.time_zone,
        user.is_active,
    )
    if status == "INSERT 0 0":
        log.warning("user captured for an unknown tenant; ignored", extra={"tenant": tenant})


async def _configurations(conn: Conn, tenant: str) -> tuple[list[Configuration], list[Assignment]]:
    config_rows = await conn.fetch(
        "SELECT configuration_id, name, active, settings FROM configurations WHERE tenant_id = $1",
        tenant,
    )
    configurations = [
        Configuration(
            id=row["configuration_id"],
            name=row["name"],
            active=row["active"],
            settings=SyncSettings.model_validate(row["settings"] or {}),
        )
        for row in config_rows
    ]
    assignment_rows = await conn.fetch(
        "SELECT principal_type, principal_id, configuration_id FROM assignments"
        " WHERE tenant_id = $1",
        tenant,
    )
    assignments = [
        Assignment(
            configuration_id=row["configuration_id"],
            user_id=row["principal_id"] if row["principal_type"] == "user" else None,
            profile_id=row["principal_id"] if row["principal_type"] == "profile" else None,
        )
        for row in assignment_rows
    ]
    return configurations, assignments


_UPDATE_ROSTER = """
    UPDATE sync_users u
       SET roster = v.roster::jsonb, settings = v.settings::jsonb,
           configuration_id = v.configuration_id, mailbox = v.mailbox,
           link_state = v.link_state, link_reason = v.link_reason, updated_at = now(),
           -- LS-31: when this user started syncing (kept while they keep syncing)
           syncing_since = CASE WHEN v.settings IS NULL THEN NULL
                                ELSE COALESCE(u.syncing_since, $2) END
      FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                  $9::text[])
           AS v(user_id, roster, settings, configuration_id, mailbox, link_state, link_reason)
     WHERE u.tenant_id = $1 AND u.user_id = v.user_id
"""


async def refresh_roster(conn: Conn, tenant: str, now: dt.datetime) -> int:
    """Recompute every user's roster entry of a tenant; returns how many entries changed."""
    configurations, assignments = await _configurations(conn, tenant)
    by_id = {c.id: c for c in configurations}
    rows = await conn.fetch(
        "SELECT user_id, username, email, name, profile_id, time_zone, is_active, roster"
        " FROM sync_users WHERE tenant_id = $1 ORDER BY user_id",
        tenant,
    )
    users = [
        (
            row["user_id"],
            SalesforceUser(
                username=row["username"] or row["email"] or row["user_id"],
                email=row["email"] or "",
                name=row["name"],
                profile_id=row["profile_id"],
                time_zone=row["time_zone"],
                is_active=row["is_active"],
            ),
        )
        for row in rows
    ]
    previous = {row["user_id"]: row["roster"] for row in rows}
    changed: list[tuple[str, str, str | None, str | None, str | None, str, str]] = []
    messages: list[tuple[str, str, str, BaseModel, dt.datetime | None]] = []
    for decision in build_roster(tenant, users, configurations, assignments, now):
        entry = decision.entry
        comparable = entry.model_dump(mode="json", by_alias=True, exclude={"ts"})
        old = previous.get(entry.user)
        if old is not None and {k: v for k, v in old.items() if k != "ts"} == comparable:
            continue
        configuration = by_id.get(decision.configuration_id or "")
        settings = configuration.settings if configuration and entry.active else None
        changed.append(
            (
                entry.user,
                entry.model_dump_json(by_alias=True),
                settings.model_dump_json() if settings else None,
                decision.configuration_id,
                entry.mailbox,
                _LINK_STATE[decision.reason],
                decision.reason.value,
            )
        )
        message_id = f"roster/{tenant}/{entry.user}/{now.isoformat()}"
        messages.append((message_id, ROSTER, bus_key(tenant, entry.user), entry, None))
    if changed:
        # One statement for every changed entry (a tenant's first sync changes all of them).
        await conn.execute(
            _UPDATE_ROSTER, tenant, now, *([row[i] for row in changed] for i in range(7))
        )
        await append_many(conn, messages)
    return len(changed)


async def load_settings(conn: Conn, tenant: str, users: set[str]) -> dict[str, SyncSettings]:
    rows = await conn.fetch(
        "SELECT user_id, settings FROM sync_users WHERE tenant_id = $1 AND user_id = ANY($2)"
        " AND settings IS NOT NULL",
        tenant,
        sorted(users),
    )
    return {row["user_id"]: SyncSettings.model_validate(row["settings"]) for row in rows}
