"""The one way to publish: idempotent, acks=all, and awaited until the broker has the message."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from aiokafka import AIOKafkaProducer
from pydantic import BaseModel

from syncruntime.settings import KafkaSettings


async def create_producer(settings: KafkaSettings, client_id: str) -> AIOKafkaProducer:
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        request_timeout_ms=settings.request_timeout_ms,
        compression_type="gzip",
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
