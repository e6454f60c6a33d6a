"""A consumer loop with manual commits, rebalance hooks, graceful stop and dead-letter routing.

Theory of operation: `getmany` returns records per partition; each partition's batch is decoded
(an undecodable record goes to `syncline.dlq` with the reason and is skipped), handed to the
handler, and only after the handler returns is the offset committed. Partitions run
concurrently and the next poll overlaps the batches in flight (at most about two polls' worth
of records are held); a partition's batches run one after another, in offset order, and what
is polled for a partition while its batch runs becomes its next batch. Before partitions are
revoked their batches finish and commit. A handler that raises makes the loop seek back to the
batch start and retry after a backoff (records of that partition polled meanwhile are dropped
and fetched again); a batch that fails again is
retried one message at a time, and a single message failing `max_attempts` times is
dead-lettered with the error (a poisoned message never blocks its partition for good).
Handlers that need exactly-once effects store their own offsets (see `postgres.offsets`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Generic, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from syncmodel import DeadLetter, InvalidMessage
from syncmodel.topics import DLQ

from syncruntime.kafka.producer import create_producer, publish
from syncruntime.settings import KafkaSettings

log = logging.getLogger(__name__)

T = TypeVar("T")
PartitionsCallback = Callable[[set[TopicPartition]], Awaitable[None]]


@dataclass(frozen=True)
class Consumed(Generic[T]):
    topic: str
    partition: int
    offset: int
    key: str | None
    message: T
    timestamp_ms: int


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, loop: ConsumerLoop[object]) -> None:
        self._loop = loop

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self._loop.drain(set(revoked))
        if self._loop.on_revoked is not None and revoked:
            await self._loop.on_revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        if self._loop.on_assigned is not None:
            await self._loop.on_assigned(set(assigned))


class ConsumerLoop(Generic[T]):
    def __init__(
        self,
        settings: KafkaSettings,
        *,
        topics: Sequence[str],
        group_id: str,
        handler: Callable[[list[Consumed[T]]], Awaitable[None]],
        decoder: Callable[[bytes | None], T],
        on_assigned: PartitionsCallback | None = None,
        on_revoked: PartitionsCallback | None = None,
        max_records: int = 500,
        retry_backoff_s: float = 1.0,
        dlq_topic: str = DLQ,
        max_attempts: int = 5,
    ) -> None:
        self.settings = settings
        self.topics = list(topics)
        self.group_id = group_id
        self.handler = handler
        self.decoder = decoder
        self.on_assigned = on_assigned
        self.on_revoked = on_revoked
        self.max_records = max_records
        self.retry_backoff_s = retry_backoff_s
        self.dlq_topic = dlq_topic
        self.consumer: AIOKafkaConsumer | None = None
        self._dlq: AIOKafkaProducer | None = None
        self.dead_lettered = 0
        self.max_attempts = max_attempts
        self._failures: dict[tuple[str, int, int], int] = {}
        self._in_flight: dict[TopicPartition, asyncio.Task[None]] = {}
        self._waiting: dict[TopicPartition, list[ConsumerRecord]] = {}
        self._queued = 0
        self._progress = asyncio.Event()
        self._error: BaseException | None = None

    async def run(self, stop: asyncio.Event) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.bootstrap,
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_poll_records=self.max_records,
        )
        consumer.subscribe(self.topics, listener=_Listener(self))  # type: ignore[arg-type]
        await consumer.start()
        self.consumer = consumer
        try:
            while not stop.is_set():
                await self._room()
                batches = await consumer.getmany(timeout_ms=200, max_records=self.max_records)
                for tp, records in batches.items():
                    self._dispatch(consumer, tp, records)
        finally:
            try:
                await self.drain()
            finally:
                # Leaving the group hands our partitions over at once instead of after a timeout.
                await consumer.stop()
                if self._dlq is not None:
                    await self._dlq.stop()

    def _dispatch(
        self, consumer: AIOKafkaConsumer, tp: TopicPartition, records: list[ConsumerRecord]
    ) -> None:
        """Start a partition's batch, or, while one of its batches runs, add the records to the
        one that starts next. Partitions are independent (one key's messages never span two),
        so their batches run concurrently and the next poll overlaps them (one partition's I/O
        waits overlap another's work); records polled meanwhile wait merged, so a partition
        under load gets one large batch after another, not a queue of small ones (a handler
        that batches its own writes, as the Salesforce sink does, writes as much per call)."""
        self._queued += len(records)
        if tp in self._in_flight:
            self._waiting.setdefault(tp, []).extend(records)
        else:
            self._start(consumer, tp, records)

    def _start(
        self, consumer: AIOKafkaConsumer, tp: TopicPartition, records: list[ConsumerRecord]
    ) -> None:
        task = asyncio.create_task(self._process(consumer, tp, records))
        self._in_flight[tp] = task
        task.add_done_callback(partial(self._finished, consumer, tp, len(records)))

    def _finished(
        self, consumer: AIOKafkaConsumer, tp: TopicPartition, size: int, task: asyncio.Task[None]
    ) -> None:
        self._queued -= size
        del self._in_flight[tp]
        waiting = self._waiting.pop(tp, None)
        if not task.cancelled() and (error := task.exception()) is not None:
            self._error = self._error or error  # the loop stops: nothing after it may commit
        elif waiting and not task.cancelled():
            self._queued -= len(waiting)  # counted again by the batch it becomes
            self._dispatch(consumer, tp, waiting)
            waiting = None
        if waiting:
            self._queued -= len(waiting)
        self._progress.set()

    async def _room(self) -> None:
        """Hold the next poll while a poll's worth of records is still in flight (memory stays
        bounded); re-raise a batch's unexpected failure (a lost commit, say) in the loop."""
        while self._queued >= self.max_records and self._error is None:
            self._progress.clear()
            await self._progress.wait()
        if self._error is not None:
            raise self._error

    async def drain(self, partitions: set[TopicPartition] | None = None) -> None:
        """Wait for the batches in flight (of `partitions`, or all), and those waiting behind
        them: before partitions are revoked their last offsets are committed by us, not redone
        by their next owner."""
        while tasks := [
            task for tp, task in self._in_flight.items() if partitions is None or tp in partitions
        ]:
            await asyncio.wait(tasks)

    async def _process(
        self, consumer: AIOKafkaConsumer, tp: TopicPartition, records: list[ConsumerRecord]
    ) -> None:
        good: list[tuple[ConsumerRecord, Consumed[T]]] = []
        for record in records:
            try:
                message = self.decoder(record.value)
            except InvalidMessage as exc:
                await self._dead_letter(record, exc.reason)
                continue
            key = record.key.decode(errors="replace") if record.key is not None else None
            consumed = Consumed(
                record.topic, record.partition, record.offset, key, message, record.timestamp
            )
            good.append((record, consumed))
        if good and not await self._handle(tp, good):
            # What was polled after this batch is void; the partition starts over here.
            self._queued -= len(self._waiting.pop(tp, ()))
            consumer.seek(tp, records[0].offset)
            await asyncio.sleep(self.retry_backoff_s)
            return
        await consumer.commit({tp: records[-1].offset + 1})

    async def _handle(
        self, tp: TopicPartition, good: list[tuple[ConsumerRecord, Consumed[T]]]
    ) -> bool:
        """Hand a batch to the handler. False means "retry the batch later". A batch that keeps
        failing is split so that one poisoned message can't block its partition: a message
        failing `max_attempts` times alone is dead-lettered with the error, and the rest goes on.
        """
        key = (tp.topic, tp.partition, good[0][1].offset)
        try:
            await self.handler([c for _, c in good])
        except Exception as exc:
            attempts = self._failures[key] = self._failures.get(key, 0) + 1
            log.exception(
                "handler failed (attempt %d); retrying",
                attempts,
                extra={"topic": tp.topic, "partition": tp.partition},
            )
            if len(good) > 1 and attempts >= 2:
                self._failures.pop(key, None)
                for item in good:
                    for _ in range(self.max_attempts):
                        if await self._handle(tp, [item]):
                            break
                        await asyncio.sleep(self.retry_backoff_s)
                return True
            if len(good) == 1 and attempts >= self.max_attempts:
                self._failures.pop(key, None)
                await self._dead_letter(good[0][0], f"handler failed {attempts} times: {exc!r}")
                return True
            return False
        self._failures.pop(key, None)
        return True

    async def _dead_letter(self, record: ConsumerRecord, reason: str) -> None:
        if self._dlq is None:
            self._dlq = await create_producer(self.settings, client_id=f"{self.group_id}-dlq")
        raw = record.value or b""
        letter = DeadLetter(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key.decode(errors="replace") if record.key is not None else None,
            value=raw.decode(errors="replace"),
            error=reason,
            consumer=self.group_id,
            ts=dt.datetime.now(dt.UTC),
        )
        await publish(self._dlq, self.dlq_topic, letter.key or "", letter)
        self.dead_lettered += 1
        log.warning(
            "message dead-lettered: %s",
            reason,
            extra={"topic": record.topic, "partition": record.partition},
        )
