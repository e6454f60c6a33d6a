"""PostgreSQL access: an asyncpg pool with JSON codecs, and alembic migrations."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from syncruntime.settings import PostgresSettings

# A connection as handed out by a pool or opened directly; both speak the same API.
if TYPE_CHECKING:
    Conn: TypeAlias = asyncpg.Connection[Any] | PoolConnectionProxy[Any]
else:
    Conn = asyncpg.Connection | PoolConnectionProxy


async def _init_connection(conn: asyncpg.Connection[Any]) -> None:
    for typ in ("json", "jsonb"):
        await conn.set_type_codec(typ, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def create_pool(settings: PostgresSettings) -> asyncpg.Pool[Any]:
    pool = await asyncpg.create_pool(
        settings.url,
        min_size=settings.pool_min,
        max_size=settings.pool_max,
        init=_init_connection,
    )
    assert pool is not None
    return pool


__all__ = ["Conn", "create_pool"]
