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


@dataclass(frozen=True)
class Baseline:
    """What a user's last snapshot of one object covered (`roster.signature`), or a pending
    re-snapshot asked for by a control message (`signature` None, `cause` 'reset')."""

    signature: str | None = None
    cause: str | None = None


class BaselineStore:
    """Per-user snapshot state in `cursors(scope='user:<id>', kind=<sObject>)`."""

    def __init__(self, pool: asyncpg.Pool[Any], tenant: str) -> None:
        self.pool = pool
        self.tenant = tenant

    async def load_all(self) -> dict[tuple[str, str], Baseline]:
        rows = await self.pool.fetch(
            "SELECT scope, kind, cursor FROM cursors WHERE tenant_id = $1 AND side = 'salesforce'"
            " AND scope LIKE 'user:%'",
            self.tenant,
        )
        out: dict[tuple[str, str], Baseline] = {}
        for row in rows:
            out[(row["scope"].removeprefix("user:"), row["kind"])] = _decode(row["cursor"])
        return out

    async def save(self, user: str, object_name: str, baseline: Baseline) -> None:
        """Unconditional write (a control message's reset request wins over everything)."""
        await self.pool.execute(
            "INSERT INTO cursors (tenant_id, side, scope, kind, cursor, updated_at) "
            "VALUES ($1, 'salesforce', $2, $3, $4, now()) "
            "ON CONFLICT (tenant_id, side, scope, kind) "
            "DO UPDATE SET cursor = EXCLUDED.cursor, updated_at = now()",
            self.tenant,
            f"user:{user}",
            object_name,
            _encode(baseline),
        )

    async def replace(
        self, user: str, object_name: str, new: Baseline, expected: Baseline | None
    ) -> bool:
        """Compare-and-set: write `new` (an empty Baseline deletes) only if the stored value is
        still `expected`, so a reset that arrived during a snapshot is not overwritten."""
        scope = f"user:{user}"
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "SELECT cursor FROM cursors WHERE tenant_id = $1 AND side = 'salesforce'"
                " AND scope = $2 AND kind = $3 FOR UPDATE",
                self.tenant,
                scope,
                object_name,
            )
            current = _decode(row["cursor"]) if row else None
            if current != expected:
                return False
            if new == Baseline():
                await conn.execute(
                    "DELETE FROM cursors WHERE tenant_id = $1 AND side = 'salesforce'"
                    " AND scope = $2 AND kind = $3",
                    self.tenant,
                    scope,
                    object_name,
                )
                return True
            if row is None:
                status = await conn.execute(
                    "INSERT INTO cursors (tenant_id, side, scope, kind, cursor) "
                    "VALUES ($1, 'salesforce', $2, $3, $4) ON CONFLICT DO NOTHING",
                    self.tenant,
                    scope,
                    object_name,
                    _encode(new),
                )
                return bool(status.endswith(" 1"))
            await conn.execute(
                "UPDATE cursors SET cursor = $4, updated_at = now() WHERE tenant_id = $1"
                " AND side = 'salesforce' AND scope = $2 AND kind = $3",
                self.tenant,
                scope,
                object_name,
                _encode(new),
            )
            return True


def _encode(baseline: Baseline) -> str:
    return json.dumps({"signature": baseline.signature, "cause": baseline.cause})


def _decode(text: str) -> Baseline:
    data = json.loads(text)
    return Baseline(data.get("signature"), data.get("cause"))
