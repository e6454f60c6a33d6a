"""Reconciler throughput per replica, next to the bare bus limit measured on the same messages.

The same N change events (200 reps x K new contacts each, after their roster and initial-sync
statuses) are consumed twice from one topic: once by a bare aiokafka consume+produce loop (the
most any consumer could do on this broker and machine), once by one reconciler replica (consumer
loop + core + one PostgreSQL transaction per batch + outbox relay publishing the commands).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import secrets
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from reconcile import SyncSettings
from reconciler.consumer import ChangesHandler
from reconciler.main import tune_gc
from reconciler.settings import ReconcilerSettings
from syncmodel import (
    ChangeEvent,
    ChangesMessage,
    ConnectorState,
    ConnectorStatus,
    Contact,
    Kind,
    Op,
    SalesforceUser,
    Side,
    bus_key,
    change_event_id,
    decode_changes,
)
from syncruntime.kafka import ConsumerLoop, create_producer, ensure_topics
from syncruntime.kafka.producer import encode
from syncruntime.kafka.topics import TopicSpec
from syncruntime.postgres import create_pool
from syncruntime.postgres.outbox import OutboxRelay
from syncruntime.settings import KafkaSettings, PostgresSettings

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
TENANT = "benchco"


def workload(
    tenant: str, users: list[str], per_user: int, *, profile_id: str = "p"
) -> list[tuple[str, ChangesMessage]]:
    """Per user: the Salesforce user (roster) and both sides' `initial_sync_completed`, then
    `per_user` new Outlook contacts each, interleaved across users: (user, message) in bus order.
    The crash test of the reconciler process replays the same workload."""
    out: list[tuple[str, ChangesMessage]] = []
    for user in users:
        out.append(
            (
                user,
                ChangeEvent(
                    id=change_event_id(Side.SALESFORCE, user, "1"),
                    tenant=tenant,
                    user=user,
                    side=Side.SALESFORCE,
                    kind=Kind.USER,
                    op=Op.READ,
                    record_id=user,
                    version="1",
                    after=SalesforceUser(
                        username=f"{user}@{tenant}.test",
                        email=f"{user}@{tenant}.test",
                        profile_id=profile_id,
                    ),
                    captured_ts=NOW,
                ),
            )
        )
        for side in Side:
            out.append(
                (
                    user,
                    ConnectorStatus(
                        tenant=tenant,
                        user=user,
                        side=side,
                        state=ConnectorState.INITIAL_SYNC_COMPLETED,
                        ts=NOW,
                    ),
                )
            )
    for n in range(per_user):
        for user in users:
            record_id = f"AAMk-{user}-{n}"
            out.append(
                (
                    user,
                    ChangeEvent(
                        id=change_event_id(Side.EXCHANGE, record_id, "ck1"),
                        tenant=tenant,
                        user=user,
                        side=Side.EXCHANGE,
                        kind=Kind.CONTACT,
                        op=Op.CREATE,
                        record_id=record_id,
                        version="ck1",
                        after=Contact(
                            first_name="Pat",
                            last_name=f"Person {n}",
                            company="Initech",
                            email=f"p{n}.{user.lower()}@example.test",
                            business_phone="+1 555 0100",
                        ),
                        source_ts=NOW,
                        captured_ts=NOW,
                    ),
                )
            )
    return out


def messages(reps: int, per_rep: int, tenant: str = TENANT) -> list[tuple[str, bytes]]:
    users = [f"005B{n:011d}AAA" for n in range(reps)]
    return [(bus_key(tenant, user), encode(m)) for user, m in workload(tenant, users, per_rep)]


async def _produce(bootstrap: str, topic: str, batch: list[tuple[str, bytes]]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=20, max_batch_size=256 * 1024
    )
    await producer.start()
    try:
        futures = [await producer.send(topic, value, key.encode()) for key, value in batch]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def bare_bus(bootstrap: str, topic: str, total: int, group: str | None = None) -> float:
    """Consume every message and produce it to another topic: the bus limit."""
    sink = f"{topic}.echo"
    await ensure_topics(KafkaSettings(bootstrap=bootstrap), [TopicSpec(sink)], partitions=12)
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group or f"bare-{topic}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await consumer.start()
    await producer.start()
    try:
        seen, started = 0, time.perf_counter()
        while seen < total:
            batches = await consumer.getmany(timeout_ms=500, max_records=500)
            futures = []
            for tp, records in batches.items():
                for record in records:
                    decode_changes(record.value)  # the same decoding work the reconciler does
                    futures.append(await producer.send(sink, record.value, record.key))
                if records:
                    await consumer.commit({tp: records[-1].offset + 1})
            await asyncio.gather(*futures)
            seen += len(futures)
        return total / (time.perf_counter() - started)
    finally:
        await consumer.stop()
        await producer.stop()


async def one_replica(
    bootstrap: str,
    database_url: str,
    topic: str,
    total: int,
    *,
    tenant: str = TENANT,
) -> tuple[float, float]:
    """Changes per second and the replica's CPU microseconds per change. The replica runs as
    `syncline reconciler` does: its settings, pool and producer (`create_producer`)."""
    settings = ReconcilerSettings()
    pool = await create_pool(PostgresSettings(SYNCLINE_DATABASE_URL=database_url))
    await pool.execute(
        "INSERT INTO tenants (id, name) VALUES ($1, 'Bench') ON CONFLICT DO NOTHING", tenant
    )
    await pool.execute(
        "INSERT INTO configurations (tenant_id, configuration_id, name, active, settings)"
        " VALUES ($1, 'c', 'All', true, $2) ON CONFLICT DO NOTHING",
        tenant,
        SyncSettings().model_dump(mode="json"),
    )
    await pool.execute(
        "INSERT INTO assignments (tenant_id, principal_type, principal_id, configuration_id)"
        " VALUES ($1, 'profile', 'p', 'c') ON CONFLICT DO NOTHING",
        tenant,
    )
    kafka = KafkaSettings(bootstrap=bootstrap)
    group = f"bench-{topic}"
    producer = await create_producer(kafka, client_id="bench-reconciler-relay")
    relay = OutboxRelay(pool, producer, batch_size=settings.relay_batch_size)
    handler = ChangesHandler(pool, group, topic=topic, on_commit=relay.wake)
    loop: ConsumerLoop[Any] = ConsumerLoop(
        kafka,
        topics=[topic],
        group_id=group,
        handler=handler,
        decoder=decode_changes,
        max_records=settings.batch_size,
    )
    stop = asyncio.Event()
    threshold = gc.get_threshold()
    tune_gc()  # as `syncline reconciler` does at start (reconciler/main.py)
    started, cpu = time.perf_counter(), time.process_time()
    tasks = [asyncio.create_task(loop.run(stop)), asyncio.create_task(relay.run(stop))]
    try:
        # Polled every 10 ms: the end of a run of a few seconds is known to within 1 %.
        while handler.applied < total:  # noqa: ASYNC110 - polling progress made elsewhere
            await asyncio.sleep(0.01)
        while await pool.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL"):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        await producer.stop()
        await pool.close()
        gc.unfreeze()  # the rest of the benchmark process runs with the defaults again
        gc.set_threshold(*threshold)
    return total / elapsed, 1e6 * cpu / total


RUNS = 5
"""Rounds of (bus loop, replica, bus loop). This machine's speed drifts by up to 2x within a
minute (the bus loop alone went from 19,000 to 8,000/s over four rounds), so each replica run is
compared with the mean of the bus loops right before and after it, and the median round is
reported with the spread. Five rounds (~20 s each): with three, the median share of the same
code still moved between 29 % and 38 % from one `make bench` to the next."""


async def run(
    bootstrap: str, database_url: str, reps: int = 200, per_rep: int = 50, runs: int = RUNS
) -> dict[str, Any]:
    rounds: list[tuple[float, float, float]] = []
    total = 0
    for n in range(runs):
        # Each round gets its own topic and tenant: the same workload, a fresh start.
        tenant = f"{TENANT}{n}"
        topic = f"bench.changes.{secrets.token_hex(3)}"
        await ensure_topics(KafkaSettings(bootstrap=bootstrap), [TopicSpec(topic)], partitions=12)
        batch = messages(reps, per_rep, tenant)
        total = len(batch)
        await _produce(bootstrap, topic, batch)
        before = await bare_bus(bootstrap, topic, total, group=f"bare-{topic}-before")
        rate, cpu_us = await one_replica(bootstrap, database_url, topic, total, tenant=tenant)
        after = await bare_bus(bootstrap, topic, total, group=f"bare-{topic}-after")
        rounds.append((rate, (before + after) / 2, cpu_us))
    rate, limit, cpu_us = sorted(rounds, key=lambda r: r[0] / r[1])[len(rounds) // 2]
    return {
        "messages": float(total),
        "changes_per_s": round(rate, 1),
        "cpu_us_per_change": round(cpu_us, 1),
        "bus_limit_per_s": round(limit, 1),
        "ratio": round(rate / limit, 3),
        "runs": [
            {
                "changes_per_s": round(r, 1),
                "bus_limit_per_s": round(b, 1),
                "ratio": round(r / b, 3),
                "cpu_us_per_change": round(c, 1),
            }
            for r, b, c in rounds
        ],
    }
