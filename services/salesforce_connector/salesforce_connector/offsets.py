"""Capture positions per org and object, in the core `cursors` table (Postgres).

A cursor is the SystemModstamp watermark of the last published change plus the end of the last
getDeleted window. It is saved only after the broker acked everything before it, so a crash
replays (harmlessly: change event ids are deterministic) and never skips.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import asyncpg


@dataclass(frozen=True)
class ObjectCursor:
    watermark: dt.datetime | None = None
    deleted_through: dt.datetime | None = None

    def to_json(self) -> str:
        return json.dumps(
            {
                "watermark": self.watermark.isoformat() if self.watermark else None,
                "deleted_through": self.deleted_through.isoformat()
                if self.deleted_through
                else None,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> ObjectCursor:
        data = json.loads(text)
        return cls(
            watermark=dt.datetime.fromisoformat(data["watermark"])
            if data.get("watermark")
            else None,
            deleted_through=(
                dt.datetime.fromisoformat(data["deleted_through"])
                if data.get("deleted_through")
                else None
            ),
        )


class CursorStore:
    """`cursors(tenant_id, side='salesforce', scope=<org>, kind=<sObject>)`."""

    def __init__(self, pool: asyncpg.Pool[Any], tenant: str, scope: str = "org") -> None:
        self.pool = pool
        self.tenant = tenant
        self.scope = scope

    async def load(self, object_name: str) -> ObjectCursor:
        row = await self.pool.fetchrow(
            "SELECT cursor FROM cursors WHERE tenant_id = $1 AND side = 'salesforce' "
            "AND scope = $2 AND kind = $3",
            self.tenant,
            self.scope,
            object_name,
        )
        return ObjectCursor.from_json(row["cursor"]) if row else ObjectCursor()

    async def save(self, object_name: str, cursor: ObjectCursor) -> None:
        await self.pool.execute(
            "INSERT INTO cursors (tenant_id, side, scope, kind, cursor, updated_at) "
            "VALUES ($1, 'salesforce', $2, $3, $4, now()) "
            "ON CONFLICT (tenant_id, side, scope, kind) "
            "DO UPDATE SET cursor = EXCLUDED.cursor, updated_at = now()",
            self.tenant,
            self.scope,
            object_name,
            cursor.to_json(),
        )

    async def reset(self) -> None:
        await self.pool.execute(
            "DELETE FROM cursors WHERE tenant_id = $1 AND side = 'salesforce' AND scope = $2",
            self.tenant,
            self.scope,
        )
