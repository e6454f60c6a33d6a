"""The one way to publish: idempotent, acks=all, and awaited until the broker has the message."""

from __future__ import annotations

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
