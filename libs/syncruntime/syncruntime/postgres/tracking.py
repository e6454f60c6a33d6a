"""Consumer positions stored in PostgreSQL, in the same transaction as the effects they record.

Kafka's committed offset is only a hint: after a crash the consumer seeks to the position
recorded here, so a batch whose effects were committed is never applied twice, and a batch whose
transaction rolled back is applied again (eventsourcing's `Tracking`).
"""

from __future__ import annotations

from typing import Any

import asyncpg

from syncruntime.postgres import Conn


async def load_positions(conn: Conn | asyncpg.Pool[Any], group: str, topic: str) -> dict[int, int]:
    rows = await conn.fetch(
        "SELECT partition, next_offset FROM processed_offsets"
        " WHERE consumer_group = $1 AND topic = $2",
        group,
        topic,
    )
    return {row["partition"]: row["next_offset"] for row in rows}


async def record_position(
    conn: Conn, group: str, topic: str, partition: int, next_offset: int
) -> None:
    await conn.execute(
        """
        INSERT INTO processed_offsets (consumer_group, topic, partition, next_offset)
        VALUES ($1, $2, $3, $4)
        ON CONFLICT (consumer_group, topic, partition)
        DO UPDATE SET next_offset = GREATEST(processed_offsets.next_offset, EXCLUDED.next_offset),
                      updated_at = now()
        """,
        group,
        topic,
        partition,
        next_offset,
    )
