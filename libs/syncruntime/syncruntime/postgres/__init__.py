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


class Json(str):
    """Text that already is JSON (say, pydantic's `model_dump_json()`), stored as it is in a
    json/jsonb column: no Python-side dump and re-encode on hot paths."""


def _encode_json(value: Any) -> str:
    return str(value) if isinstance(value, Json) else json.dumps(value)


async def _init_connection(conn: asyncpg.Connection[Any]) -> None:
    for typ in ("json", "jsonb"):
        await conn.set_type_codec(
            typ, encoder=_encode_json, decoder=json.loads, schema="pg_catalog"
        )


async def create_pool(settings: PostgresSettings) -> asyncpg.Pool[Any]:
    pool = await asyncpg.create_pool(
        settings.url,
        min_size=settings.pool_min,
        max_size=settings.pool_max,
        init=_init_connection,
    )
    assert pool is not None
    return pool


__all__ = ["Conn", "Json", "create_pool"]
