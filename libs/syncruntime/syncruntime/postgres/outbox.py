"""Transactional outbox: messages written with the effects that caused them, published later.

`append` runs inside the caller's transaction; `OutboxRelay` publishes unsent rows in id order
with the idempotent producer and marks them sent. Every replica runs a relay; a transaction-scoped
advisory lock lets one of them publish at a time (a relay that dies releases it with its
connection), so rows go out once and in order however many replicas run. A crash between
publish and mark re-publishes the same message id, which consumers treat as a duplicate
(commands carry stable ids). Sent rows are kept for a retention window (an append of a message
id seen in that window stays a no-op; the status API tells dispatched resets by them), then
the relay prunes them, so the table does not grow without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from pydantic import BaseModel

from syncruntime.kafka.producer import KeyPartitioner
from syncruntime.postgres import Conn, Json, joined

log = logging.getLogger(__name__)


async def append(
    conn: Conn,
    message_id: str,
    topic: str,
    key: str,
    message: BaseModel,
    *,
    not_before: dt.datetime | None = None,
) -> bool:
    """Queue a message (held until `not_before` if given, for back-off); returns False if a
    message with this id was already queued."""
    status = await conn.execute(
        "INSERT INTO outbox (message_id, topic, key, payload, not_before)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (message_id) DO NOTHING",
        message_id,
        topic,
        key,
        Json(message.model_dump_json(by_alias=True)),
        not_before,
    )
    return status.endswith(" 1")


_APPEND_MANY = """
    INSERT INTO outbox (message_id, topic, key, payload, not_before)
    SELECT m.message_id, m.topic, m.key, m.payload::json, m.not_before
      FROM unnest(syncline_split($1), syncline_split($2), syncline_split($3),
                  syncline_split($4), syncline_split($5)::timestamptz[])
           WITH ORDINALITY AS m(message_id, topic, key, payload, not_before, n)
     ORDER BY m.n
    ON CONFLICT (message_id) DO NOTHING
"""


async def append_many(
    conn: Conn, rows: Sequence[tuple[str, str, str, BaseModel | str, dt.datetime | None]]
) -> None:
    """Queue many messages, in order, in one statement: (message id, topic, key, message or its
    JSON as `model_dump_json(by_alias=True)` wrote it, not before). Columns of values rather
    than a row per execution: one plan run for the batch (each column one joined text)."""
    if not rows:
        return
    await conn.execute(
        _APPEND_MANY,
        joined([row[0] for row in rows]),
        joined([row[1] for row in rows]),
        joined([row[2] for row in rows]),
        joined([_json(row[3]) for row in rows]),
        joined([None if (at := row[4]) is None else at.isoformat() for row in rows]),
    )


def _json(message: BaseModel | str) -> str:
    return message if isinstance(message, str) else message.model_dump_json(by_alias=True)


_PRUNE = """
    DELETE FROM outbox WHERE id IN (
        SELECT id FROM outbox WHERE sent_at < now() - $1::interval ORDER BY id LIMIT $2
    )
"""


_PRUNE_MOST = 50_000
"""Rows pruned per turn of the relay loop: a first prune of a large outbox goes in steps."""

RELAY_LOCK_ID = 0x5359_4E43_4F42  # "SYNCOB": the outbox relay's advisory lock key
_TAKE_OUTBOX = f"SELECT pg_try_advisory_xact_lock({RELAY_LOCK_ID})"
"""Held for the relay's transaction: the other replicas' relays skip their turn meanwhile."""


class OutboxRelay:
    def __init__(
        self,
        pool: asyncpg.Pool[Any],
        producer: AIOKafkaProducer,
        *,
        batch_size: int = 500,
        idle_sleep_s: float = 0.05,
        retention: dt.timedelta = dt.timedelta(days=7),
        prune_every_s: float = 600.0,
    ) -> None:
        self.pool = pool
        self.producer = producer
        self.batch_size = batch_size
        self.idle_sleep_s = idle_sleep_s
        self.retention = retention
        self.prune_every_s = prune_every_s
        self.pruned = 0
        self.published = 0
        self._partitioner = KeyPartitioner()
        self._wakeup = asyncio.Event()

    def wake(self) -> None:
        """Rows were just committed (by this process): publish now instead of after the idle
        sleep. Writers in other processes are found by the next round, at most `idle_sleep_s`
        later."""
        self._wakeup.set()

    async def relay_once(self) -> int:
        """Publish one batch of unsent messages; returns how many were published (0 also when
        another relay holds the outbox: one replica publishes at a time, so several replicas
        neither publish a row twice nor reorder one key's messages between them)."""
        async with self.pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval(_TAKE_OUTBOX):
                return 0
            rows = await conn.fetch(
                "SELECT id, topic, key, payload::text AS payload FROM outbox WHERE sent_at IS NULL"
                " AND (not_before IS NULL OR not_before <= now()) ORDER BY id LIMIT $1",
                self.batch_size,
            )
            if not rows:
                return 0
            await self._publish(rows)
            await conn.execute(
                "UPDATE outbox SET sent_at = now() WHERE id = ANY($1::bigint[])",
                [row["id"] for row in rows],
            )
        self.published += len(rows)
        return len(rows)

    async def _publish(self, rows: Sequence[asyncpg.Record]) -> None:
        """Send `rows` and wait for every ack. Rows are grouped per topic partition, in id order
        within each, into whole record batches: one future per batch instead of one per message
        (per-message sends were most of the relay's cost). The partition is the one a keyed
        send would pick."""
        partitions: dict[str, list[int]] = {}
        groups: dict[tuple[str, int], list[asyncpg.Record]] = {}
        for row in rows:
            topic = row["topic"]
            if topic not in partitions:
                partitions[topic] = sorted(await self.producer.partitions_for(topic))
            every = partitions[topic]
            partition = self._partitioner(row["key"].encode(), every, every)
            groups.setdefault((topic, partition), []).append(row)
        futures: list[asyncio.Future[Any]] = []
        for (topic, partition), members in groups.items():
            batch = self.producer.create_batch()
            for row in members:
                key, value = row["key"].encode(), row["payload"].encode()
                if batch.append(key=key, value=value, timestamp=None) is None:  # batch full
                    futures.append(
                        await self.producer.send_batch(batch, topic, partition=partition)
                    )
                    batch = self.producer.create_batch()
                    batch.append(key=key, value=value, timestamp=None)  # the first always fits
            futures.append(await self.producer.send_batch(batch, topic, partition=partition))
        await asyncio.gather(*futures)

    async def prune(self, chunk: int = 5000, most: int = 50_000) -> int:
        """Delete the messages sent longer than the retention ago, a chunk per statement (short
        transactions, no long lock on the outbox), up to `most` a call so that publishing never
        waits long behind a large backlog; returns how many went. Unsent rows are never touched,
        however old (held for back-off, or waiting for Kafka)."""
        pruned = 0
        while pruned < most:
            status = await self.pool.execute(_PRUNE, self.retention, min(chunk, most - pruned))
            deleted = int(status.split()[-1])
            pruned += deleted
            if deleted < chunk:
                break
        self.pruned += pruned
        return pruned

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        prune_at = loop.time() + self.prune_every_s / 10  # soon after start, then periodically
        while not stop.is_set():
            try:
                if loop.time() >= prune_at:
                    prune_at = loop.time() + self.prune_every_s
                    if pruned := await self.prune(most=_PRUNE_MOST):
                        log.info(
                            "outbox: pruned %d messages sent over %s ago", pruned, self.retention
                        )
                    if pruned == _PRUNE_MOST:
                        prune_at = loop.time() + 1.0  # a backlog: more soon, between relays
                self._wakeup.clear()  # a commit from here on wakes the idle wait below
                sent = await self.relay_once()
            except Exception:
                log.exception("outbox relay failed; retrying")
                sent = 0
                await asyncio.sleep(1.0)
            if sent == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), self.idle_sleep_s)
