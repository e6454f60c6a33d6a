"""The shared Kafka helpers against the real broker: round trip, DLQ, topic bootstrap."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from syncmodel import ChangeEvent, ChangesMessage, Contact, Kind, Op, Side, decode_changes
from syncruntime.kafka import Consumed, ConsumerLoop, create_producer, ensure_topics, publish
from syncruntime.kafka.topics import TopicSpec
from syncruntime.settings import KafkaSettings

from tests.fixtures.infra import unique_name

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)


def _event(n: int) -> ChangeEvent:
    return ChangeEvent(
        id=f"exchange/AAMk{n}/v1",
        tenant="acme",
        user=f"u{n % 3}",
        side=Side.EXCHANGE,
        kind=Kind.CONTACT,
        op=Op.CREATE,
        record_id=f"AAMk{n}",
        version="v1",
        after=Contact(last_name=f"Person {n}", email=f"p{n}@example.com"),
        captured_ts=NOW,
    )


async def _consume(
    kafka_settings: KafkaSettings,
    topic: str,
    handler: Callable[[list[Consumed[ChangesMessage]]], Awaitable[None]],
    done: asyncio.Event,
    **options: Any,
) -> ConsumerLoop[ChangesMessage]:
    """Run a consumer loop of `topic` in a group of its own until `done` is set."""
    loop = ConsumerLoop(
        kafka_settings,
        topics=[topic],
        group_id=unique_name("g"),
        handler=handler,
        decoder=decode_changes,
        **options,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop))
    try:
        await asyncio.wait_for(done.wait(), timeout=60)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)
    return loop


async def test_publish_and_consume_round_trip_in_key_order(kafka_settings: KafkaSettings) -> None:
    topic = unique_name("test.changes")
    await ensure_topics(kafka_settings, [TopicSpec(topic)], partitions=3)
    producer = await create_producer(kafka_settings, client_id="test")
    try:
        for n in range(30):
            event = _event(n)
            await publish(producer, topic, f"{event.tenant}/{event.user}", event)
    finally:
        await producer.stop()

    received: list[Consumed[ChangesMessage]] = []
    done = asyncio.Event()

    async def handler(batch: list[Consumed[ChangesMessage]]) -> None:
        received.extend(batch)
        if len(received) >= 30:
            done.set()

    await _consume(kafka_settings, topic, handler, done)
    assert sorted(c.message.record_id for c in received if isinstance(c.message, ChangeEvent)) == (
        sorted(f"AAMk{n}" for n in range(30))
    )
    # Every user's changes share one partition and arrive in publish order.
    by_user: dict[str, list[int]] = {}
    for c in received:
        assert c.key is not None
        by_user.setdefault(c.key, []).append(int(c.message.record_id[4:]))  # type: ignore[union-attr]
        assert len({x.partition for x in received if x.key == c.key}) == 1
    for numbers in by_user.values():
        assert numbers == sorted(numbers)


async def test_malformed_message_goes_to_dlq_and_the_loop_goes_on(
    kafka_settings: KafkaSettings,
) -> None:
    topic, dlq = unique_name("test.changes"), unique_name("test.dlq")
    await ensure_topics(kafka_settings, [TopicSpec(topic), TopicSpec(dlq)], partitions=1)
    raw = AIOKafkaProducer(bootstrap_servers=kafka_settings.bootstrap)
    await raw.start()
    try:
        await raw.send_and_wait(topic, b'{"schema": "syncline.change/1", "oops": true}', b"k")
        await raw.send_and_wait(topic, _event(1).to_json(), b"acme/u1")
    finally:
        await raw.stop()

    received: list[Consumed[ChangesMessage]] = []
    done = asyncio.Event()

    async def handler(batch: list[Consumed[ChangesMessage]]) -> None:
        received.extend(batch)
        done.set()

    loop = await _consume(kafka_settings, topic, handler, done, dlq_topic=dlq)
    assert [c.message.record_id for c in received] == ["AAMk1"]  # type: ignore[union-attr]
    assert loop.dead_lettered == 1

    consumer = AIOKafkaConsumer(
        dlq,
        bootstrap_servers=kafka_settings.bootstrap,
        auto_offset_reset="earliest",
        group_id=unique_name("dlq-reader"),
    )
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), timeout=30)
    finally:
        await consumer.stop()
    letter = json.loads(record.value)
    assert letter["schema"] == "syncline.dlq/1"
    assert letter["topic"] == topic
    assert letter["offset"] == 0
    assert "tenant: Field required" in letter["error"]
    assert "oops" in letter["value"]


async def test_failed_handler_batch_is_retried_not_skipped(kafka_settings: KafkaSettings) -> None:
    topic = unique_name("test.changes")
    await ensure_topics(kafka_settings, [TopicSpec(topic)], partitions=1)
    producer = await create_producer(kafka_settings, client_id="test")
    try:
        await publish(producer, topic, "acme/u1", _event(7))
    finally:
        await producer.stop()
    attempts: list[str] = []
    done = asyncio.Event()

    async def flaky(batch: list[Consumed[ChangesMessage]]) -> None:
        attempts.extend(c.message.record_id for c in batch)  # type: ignore[union-attr]
        if len(attempts) == 1:
            raise RuntimeError("database went away")
        done.set()

    await _consume(kafka_settings, topic, flaky, done, retry_backoff_s=0.1)
    assert attempts == ["AAMk7", "AAMk7"]


async def test_topic_bootstrap_is_idempotent(kafka_settings: KafkaSettings) -> None:
    name = unique_name("test.roster")
    spec = TopicSpec(name, configs={"cleanup.policy": "compact"})
    assert await ensure_topics(kafka_settings, [spec], partitions=2) == [name]
    assert await ensure_topics(kafka_settings, [spec], partitions=2) == []
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_settings.bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([name])
    finally:
        await admin.close()
    assert len(described[0]["partitions"]) == 2


async def test_a_poisoned_message_is_dead_lettered_and_its_partition_goes_on(
    kafka_settings: KafkaSettings,
) -> None:
    topic, dlq = unique_name("test.changes"), unique_name("test.dlq")
    await ensure_topics(kafka_settings, [TopicSpec(topic), TopicSpec(dlq)], partitions=1)
    producer = await create_producer(kafka_settings, client_id="test")
    try:
        for n in (1, 2, 3):
            await publish(producer, topic, "acme/u1", _event(n))
    finally:
        await producer.stop()
    handled: list[str] = []
    done = asyncio.Event()

    async def handler(batch: list[Consumed[ChangesMessage]]) -> None:
        if any(c.message.record_id == "AAMk2" for c in batch):  # type: ignore[union-attr]
            raise ValueError("cannot apply AAMk2")
        handled.extend(c.message.record_id for c in batch)  # type: ignore[union-attr]
        if "AAMk3" in handled:
            done.set()

    loop = await _consume(
        kafka_settings, topic, handler, done, dlq_topic=dlq, retry_backoff_s=0.05, max_attempts=3
    )
    assert handled == ["AAMk1", "AAMk3"]
    assert loop.dead_lettered == 1


async def _publish_to(
    kafka_settings: KafkaSettings, topic: str, sends: list[tuple[int, int]]
) -> None:
    """(partition, n) pairs, published in this order."""
    raw = AIOKafkaProducer(bootstrap_servers=kafka_settings.bootstrap)
    await raw.start()
    try:
        for partition, n in sends:
            await raw.send_and_wait(topic, _event(n).to_json(), b"k", partition=partition)
    finally:
        await raw.stop()


async def test_a_slow_partition_does_not_hold_up_the_others_and_each_keeps_its_order(
    kafka_settings: KafkaSettings,
) -> None:
    """Partition 0's batch waits (up to 5 s) until partition 1's 30 messages (six polls of
    five) are handled: with a barrier per poll they wait for it instead. No partition ever runs
    two batches at once, and each sees its messages in offset order."""
    topic = unique_name("test.changes")
    await ensure_topics(kafka_settings, [TopicSpec(topic)], partitions=2)
    await _publish_to(kafka_settings, topic, [(0, 0)] + [(1, n) for n in range(1, 31)])
    seen: dict[int, list[int]] = {0: [], 1: []}
    running: set[int] = set()
    overlapped: list[int] = []
    waited_for_others: list[bool] = []
    others_done, done = asyncio.Event(), asyncio.Event()

    async def handler(batch: list[Consumed[ChangesMessage]]) -> None:
        partition = batch[0].partition
        if partition in running:
            overlapped.append(partition)
        running.add(partition)
        try:
            if partition == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(others_done.wait(), timeout=5)
                waited_for_others.append(others_done.is_set())
            else:
                await asyncio.sleep(0.01)
            seen[partition].extend(int(c.message.record_id[4:]) for c in batch)  # type: ignore[union-attr]
        finally:
            running.discard(partition)
        if len(seen[1]) == 30:
            others_done.set()
        if seen[0] and others_done.is_set():
            done.set()

    await _consume(kafka_settings, topic, handler, done, max_records=5)
    assert waited_for_others == [True]
    assert seen == {0: [0], 1: list(range(1, 31))}
    assert overlapped == []


async def test_batches_polled_behind_a_failed_one_are_handled_after_it_once_in_order(
    kafka_settings: KafkaSettings,
) -> None:
    """The next polls overlap a batch in flight; when that batch fails, what was polled behind
    it is dropped and read again after the retry: every message is handled once, in order."""
    topic = unique_name("test.changes")
    await ensure_topics(kafka_settings, [TopicSpec(topic)], partitions=1)
    await _publish_to(kafka_settings, topic, [(0, n) for n in range(20)])
    handled: list[int] = []
    failed: list[int] = []
    done = asyncio.Event()

    async def handler(batch: list[Consumed[ChangesMessage]]) -> None:
        numbers = [int(c.message.record_id[4:]) for c in batch]  # type: ignore[union-attr]
        if 7 in numbers and not failed:
            await asyncio.sleep(0.3)  # the loop polls the rest meanwhile
            failed.extend(numbers)
            raise RuntimeError("database went away")
        handled.extend(numbers)
        if len(handled) >= 20:
            done.set()

    await _consume(kafka_settings, topic, handler, done, max_records=4, retry_backoff_s=0.1)
    assert 7 in failed
    assert handled == list(range(20))


async def test_what_a_partition_polls_while_its_batch_runs_becomes_one_next_batch(
    kafka_settings: KafkaSettings,
) -> None:
    """Messages arriving one by one while a partition's batch runs are polled one by one, and
    wait as one batch: a handler that batches its own writes (the Salesforce sink) gets them
    together, not as a queue of single-message batches (which made it write one at a time)."""
    topic = unique_name("test.changes")
    await ensure_topics(kafka_settings, [TopicSpec(topic)], partitions=1)
    await _publish_to(kafka_settings, topic, [(0, 0)])
    sizes: list[int] = []
    first_running, release, done = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def handler(batch: list[Consumed[ChangesMessage]]) -> None:
        sizes.append(len(batch))
        if len(sizes) == 1:
            first_running.set()
            await asyncio.wait_for(release.wait(), timeout=30)
        if sum(sizes) >= 5:
            done.set()

    async def trickle() -> None:
        await asyncio.wait_for(first_running.wait(), timeout=30)
        for n in range(1, 5):
            await _publish_to(kafka_settings, topic, [(0, n)])
            await asyncio.sleep(0.3)  # each one polled on its own
        release.set()

    feeder = asyncio.create_task(trickle())
    await _consume(kafka_settings, topic, handler, done, max_records=5)
    await feeder
    assert sizes == [1, 4]
