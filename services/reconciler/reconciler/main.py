"""`syncline reconciler`: consume changes, decide, and relay the resulting commands."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
from collections.abc import Sequence
from typing import Any

from aiokafka import TopicPartition
from syncmodel import Control, decode, decode_changes
from syncmodel.topics import CHANGES, CONTROL, DLQ
from syncruntime.kafka import ConsumerLoop, create_producer, ensure_topics
from syncruntime.postgres import create_pool
from syncruntime.postgres.outbox import OutboxRelay
from syncruntime.postgres.tracking import load_positions
from syncruntime.service import Health, run_service
from syncruntime.settings import KafkaSettings, PostgresSettings

from reconciler.consumer import ChangesHandler
from reconciler.control import ControlHandler
from reconciler.deadletters import DeadLetterHandler, decode_letter
from reconciler.settings import ReconcilerSettings


def _decode_control(raw: bytes | None) -> Control:
    return decode(Control, raw)


GC_GEN0_THRESHOLD = 200_000


def tune_gc() -> None:
    """Every decision allocates dozens of objects (pydantic models, canonical dicts) that live
    as long as their batch: up to two polls of batches are in flight, ~100,000 tracked objects.
    The young generation's count rises with each allocation and falls with each deallocation, so
    a threshold above that live set lets a batch's objects die by reference counting before any
    collection; below it (the default 700, or 10,000 before) every collection traverses the
    batches in flight and moves them up the generations for nothing: ~45 collections and ~8 % of
    the replica's wall time per 20,600 changes at 10,000, one collection at 200,000 (measured
    with `bench/reconciler.py`-style runs). Cycles are still collected, later: at most the
    threshold's worth of cyclic garbage waits. Objects that live as long as the process
    (modules, pydantic schemas) are moved out of the collector's sight."""
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GC_GEN0_THRESHOLD, gen1, gen2)


async def reconcile_forever(stop: asyncio.Event, health: Health) -> None:
    kafka, postgres, settings = KafkaSettings(), PostgresSettings(), ReconcilerSettings()
    await ensure_topics(kafka)
    pool = await create_pool(postgres)
    producer = await create_producer(kafka, client_id="syncline-reconciler-relay")
    health.set("postgres", True)
    health.set("kafka", True)
    relay = OutboxRelay(
        pool,
        producer,
        batch_size=settings.relay_batch_size,
        retention=dt.timedelta(hours=settings.outbox_retention_hours),
    )
    changes_handler = ChangesHandler(pool, settings.group_id, on_commit=relay.wake)
    control_group = f"{settings.group_id}-control"
    loops: list[ConsumerLoop[Any]] = []

    def seek_to_stored(loop_index: int, group: str, topic: str) -> Any:
        async def on_assigned(assigned: set[TopicPartition]) -> None:
            positions = await load_positions(pool, group, topic)
            consumer = loops[loop_index].consumer
            assert consumer is not None
            for tp in assigned:
                if tp.partition in positions:
                    consumer.seek(tp, positions[tp.partition])

        return on_assigned

    loops.append(
        ConsumerLoop(
            kafka,
            topics=[CHANGES],
            group_id=settings.group_id,
            handler=changes_handler,
            decoder=decode_changes,
            on_assigned=seek_to_stored(0, settings.group_id, CHANGES),
            max_records=settings.batch_size,
        )
    )
    loops.append(
        ConsumerLoop(
            kafka,
            topics=[CONTROL],
            group_id=control_group,
            handler=ControlHandler(pool, control_group),
            decoder=_decode_control,
            on_assigned=seek_to_stored(1, control_group, CONTROL),
        )
    )
    dlq_group = f"{settings.group_id}-dlq"
    loops.append(
        ConsumerLoop(
            kafka,
            topics=[DLQ],
            group_id=dlq_group,
            handler=DeadLetterHandler(pool, dlq_group),
            decoder=decode_letter,
        )
    )
    tune_gc()
    tasks = [asyncio.create_task(loop.run(stop)) for loop in loops]
    tasks.append(asyncio.create_task(relay.run(stop)))
    try:
        await asyncio.gather(*tasks)
    finally:
        stop.set()
        for task in tasks:
            with contextlib.suppress(Exception):
                await task
        await producer.stop()
        await pool.close()


def main(argv: Sequence[str] = ()) -> int:
    return run_service("reconciler", reconcile_forever)
