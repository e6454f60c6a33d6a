"""Migrations, the outbox and tracked offsets against the real PostgreSQL and broker."""

from __future__ import annotations

import asyncio
import datetime as dt

import asyncpg
from syncmodel import Control, ControlAction, decode
from syncruntime.kafka import create_producer, ensure_topics
from syncruntime.kafka.topics import TopicSpec
from syncruntime.postgres import create_pool, joined
from syncruntime.postgres.migrate import upgrade
from syncruntime.postgres.outbox import RELAY_LOCK_ID, OutboxRelay, append
from syncruntime.postgres.tracking import load_positions, record_position
from syncruntime.settings import KafkaSettings, PostgresSettings

from tests.fixtures.infra import read_topic, unique_name

CORE_TABLES = {
    "tenants",
    "connections",
    "sync_users",
    "links",
    "cursors",
    "processed_offsets",
    "outbox",
    "sync_errors",
    "audit_log",
    "statuses",
}


async def test_migrations_create_the_core_schema_and_rerun_as_noop(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        tables = {
            r["tablename"]
            for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname='public'")
        }
        assert tables >= CORE_TABLES
        assert "alembic_version" in tables
        heads_before = await conn.fetch("SELECT version_num FROM alembic_version")
        await asyncio.to_thread(upgrade, database_url)
        heads_after = await conn.fetch("SELECT version_num FROM alembic_version")
        assert heads_before == heads_after
    finally:
        await conn.close()


async def test_tracked_offsets_only_move_forward(postgres_settings: PostgresSettings) -> None:
    pool = await create_pool(postgres_settings)
    try:
        async with pool.acquire() as conn, conn.transaction():
            await record_position(conn, "reconciler", "syncline.changes", 3, 120)
        async with pool.acquire() as conn, conn.transaction():
            await record_position(conn, "reconciler", "syncline.changes", 3, 100)
        assert await load_positions(pool, "reconciler", "syncline.changes") == {3: 120}
        # A rolled-back batch leaves no position behind.
        async with pool.acquire() as conn:
            try:
                async with conn.transaction():
                    await record_position(conn, "reconciler", "syncline.changes", 4, 10)
                    raise RuntimeError("crash mid-batch")
            except RuntimeError:
                pass
        assert await load_positions(pool, "reconciler", "syncline.changes") == {3: 120}
    finally:
        await pool.close()


async def test_outbox_relay_publishes_each_message_once(
    postgres_settings: PostgresSettings, kafka_settings: KafkaSettings
) -> None:
    topic = unique_name("test.control")
    await ensure_topics(kafka_settings, [TopicSpec(topic)], partitions=1)
    pool = await create_pool(postgres_settings)
    producer = await create_producer(kafka_settings, client_id="relay-test")
    try:
        now = dt.datetime.now(dt.UTC)
        async with pool.acquire() as conn, conn.transaction():
            for n in range(5):
                msg = Control(
                    id=f"c{n}", tenant="acme", action=ControlAction.RESYNC, requested_ts=now
                )
                assert await append(conn, msg.id, topic, "acme", msg)
            assert not await append(conn, "c0", topic, "acme", msg)  # same id: not queued twice
        relay = OutboxRelay(pool, producer)
        assert await relay.relay_once() == 5
        assert await relay.relay_once() == 0
    finally:
        await producer.stop()
        await pool.close()

    values = await read_topic(kafka_settings.bootstrap, topic, 5)
    assert [decode(Control, v).id for v in values] == [f"c{n}" for n in range(5)]


async def test_outbox_relays_of_several_replicas_publish_each_message_once_in_order(
    postgres_settings: PostgresSettings, kafka_settings: KafkaSettings
) -> None:
    """Every reconciler replica runs a relay over the one outbox: racing relays must neither
    publish a row twice nor let one key's messages overtake each other."""
    topic = unique_name("test.control")
    await ensure_topics(kafka_settings, [TopicSpec(topic)], partitions=1)
    pools = [await create_pool(postgres_settings) for _ in range(3)]
    producers = [await create_producer(kafka_settings, client_id=f"relay-{n}") for n in range(3)]
    total = 60
    try:
        now = dt.datetime.now(dt.UTC)
        async with pools[0].acquire() as conn, conn.transaction():
            for n in range(total):
                msg = Control(
                    id=f"m{n:03d}", tenant="acme", action=ControlAction.RESYNC, requested_ts=now
                )
                assert await append(conn, msg.id, topic, "acme", msg)
        relays = [
            OutboxRelay(pool, producer, batch_size=7)
            for pool, producer in zip(pools, producers, strict=True)
        ]
        left = """SELECT count(*) FROM outbox WHERE topic = $1 AND sent_at IS NULL"""
        while await pools[0].fetchval(left, topic):
            await asyncio.gather(*(relay.relay_once() for relay in relays))
        # While one relay holds the outbox the others skip their turn (and so publish nothing).
        async with pools[0].acquire() as conn, conn.transaction():
            assert await conn.fetchval(f"SELECT pg_try_advisory_xact_lock({RELAY_LOCK_ID})")
            assert await relays[1].relay_once() == 0
    finally:
        for producer in producers:
            await producer.stop()
        for pool in pools:
            await pool.close()

    # Nothing more arrives within a while: no row was published twice.
    values = await read_topic(kafka_settings.bootstrap, topic, total, quiet_ms=1_500)
    assert [decode(Control, v).id for v in values] == [f"m{n:03d}" for n in range(total)]


async def test_a_woken_relay_publishes_at_once_instead_of_after_its_idle_sleep(
    postgres_settings: PostgresSettings, kafka_settings: KafkaSettings
) -> None:
    """The reconciler wakes its relay when a batch that queued commands commits: the commands
    go out then, not when the relay's idle sleep ends (here a minute)."""
    topic = unique_name("test.control")
    await ensure_topics(kafka_settings, [TopicSpec(topic)], partitions=1)
    pool = await create_pool(postgres_settings)
    producer = await create_producer(kafka_settings, client_id="relay-wake")
    relay = OutboxRelay(pool, producer, idle_sleep_s=60.0)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    sent = "SELECT sent_at IS NOT NULL FROM outbox WHERE message_id = $1"
    try:
        while True:  # idle: a round found nothing left to publish
            before = relay.published
            await asyncio.sleep(0.3)
            if relay.published == before:
                break
        msg = Control(
            id=unique_name("w"),
            tenant="acme",
            action=ControlAction.RESYNC,
            requested_ts=dt.datetime.now(dt.UTC),
        )
        async with pool.acquire() as conn, conn.transaction():
            assert await append(conn, msg.id, topic, "acme", msg)
        await asyncio.sleep(0.5)
        assert not await pool.fetchval(sent, msg.id)  # asleep: nothing published yet
        relay.wake()
        async with asyncio.timeout(10):
            while not await pool.fetchval(sent, msg.id):  # noqa: ASYNC110
                await asyncio.sleep(0.02)
    finally:
        stop.set()
        relay.wake()
        await task
        await producer.stop()
        await pool.close()
    values = await read_topic(kafka_settings.bootstrap, topic, 1)
    assert [decode(Control, v).id for v in values] == [msg.id]


async def test_the_relay_prunes_messages_sent_before_the_retention_only(
    postgres_settings: PostgresSettings, kafka_settings: KafkaSettings
) -> None:
    """Sent over a week ago: deleted (in chunks). Sent recently, or never sent however old
    (held for back-off, or waiting for Kafka): kept."""
    topic = unique_name("test.prune")
    pool = await create_pool(postgres_settings)
    producer = await create_producer(kafka_settings, client_id="prune-test")
    days = dt.timedelta(days=1)
    try:
        now = dt.datetime.now(dt.UTC)
        async with pool.acquire() as conn, conn.transaction():
            for n in range(9):
                msg = Control(
                    id=f"{topic}-{n}", tenant="acme", action=ControlAction.RESYNC, requested_ts=now
                )
                assert await append(conn, msg.id, topic, "acme", msg)
            ages = {0: 30, 1: 9, 2: 8, 3: 8, 4: 7.5}  # sent that many days ago
            for n, age in ages.items():
                await conn.execute(
                    "UPDATE outbox SET sent_at = $1 WHERE message_id = $2",
                    now - age * days,
                    f"{topic}-{n}",
                )
            await conn.execute(
                "UPDATE outbox SET sent_at = $1 WHERE message_id = $2", now - days, f"{topic}-5"
            )
            await conn.execute(  # never sent, queued a month ago
                "UPDATE outbox SET created_at = $1, not_before = $1 WHERE message_id = $2",
                now - 30 * days,
                f"{topic}-6",
            )
        relay = OutboxRelay(pool, producer, retention=7 * days)
        assert await relay.prune(chunk=2, most=3) == 3  # a backlog goes in steps
        assert await relay.prune(chunk=2) == 2
        assert await relay.prune(chunk=2) == 0
        left = await pool.fetch("SELECT message_id FROM outbox WHERE topic = $1 ORDER BY id", topic)
        assert [r["message_id"] for r in left] == [f"{topic}-{n}" for n in (5, 6, 7, 8)]
    finally:
        await producer.stop()
        await pool.close()


async def test_a_joined_text_array_reads_back_as_the_same_values(
    postgres_settings: PostgresSettings,
) -> None:
    values = ["lnk_1", None, '{"a": "b\\u001e", "c": [1, 2]}', "2026-11-24T12:00:00+00:00", "é"]
    pool = await create_pool(postgres_settings)
    try:
        assert await pool.fetchval("SELECT syncline_split($1)", joined(values)) == values
        assert await pool.fetchval("SELECT syncline_split($1)", joined([])) == []
        stamp = await pool.fetchval(
            "SELECT (syncline_split($1)::timestamptz[])[1]", joined([values[3]])
        )
        assert stamp == dt.datetime(2026, 11, 24, 12, tzinfo=dt.UTC)
    finally:
        await pool.close()
