"""PostgreSQL access: an asyncpg pool with JSON codecs, and alembic migrations."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from syncruntime.settings import PostgresSettings


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


__all__ = ["create_pool"]
