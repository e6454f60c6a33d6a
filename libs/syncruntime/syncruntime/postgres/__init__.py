"""PostgreSQL access: an asyncpg pool with JSON codecs, and alembic migrations."""

from __future__ import annotations

import json
from collections.abc import Sequence
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


SEPARATOR, NULL_MARK = "\x1e", "\x1f"  # ASCII record and unit separators


def joined(values: Sequence[str | None]) -> str:
    """A text array as ONE text parameter, read in SQL with `syncline_split($n)` (migration
    0204: `string_to_array($n, E'\\x1e', E'\\x1f')`). Batch statements pass columns of
    hundreds of values: asyncpg checks every element of a list parameter against
    `collections.abc` (~0.35 us each, most of the Python cost of those statements), and one
    joined string costs next to nothing. None becomes SQL NULL. A value that is empty, is the
    NULL mark or holds the separator can't be told apart, so it raises ValueError (ids, JSON
    text and timestamps never do: JSON escapes control characters)."""
    if not values:
        return ""
    if "" in values or NULL_MARK in values:
        raise ValueError("an empty value or the NULL mark can't be passed joined")
    if None in values:
        values = [NULL_MARK if value is None else value for value in values]
    text = SEPARATOR.join(values)  # type: ignore[arg-type]  # no None left
    if text.count(SEPARATOR) != len(values) - 1:
        raise ValueError("a value holds the separator (\\x1e): it can't be passed joined")
    return text


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


__all__ = ["Conn", "Json", "create_pool", "joined"]
