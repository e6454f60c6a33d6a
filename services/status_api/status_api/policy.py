"""Loading a tenant's configurations and assignments into the reconcile core's models."""

from __future__ import annotations

from typing import Any

from reconcile.settings import Assignment, Configuration, SyncSettings


async def load_policy(
    conn: Any, tenant_id: str
) -> tuple[dict[str, Configuration], list[Assignment]]:
    configurations = {
        row["configuration_id"]: Configuration(
            id=row["configuration_id"],
            name=row["name"],
            active=row["active"],
            settings=SyncSettings.model_validate(row["settings"]),
        )
        for row in await conn.fetch(
            "SELECT configuration_id, name, active, settings FROM configurations"
            " WHERE tenant_id = $1",
            tenant_id,
        )
    }
    assignments = [
        Assignment(
            configuration_id=row["configuration_id"],
            user_id=row["principal_id"] if row["principal_type"] == "user" else None,
            profile_id=row["principal_id"] if row["principal_type"] == "profile" else None,
        )
        for row in await conn.fetch(
            "SELECT principal_type, principal_id, configuration_id FROM assignments"
            " WHERE tenant_id = $1",
            tenant_id,
        )
    ]
    return configurations, assignments
