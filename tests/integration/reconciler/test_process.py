"""Exactly-once effects under crashes: `syncline reconciler` as a real process on the real
broker and database, killed with SIGKILL mid-stream again and again while changes flow."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer
from reconcile import SyncSettings
from syncmodel import (
    Command,
    CommandAction,
    CommandOutcome,
    Contact,
    DeadLetter,
    Kind,
    OutcomeStatus,
    Side,
    bus_key,
    decode_changes,
)
from syncmodel.topics import CHANGES, COMMANDS_SALESFORCE, DLQ
from syncruntime.kafka import create_producer, publish
from syncruntime.postgres import create_pool
from syncruntime.settings import KafkaSettings, PostgresSettings

from bench.reconciler import workload
from tests.fixtures.infra import fresh_bus, read_topic, unique_name

REPO = Path(__file__).resolve().parents[3]
TENANT = "crashco"
USERS = [f"0050000000000{n:02d}AAA" for n in range(4)]
CONTACTS_PER_USER = 100
KILLS = 4


@pytest.fixture
async def bus(kafka_settings: KafkaSettings) -> KafkaSettings:
    await fresh_bus(kafka_settings.bootstrap)
    return kafka_settings


def _start(database_url: str, bootstrap: str, group: str) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "SYNCLINE_DATABASE_URL": database_url,
        "SYNCLINE_KAFKA_BOOTSTRAP": bootstrap,
        "SYNCLINE_RECONCILER_GROUP_ID": group,
        "SYNCLINE_RECONCILER_BATCH_SIZE": "37",
        "SYNCLINE_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "syncline_cli.main", "reconciler"],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


async def _seed(pool: asyncpg.Pool[Any]) -> None:
    await pool.execute("INSERT INTO tenants (id, name) VALUES ($1, 'Crash Co')", TENANT)
    await pool.execute(
        "INSERT INTO configurations (tenant_id, configuration_id, name, active, settings)"
        " VALUES ($1, 'c', 'All', true, $2)",
        TENANT,
        SyncSettings().model_dump(mode="json"),
    )
    await pool.execute(
        "INSERT INTO assignments (tenant_id, principal_type, principal_id, configuration_id)"
        " VALUES ($1, 'profile', 'p1', 'c')",
        TENANT,
    )


async def test_kill_9_mid_batch_applies_every_change_exactly_once(
    bus: KafkaSettings, database_url: str
) -> None:
    pool = await create_pool(PostgresSettings(SYNCLINE_DATABASE_URL=database_url))
    await _seed(pool)
    messages = workload(TENANT, USERS, CONTACTS_PER_USER, profile_id="p1")
    producer = await create_producer(bus, client_id="crash-test")
    group = unique_name("reconciler")
    rng = random.Random(7)
    proc = _start(database_url, bus.bootstrap, group)
    try:
        sent = 0
        for kill in range(KILLS):
            # Publish a slice while the reconciler runs, then kill it at a random moment.
            upto = len(messages) * (kill + 1) // (KILLS + 1)
            for user, message in messages[sent:upto]:
                await publish(producer, CHANGES, bus_key(TENANT, user), message)
            sent = upto
            await asyncio.sleep(rng.uniform(1.5, 4.0))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            proc = _start(database_url, bus.bootstrap, group)
        for user, message in messages[sent:]:
            await publish(producer, CHANGES, bus_key(TENANT, user), message)
        expected = len(USERS) * CONTACTS_PER_USER
        for _ in range(240):
            links = await pool.fetchval("SELECT count(*) FROM links")
            unsent = await pool.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
            if links == expected and unsent == 0:
                break
            await asyncio.sleep(0.5)
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
    finally:
        await producer.stop()
        proc.terminate()
        proc.wait(timeout=30)

    assert await pool.fetchval("SELECT count(*) FROM links") == expected
    commands = await pool.fetch(
        "SELECT message_id, payload FROM outbox WHERE topic = $1", COMMANDS_SALESFORCE
    )
    # One create per change: no change lost, none applied twice.
    assert len(commands) == expected
    assert len({r["payload"]["link_id"] for r in commands}) == expected
    assert {r["payload"]["action"] for r in commands} == {"create"}
    await pool.close()

    # Published at least once each; a crash between publish and "mark sent" may repeat a
    # message, which the stable command id makes harmless.
    consumer = AIOKafkaConsumer(
        COMMANDS_SALESFORCE,
        bootstrap_servers=bus.bootstrap,
        auto_offset_reset="earliest",
        group_id=unique_name("reader"),
    )
    await consumer.start()
    seen: set[str] = set()
    try:
        while len(seen) < expected:
            batch = await asyncio.wait_for(consumer.getmany(timeout_ms=1000), timeout=30)
            for records in batch.values():
                for record in records:
                    seen.add(str(json.loads(record.value)["id"]))
    finally:
        await consumer.stop()
    assert len(seen) == expected


async def test_a_command_a_connector_dead_lettered_comes_back_as_its_failed_outcome(
    bus: KafkaSettings, database_url: str
) -> None:
    """`syncline reconciler` reads syncline.dlq: a command a connector gave up on is reported
    on syncline.changes as failed, in its user's order, so the link does not wait for good."""
    now = dt.datetime.now(dt.UTC)
    command = Command(
        id="cmd_lost",
        tenant=TENANT,
        user=USERS[0],
        side=Side.SALESFORCE,
        kind=Kind.CONTACT,
        action=CommandAction.CREATE,
        link_id="lnk_lost",
        record=Contact(last_name="Lee"),
        issued_ts=now,
    )
    letter = DeadLetter(
        topic=COMMANDS_SALESFORCE,
        partition=0,
        offset=3,
        key=bus_key(TENANT, USERS[0]),
        value=command.to_json().decode(),
        error="handler failed 5 times: RuntimeError('boom')",
        consumer="syncline-salesforce-connector",
        ts=now,
    )
    producer = await create_producer(bus, client_id="dlq-test")
    try:
        await publish(producer, DLQ, bus_key(TENANT, USERS[0]), letter)
    finally:
        await producer.stop()
    proc = _start(database_url, bus.bootstrap, unique_name("reconciler"))
    try:
        [value] = await read_topic(bus.bootstrap, CHANGES, 1, quiet_ms=500)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    outcome = decode_changes(value)
    assert isinstance(outcome, CommandOutcome)
    assert (outcome.command_id, outcome.status) == ("cmd_lost", OutcomeStatus.FAILED)
    assert outcome.error is not None
    assert "gave up on this create" in outcome.error.message
