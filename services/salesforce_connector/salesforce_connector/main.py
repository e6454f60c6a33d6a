"""`syncline salesforce-connector`: per-org capture loop + command sink, one process per org.

Four tasks: the roster follower (`roster`), the control consumer (`control`), the capture loop
(org poll, then per-user baselines and barrier statuses, `baseline`) and the command loop.
The capture loop starts once the roster has been read to its end, and wakes early when the
roster changes or a control message asks for a reset.

Statuses go to `syncline.changes`: per user (`initial_sync_*`, keyed `tenant/user`) and
tenant-wide (user None, keyed `tenant/_tenant`): `connected` after the first good cycle and
after every recovery, `token_failure`, `throttled` and `quota_exhausted` with the time of the
next attempt. Quota pauses are explicit: the connector sleeps until then (or until shutdown) and
carries on — no retry loop against a 403.

Commands: the consumer loop hands over each partition's batch concurrently; a `BatchWindow`
merges them so that one `CommandSink.apply` serves the whole poll (≤ `batch_max` commands,
sObject Collections calls of 200, issue 5), and each partition publishes its own outcomes in one
round trip (`publish_many`) before its offsets are committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from aiokafka import AIOKafkaProducer
from pydantic import BaseModel
from syncmodel.codec import decode
from syncmodel.kinds import Side
from syncmodel.messages import Command, CommandOutcome, ConnectorState, Control, bus_key
from syncruntime.kafka import (
    Consumed,
    ConsumerLoop,
    create_producer,
    ensure_topics,
    publish,
    publish_many,
)
from syncruntime.postgres import create_pool
from syncruntime.service import Health, run_service
from syncruntime.settings import KafkaSettings, PostgresSettings

from salesforce_connector.baseline import Baselines, status_message
from salesforce_connector.client import SalesforceClient
from salesforce_connector.control import ControlHandler
from salesforce_connector.errors import AuthFailed, QuotaExhausted, TransientError
from salesforce_connector.offsets import BaselineStore, CursorStore
from salesforce_connector.roster import Roster
from salesforce_connector.settings import SalesforceSettings
from salesforce_connector.sink import CommandSink
from salesforce_connector.stream import Capture
from salesforce_connector.window import BatchWindow, Stopped

log = logging.getLogger(__name__)
T = TypeVar("T")
THROTTLE_BACKOFF_S = 5.0


async def _sleep_until(
    stop: asyncio.Event, seconds: float, wake: asyncio.Event | None = None
) -> None:
    """Sleep `seconds`, or less if `stop` (or `wake`, which is then cleared) is set."""
    waiters = [asyncio.ensure_future(stop.wait())]
    if wake is not None:
        waiters.append(asyncio.ensure_future(wake.wait()))
    try:
        await asyncio.wait(waiters, timeout=max(0.0, seconds), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await waiter
    if wake is not None:
        wake.clear()


class Connector:
    """Wires capture and apply for one org; `run(stop)` until the stop event is set."""

    def __init__(
        self,
        settings: SalesforceSettings,
        kafka: KafkaSettings,
        client: SalesforceClient,
        producer: AIOKafkaProducer,
        cursors: CursorStore,
    ) -> None:
        self.settings = settings
        self.kafka = kafka
        self.client = client
        self.producer = producer
        self.wake = asyncio.Event()  # set by a roster change or a control request
        self.roster = Roster(settings.tenant, changed=self.wake)
        self.capture = Capture(
            settings,
            client,
            cursors,
            self._forward,
            audience=self.roster.audience,
            publish_batch=self._forward_many,
        )
        self.baselines = Baselines(self.capture, BaselineStore(cursors.pool, settings.tenant))
        self.control = ControlHandler(self.baselines.store, self.roster, self.wake)
        self.sink = CommandSink(settings, client)
        self.stop = asyncio.Event()  # the run's stop event once `run` has started
        self.window: BatchWindow[Command, CommandOutcome] = BatchWindow(
            self._apply, window_s=settings.batch_window_s, max_size=settings.batch_max
        )
        self.state: ConnectorState | None = None
        self.cycles = 0

    async def _forward(self, topic: str, key: str, message: BaseModel) -> None:
        await self._publish(topic, key, message)

    async def _forward_many(self, items: list[tuple[str, str, BaseModel]]) -> None:
        await self._publish_many(items)

    async def _publish(self, topic: str, key: str, message: BaseModel) -> None:
        await publish(self.producer, topic, key, message)

    async def _publish_many(self, items: list[tuple[str, str, BaseModel]]) -> None:
        await publish_many(self.producer, items)

    async def status(
        self,
        state: ConnectorState,
        detail: str | None = None,
        next_attempt: dt.datetime | None = None,
    ) -> None:
        """A tenant-wide status (user None, keyed `tenant/_tenant`)."""
        key, message = status_message(
            self.settings.tenant,
            state,
            detail=detail,
            next_attempt=next_attempt,
            api_budget_used=self.client.governor.used_share,
        )
        await self._publish(self.settings.changes_topic, key, message)
        self.state = state  # after the ack: the state is what the reconciler has been told

    async def guarded(self, stop: asyncio.Event, step: Callable[[], Awaitable[T]]) -> T | None:
        """Run `step()`; on a quota pause or a transient failure report it, wait until the
        announced time, and try again. None means "stopped before it succeeded"."""
        while not stop.is_set():
            try:
                return await step()
            except QuotaExhausted as exc:
                await self.status(ConnectorState.QUOTA_EXHAUSTED, exc.reason, exc.resume_at)
                wait = (exc.resume_at - dt.datetime.now(dt.UTC)).total_seconds()
                await _sleep_until(stop, wait)
            except TransientError as exc:
                log.warning("transient Salesforce error; retrying", extra={"error": str(exc)})
                resume = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=THROTTLE_BACKOFF_S)
                await self.status(ConnectorState.THROTTLED, str(exc)[:200], resume)
                await _sleep_until(stop, THROTTLE_BACKOFF_S)
        return None

    async def _apply(self, commands: list[Command]) -> list[CommandOutcome]:
        """One merged batch of the window; quota pauses and throttling wait here (`guarded`),
        so every partition in the batch waits with it."""
        outcomes = await self.guarded(self.stop, lambda: self.sink.apply(commands))
        if outcomes is None:
            raise Stopped("stopped before the batch was applied")  # redelivered later
        return outcomes

    async def handle_commands(self, batch: list[Consumed[Command]]) -> None:
        """One partition's batch: applied together with the other partitions' (the window),
        then its outcomes published, in order, before the loop commits its offsets."""
        tenant = self.settings.tenant  # one org per process: other tenants' commands aren't ours
        commands = [
            c.message
            for c in batch
            if c.message.side is Side.SALESFORCE and c.message.tenant == tenant
        ]
        if not commands:
            return
        outcomes = await self.window.submit(commands)
        topic = self.settings.changes_topic
        await self._publish_many([(topic, bus_key(o.tenant, o.user), o) for o in outcomes])

    def command_loop(self, stop: asyncio.Event) -> ConsumerLoop[Command]:
        """The loop consuming our commands topic; `stop` also ends quota pauses of its batches."""
        self.stop = stop
        return ConsumerLoop(
            self.kafka,
            topics=[self.settings.commands_topic],
            group_id=self.settings.consumer_group,
            handler=self.handle_commands,
            decoder=lambda raw: decode(Command, raw),
            max_records=self.settings.batch_max,  # a poll is what one window can merge
        )

    async def cycle(self) -> int:
        """One capture cycle: the org poll, then per-user baselines and barrier statuses.

        Once the watermarks exist, due baselines run first too: a newly rostered user's records
        are then published once, as their snapshot, instead of also as overlap-window changes.
        """
        if self.cycles:
            await self.baselines.run(self.roster.audience())
        published = await self.capture.poll_once()
        await self.baselines.run(self.roster.audience())
        self.cycles += 1
        return published

    async def capture_loop(self, stop: asyncio.Event) -> None:
        # Never capture before the roster is known: "not read yet" is not "nobody syncs".
        while not self.roster.ready.is_set() and not stop.is_set():
            await _sleep_until(stop, 0.2)
        while not stop.is_set():
            self.wake.clear()
            started = time.monotonic()
            try:
                done = await self.guarded(stop, self.cycle)
            except AuthFailed as exc:
                await self.status(ConnectorState.TOKEN_FAILURE, exc.description)
                await _sleep_until(stop, self.settings.poll_interval_s * 5)
                continue
            if done is not None and self.state is not ConnectorState.CONNECTED:
                await self.status(ConnectorState.CONNECTED)
            # Start to start: the org is read every poll interval, however long a cycle took;
            # after a cycle longer than that, a tenth of the interval's rest all the same.
            interval = self.settings.poll_interval_s
            rest = max(interval - (time.monotonic() - started), interval / 10)
            await _sleep_until(stop, rest, self.wake)

    async def run(self, stop: asyncio.Event) -> None:
        commands = self.command_loop(stop)
        controls: ConsumerLoop[Control] = ConsumerLoop(
            self.kafka,
            topics=[self.settings.control_topic],
            group_id=f"{self.settings.consumer_group}-control",
            handler=self.control,
            decoder=lambda raw: decode(Control, raw),
        )
        await asyncio.gather(
            self.roster.follow(self.kafka, self.settings.roster_topic, stop),
            self.capture_loop(stop),
            commands.run(stop),
            controls.run(stop),
        )


async def _run(stop: asyncio.Event, health: Health) -> None:
    settings, kafka = SalesforceSettings(), KafkaSettings()
    await ensure_topics(kafka)
    pool = await create_pool(PostgresSettings())
    producer = await create_producer(kafka, client_id=f"salesforce-connector-{settings.tenant}")
    client = SalesforceClient(settings)
    health.set("kafka", True)
    health.set("postgres", True)
    try:
        connector = Connector(settings, kafka, client, producer, CursorStore(pool, settings.tenant))
        await connector.run(stop)
    finally:
        await client.aclose()
        await producer.stop()
        await pool.close()


def main(argv: Sequence[str]) -> int:
    if list(argv) and argv[0] in ("-h", "--help"):
        print("syncline salesforce-connector  (settings: SYNCLINE_SALESFORCE_* environment)")
        return 0
    return run_service("salesforce-connector", _run)
