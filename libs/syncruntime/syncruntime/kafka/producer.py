"""The one way to publish: idempotent, acks=all, and awaited until the broker has the message."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner, murmur2
from pydantic import BaseModel

from syncruntime.settings import KafkaSettings


class KeyPartitioner:
    """aiokafka's default partitioner (the Java client's murmur2 of the key, so a key lands on
    the partition any Kafka client would pick) with the hashes of recent keys remembered.

    Every message is keyed by tenant and user, and a process talks about a few thousand users at
    most, while the pure-Python murmur2 costs ~5 us a send: as much as the rest of a send. The
    memo is bounded (cleared when full)."""

    def __init__(self, max_keys: int = 65_536) -> None:
        self.max_keys = max_keys
        self._hashes: dict[bytes, int] = {}
        self._default = DefaultPartitioner()

    def __call__(self, key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
        if key is None:
            return int(self._default(key, all_partitions, available))
        hashed = self._hashes.get(key)
        if hashed is None:
            if len(self._hashes) >= self.max_keys:
                self._hashes.clear()
            hashed = self._hashes[key] = murmur2(key) & 0x7FFFFFFF
        return all_partitions[hashed % len(all_partitions)]


async def create_producer(settings: KafkaSettings, client_id: str) -> AIOKafkaProducer:
    """The producer every service publishes with. Batches are compressed with zstd (through
    cramjam): aiokafka's gzip runs at level 9, which cost ~6 us a message here, zstd ~0.7 us at a
    better ratio (measured on command batches)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        request_timeout_ms=settings.request_timeout_ms,
        compression_type="zstd",
        partitioner=KeyPartitioner(),
        max_batch_size=256 * 1024,  # a relay round fits one batch per partition
    )
    await producer.start()
    return producer


def encode(message: BaseModel) -> bytes:
    return message.model_dump_json(by_alias=True).encode()


async def publish(producer: AIOKafkaProducer, topic: str, key: str, message: BaseModel) -> None:
    """Publish and wait for the broker's ack (callers persist cursors only after this)."""
    await producer.send_and_wait(topic, value=encode(message), key=key.encode())


async def publish_many(
    producer: AIOKafkaProducer, items: Iterable[tuple[str, str, BaseModel]]
) -> None:
    """Publish (topic, key, message) items and wait until the broker has acked them all.

    All sends are issued first, then all acks awaited: one round trip for the lot instead of
    one per message. Order per key holds: sends issued in order to one partition stay in order
    (the producer is idempotent, so a retried batch is not reordered). Raises the first
    failure once every send has finished; callers then treat the lot as not published.
    """
    pending = [
        await producer.send(topic, value=encode(message), key=key.encode())
        for topic, key, message in items
    ]
    if not pending:
        return
    acks = await asyncio.gather(*pending, return_exceptions=True)
    for ack in acks:
        if isinstance(ack, BaseException):
            raise ack
