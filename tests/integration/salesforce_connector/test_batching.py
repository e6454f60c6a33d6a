"""Commands of many reps over many partitions go out in full sObject Collections calls (issue 5
"group commands into sObject Collections calls (≤ 200 records) within a short batching
window"): real broker (private topics of 12 partitions), the simulator over real HTTPS, calls
counted per endpoint as they leave the client and by the simulator's API usage."""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from salesforce_connector.client import SalesforceClient, ssl_context
from salesforce_connector.main import Connector
from salesforce_connector.offsets import CursorStore
from salesforce_connector.settings import SalesforceSettings
from salesforce_connector.window import BatchWindow, Stopped
from syncmodel.codec import decode_changes
from syncmodel.kinds import Kind, Side
from syncmodel.messages import (
    Command,
    CommandAction,
    CommandOutcome,
    ConnectorState,
    ConnectorStatus,
    OutcomeStatus,
    bus_key,
)
from syncmodel.records import Contact
from syncruntime.kafka import create_producer, publish_many
from syncruntime.kafka.topics import TopicSpec, ensure_topics
from syncruntime.settings import KafkaSettings

from tests.integration.salesforce_connector.conftest import Sim

pytestmark = pytest.mark.integration
UPSERT = ("PATCH", "/composite/sobjects/Contact/Syncline_Id__c")
QUERY = ("GET", "/query")


@dataclass
class Calls:
    """Every Salesforce REST request the connector sends, by (method, endpoint)."""

    seen: Counter[tuple[str, str]] = field(default_factory=Counter)

    async def hook(self, request: httpx.Request) -> None:
        path = request.url.path
        if "/services/data/" in path:  # not the token endpoint (not an API call)
            endpoint = "/" + path.split("/", 4)[4]  # after /services/data/vNN.N
            self.seen[(request.method, endpoint)] += 1

    def total(self) -> int:
        return sum(self.seen.values())


@dataclass
class Bus:
    """Private command and outcome topics on the real broker, so that only our messages count."""

    kafka: KafkaSettings
    commands: str
    changes: str
    received: list[CommandOutcome | ConnectorStatus] = field(default_factory=list)


@pytest.fixture
async def bus(kafka_settings: KafkaSettings) -> AsyncIterator[Bus]:
    suffix = uuid.uuid4().hex[:8]
    handle = Bus(kafka_settings, f"test.sf-commands.{suffix}", f"test.sf-changes.{suffix}")
    await ensure_topics(
        kafka_settings, [TopicSpec(handle.commands), TopicSpec(handle.changes)], partitions=12
    )
    yield handle
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_settings.bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([handle.commands, handle.changes])
    finally:
        await admin.close()


@pytest.fixture
async def counted(sf_settings: SalesforceSettings) -> AsyncIterator[tuple[SalesforceClient, Calls]]:
    calls = Calls()
    http = httpx.AsyncClient(
        verify=ssl_context(sf_settings),
        timeout=sf_settings.timeout_s,
        event_hooks={"request": [calls.hook]},
    )
    client = SalesforceClient(sf_settings, http)
    yield client, calls
    await client.aclose()


def _creates(sim: Sim, tenant: str, n: int, **fields: str) -> list[Command]:
    reps = [r["id"] for r in sim.seeded["reps"]]
    return [
        Command(
            id=f"cmd-{i}-{uuid.uuid4().hex}",
            tenant=tenant,
            user=reps[i % len(reps)],
            side=Side.SALESFORCE,
            kind=Kind.CONTACT,
            action=CommandAction.CREATE,
            link_id=f"link-{i}-{uuid.uuid4().hex}",
            record=Contact(first_name="Batch", last_name=f"Contact {i}", **fields),
            issued_ts=dt.datetime.now(dt.UTC),
        )
        for i in range(n)
    ]


async def _send(bus: Bus, commands: list[Command]) -> None:
    producer = await create_producer(bus.kafka, client_id="sf-batching-test")
    try:
        await publish_many(
            producer, [(bus.commands, bus_key(c.tenant, c.user), c) for c in commands]
        )
    finally:
        await producer.stop()


async def _run_until_outcomes(
    connector: Connector, bus: Bus, wanted: set[str], timeout_s: float = 60.0
) -> None:
    """Run the command loop until every wanted command has an outcome on the bus."""
    stop = asyncio.Event()
    task = asyncio.create_task(connector.command_loop(stop).run(stop))
    reader = AIOKafkaConsumer(
        bus.changes, bootstrap_servers=bus.kafka.bootstrap, auto_offset_reset="earliest"
    )
    await reader.start()
    try:
        async with asyncio.timeout(timeout_s):
            while not wanted <= {
                m.command_id for m in bus.received if isinstance(m, CommandOutcome)
            }:
                for records in (await reader.getmany(timeout_ms=200)).values():
                    for record in records:
                        message = decode_changes(record.value)
                        assert isinstance(message, CommandOutcome | ConnectorStatus)
                        if isinstance(message, CommandOutcome):  # keyed like its command
                            assert record.key == bus_key(message.tenant, message.user).encode()
                        bus.received.append(message)
    finally:
        stop.set()
        await reader.stop()
        await asyncio.wait_for(task, timeout=30)


def _connector(
    settings: SalesforceSettings,
    bus: Bus,
    client: SalesforceClient,
    cursors: CursorStore,
    producer: AIOKafkaProducer,
    group: str,
) -> Connector:
    settings = settings.model_copy(
        update={
            "consumer_group": group,
            "commands_topic": bus.commands,
            "changes_topic": bus.changes,
        }
    )
    return Connector(settings, bus.kafka, client, producer, cursors)


async def test_600_creates_of_30_reps_over_12_partitions_take_3_collection_calls(
    sim: Sim,
    sf_settings: SalesforceSettings,
    counted: tuple[SalesforceClient, Calls],
    cursors: CursorStore,
    bus: Bus,
) -> None:
    sim.seed(reps=30)
    client, calls = counted
    commands = _creates(sim, sf_settings.tenant, 600)
    assert len({bus_key(c.tenant, c.user) for c in commands}) == 30
    await _send(bus, commands)
    producer = await create_producer(bus.kafka, client_id="sf-batching-connector")
    connector = _connector(sf_settings, bus, client, cursors, producer, f"g-{uuid.uuid4().hex}")
    before = sim.used()
    try:
        await _run_until_outcomes(connector, bus, {c.id for c in commands})
    finally:
        await producer.stop()
    # 600 / 200 = 3 upserts, and the versions read back in one query per 200 ids.
    expected = math.ceil(600 / 200)
    assert calls.seen == {UPSERT: expected, QUERY: expected}, calls.seen
    assert sim.used() - before == calls.total() == 2 * expected
    assert connector.window.flushes == 1
    print(f"\n600 creates, 30 reps, 12 partitions: {calls.total()} API calls {dict(calls.seen)}")

    outcomes = {o.command_id: o for o in bus.received if isinstance(o, CommandOutcome)}
    assert len(outcomes) == 600  # each exactly once
    assert all(o.status is OutcomeStatus.APPLIED and o.version for o in outcomes.values())
    rows = {r["Syncline_Id__c"]: r for r in sim.live("Contact") if r["Syncline_Id__c"]}
    for command in commands:
        outcome = outcomes[command.id]
        assert outcome.link_id == command.link_id
        assert rows[command.link_id]["Id"] == outcome.record_id
        assert rows[command.link_id]["OwnerId"] == command.user
    # Per key (one rep), outcomes come in the order of their commands.
    for rep in {c.user for c in commands}:
        sent = [c.id for c in commands if c.user == rep]
        got = [o.command_id for o in bus.received if isinstance(o, CommandOutcome)]
        assert [i for i in got if i in set(sent)] == sent


async def test_act_as_rep_merges_partitions_but_writes_each_rep_in_their_own_session(
    sim: Sim,
    sf_settings: SalesforceSettings,
    counted: tuple[SalesforceClient, Calls],
    cursors: CursorStore,
    bus: Bus,
) -> None:
    """LS-13: one merged batch, one upsert per rep (their session), one User look-up and one
    read-back for all of them."""
    sim.seed(reps=12)
    client, calls = counted
    commands = _creates(sim, sf_settings.tenant, 60)
    await _send(bus, commands)
    producer = await create_producer(bus.kafka, client_id="sf-batching-connector")
    settings = sf_settings.model_copy(update={"act_as_rep": True})
    connector = _connector(settings, bus, client, cursors, producer, f"g-{uuid.uuid4().hex}")
    try:
        await _run_until_outcomes(connector, bus, {c.id for c in commands})
    finally:
        await producer.stop()
    assert calls.seen == {UPSERT: 12, QUERY: 2}, calls.seen
    outcomes = {o.command_id: o for o in bus.received if isinstance(o, CommandOutcome)}
    rows = {r["Id"]: r for r in sim.live("Contact")}
    for command in commands:
        outcome = outcomes[command.id]
        assert outcome.status is OutcomeStatus.APPLIED
        assert outcome.record_id is not None
        assert rows[outcome.record_id]["CreatedById"] == command.user


async def test_a_bad_record_in_a_merged_batch_fails_alone(
    sim: Sim,
    sf_settings: SalesforceSettings,
    counted: tuple[SalesforceClient, Calls],
    cursors: CursorStore,
    bus: Bus,
) -> None:
    sim.seed(reps=12)
    client, calls = counted
    commands = _creates(sim, sf_settings.tenant, 120)
    bad = {5, 64, 119}
    for i in bad:
        record = commands[i].record
        assert isinstance(record, Contact)
        commands[i] = commands[i].model_copy(
            update={"record": record.model_copy(update={"last_name": "x" * 81})}
        )
    await _send(bus, commands)
    producer = await create_producer(bus.kafka, client_id="sf-batching-connector")
    connector = _connector(sf_settings, bus, client, cursors, producer, f"g-{uuid.uuid4().hex}")
    try:
        await _run_until_outcomes(connector, bus, {c.id for c in commands})
    finally:
        await producer.stop()
    assert calls.seen == {UPSERT: 1, QUERY: 1}, calls.seen
    outcomes = {o.command_id: o for o in bus.received if isinstance(o, CommandOutcome)}
    for i, command in enumerate(commands):
        outcome = outcomes[command.id]
        if i in bad:
            assert outcome.status is OutcomeStatus.FAILED
            assert outcome.error is not None
            assert outcome.error.code == "STRING_TOO_LONG"
            assert outcome.user == command.user
        else:
            assert outcome.status is OutcomeStatus.APPLIED
    assert len([r for r in sim.live("Contact") if r["Syncline_Id__c"]]) == 117


async def test_a_window_stopped_by_an_exhausted_quota_loses_nothing(
    sim: Sim,
    sf_settings: SalesforceSettings,
    counted: tuple[SalesforceClient, Calls],
    cursors: CursorStore,
    bus: Bus,
) -> None:
    """The org runs dry after the first collection call of a merged batch: every partition
    waits in the quota pause; stopped there, nothing is committed, and the next run applies the
    whole batch once (upserts by the marker never duplicate) and publishes every outcome."""
    sim.seed(reps=30)
    client, calls = counted
    client.governor.share = 1.0  # only the org's own 403 stops us
    commands = _creates(sim, sf_settings.tenant, 500)
    await _send(bus, commands)
    group = f"g-{uuid.uuid4().hex}"
    producer = await create_producer(bus.kafka, client_id="sf-batching-connector")
    try:
        sim.quota(allocation=1000, used=999)  # one call left: the first upsert
        first = _connector(sf_settings, bus, client, cursors, producer, group)
        paused = asyncio.Event()

        async def status(state: ConnectorState, *_: object, **__: object) -> None:
            assert state is ConnectorState.QUOTA_EXHAUSTED
            paused.set()

        first.status = status  # type: ignore[method-assign]
        stop = asyncio.Event()
        task = asyncio.create_task(first.command_loop(stop).run(stop))
        await asyncio.wait_for(paused.wait(), timeout=30)
        stop.set()
        await asyncio.wait_for(task, timeout=30)
        assert calls.seen[UPSERT] >= 1
        assert len([r for r in sim.live("Contact") if r["Syncline_Id__c"]]) == 200

        sim.quota(allocation=100_000, used=0)
        await asyncio.sleep(sf_settings.quota_pause_s)
        second = _connector(sf_settings, bus, client, cursors, producer, group)
        await _run_until_outcomes(second, bus, {c.id for c in commands})
    finally:
        await producer.stop()
    outcomes = {o.command_id: o for o in bus.received if isinstance(o, CommandOutcome)}
    assert len(outcomes) == 500
    assert all(o.status is OutcomeStatus.APPLIED for o in outcomes.values())
    rows = [r for r in sim.live("Contact") if r["Syncline_Id__c"]]
    assert len(rows) == 500
    assert {r["Syncline_Id__c"] for r in rows} == {c.link_id for c in commands}


async def test_window_isolates_a_failing_caller_and_stop_reaches_everyone() -> None:
    """The window's own rules: a merged call that raises is retried per caller, so only the
    caller whose items fail gets the error; `Stopped` goes to every caller unretried."""
    merged: list[list[int]] = []

    async def apply(items: list[int]) -> list[int]:
        merged.append(items)
        if -1 in items:
            raise ValueError("poisoned")
        return [i * 10 for i in items]

    window: BatchWindow[int, int] = BatchWindow(apply, window_s=0.02, max_size=1000)
    results = await asyncio.gather(
        window.submit([1, 2]), window.submit([3, -1]), window.submit([4]), return_exceptions=True
    )
    assert results[0] == [10, 20]
    assert isinstance(results[1], ValueError)
    assert results[2] == [40]
    assert merged == [[1, 2, 3, -1, 4], [1, 2], [3, -1], [4]]

    async def stopped(items: list[int]) -> list[int]:
        raise Stopped("stopped before the batch was applied")

    window = BatchWindow(stopped, window_s=0.02, max_size=1000)
    both = await asyncio.gather(window.submit([1]), window.submit([2]), return_exceptions=True)
    assert all(isinstance(r, Stopped) for r in both)

    full: BatchWindow[int, int] = BatchWindow(apply, window_s=60, max_size=3)
    merged.clear()
    one, two = await asyncio.wait_for(
        asyncio.gather(full.submit([1]), full.submit([2, 3])), timeout=5
    )  # flushed when full, not after the 60 s window
    assert (one, two) == ([10], [20, 30])
    assert merged == [[1, 2, 3]]
