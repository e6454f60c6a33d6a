"""Capture cursors (Graph deltaLinks) in the core `cursors` table, one per mailbox and kind,
and the log of attempted creates (`exchange_create_attempts`, migration 0300).

A cursor is saved only after every change event of its round was acked by the broker
(ARCHITECTURE.md, "Delivery guarantees"); a crash in between replays the round, which is harmless
because change-event ids are deterministic.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import asyncpg
from syncmodel.kinds import Kind, Side


@dataclass(frozen=True)
class Cursor:
    delta_link: str
    window_start: str | None = None
    window_end: str | None = None

    def dump(self) -> str:
        return json.dumps(self.__dict__)

    @classmethod
    def load(cls, raw: str) -> Cursor:
        data = json.loads(raw)
        return cls(**data)


class CursorStore:
    def __init__(self, pool: asyncpg.Pool[Any]) -> None:
        self.pool = pool

    async def get(self, tenant: str, user: str, kind: Kind) -> Cursor | None:
        raw = await self.pool.fetchval(
            "SELECT cursor FROM cursors WHERE tenant_id=$1 AND side=$2 AND scope=$3 AND kind=$4",
            tenant,
            Side.EXCHANGE.value,
            user,
            kind.value,
        )
        return Cursor.load(raw) if raw else None

    async def put(self, tenant: str, user: str, kind: Kind, cursor: Cursor) -> None:
        await self.pool.execute(
            """
            INSERT INTO cursors (tenant_id, side, scope, kind, cursor, updated_at)
            VALUES ($1, $2, $3, $4, $5, now())
            ON CONFLICT (tenant_id, side, scope, kind)
            DO UPDATE SET cursor = EXCLUDED.cursor, updated_at = now()
            """,
            tenant,
            Side.EXCHANGE.value,
            user,
            kind.value,
            cursor.dump(),
        )

    async def delete(self, tenant: str, user: str, kind: Kind | None = None) -> None:
        if kind is None:
            await self.pool.execute(
                "DELETE FROM cursors WHERE tenant_id=$1 AND side=$2 AND scope=$3",
                tenant,
                Side.EXCHANGE.value,
                user,
            )
            return
        await self.pool.execute(
            "DELETE FROM cursors WHERE tenant_id=$1 AND side=$2 AND scope=$3 AND kind=$4",
            tenant,
            Side.EXCHANGE.value,
            user,
            kind.value,
        )


class CreateAttempts:
    """Which command ids already tried a create, so only a redelivery looks for its first write."""

    def __init__(self, pool: asyncpg.Pool[Any]) -> None:
        self.pool = pool

    async def first_attempt(self, command_id: str) -> bool:
        """Record the attempt; True if no earlier attempt of this command was recorded."""
        inserted = await self.pool.fetchval(
            "INSERT INTO exchange_create_attempts (command_id) VALUES ($1) "
            "ON CONFLICT DO NOTHING RETURNING true",
            command_id,
        )
        return bool(inserted)
