"""`syncline salesforce-connector`: per-org capture loop + command sink, one process per org.

Quota pauses are explicit: when the budget governor says stop, the connector publishes a tenant
status `quota_exhausted` with the time it resumes, sleeps until then (or until shutdown) and
carries on — no retry loop against a 403.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from pydantic import BaseModel
from syncmodel.codec import decode
from syncmodel.kinds import Side
from syncmodel.messages import Command, ConnectorState, ConnectorStatus, bus_key
from syncmodel.topics import CHANGES, COMMANDS_SALESFORCE
from syncruntime.kafka import Consumed, ConsumerLoop, create_producer, publish
from syncruntime.postgres import create_pool
from syncruntime.service import Health, run_service
from syncruntime.settings import KafkaSettings, PostgresSettings

from salesforce_connector.client import SalesforceClient
from salesforce_connector.errors import AuthFailed, QuotaExhausted, TransientError
from salesforce_connector.offsets import CursorStore
from salesforce_connector.settings import SalesforceSettings
from salesforce_connector.sink import CommandSink
from salesforce_connector.stream import Capture

log = logging.getLogger(__name__)
TENANT_WIDE = "-"


async def _sleep_until(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=max(0.0, seconds))


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
        self.capture = Capture(settings, client, cursors, self._publish)
        self.sink = CommandSink(settings, client)

    async def _publish(self, topic: str, key: str, message: BaseModel) -> None:
        await publish(self.producer, topic, key, message)

    async def status(
        self,
        state: ConnectorState,
        detail: str | None = None,
        next_attempt: dt.datetime | None = None,
    ) -> None:
        message = ConnectorStatus(
            tenant=self.settings.tenant,
            side=Side.SALESFORCE,
            state=state,
            detail=detail,
            next_attempt_ts=next_attempt,
            api_budget_used=self.client.governor.used_share,
            ts=dt.datetime.now(dt.UTC),
        )
        await self._publish(CHANGES, bus_key(self.settings.tenant, TENANT_WIDE), message)

    async def guarded(self, stop: asyncio.Event, step: Any) -> Any:
        """Run `step()`; on a quota pause report it, wait until resume, and try again."""
        while not stop.is_set():
            try:
                return await step()
            except QuotaExhausted as exc:
                await self.status(ConnectorState.QUOTA_EXHAUSTED, exc.reason, exc.resume_at)
                wait = (exc.resume_at - dt.datetime.now(dt.UTC)).total_seconds()
                await _sleep_until(stop, wait)
            except TransientError as exc:
                log.warning("transient Salesforce error; retrying", extra={"error": str(exc)})
                await _sleep_until(stop, 5.0)
        return None

    async def handle_commands(self, batch: list[Consumed[Command]], stop: asyncio.Event) -> None:
        tenant = self.settings.tenant  # one org per process: other tenants' commands aren't ours
        commands = [
            c.message
            for c in batch
            if c.message.side is Side.SALESFORCE and c.message.tenant == tenant
        ]
        if not commands:
            return
        outcomes = await self.guarded(stop, lambda: self.sink.apply(commands))
        if outcomes is None:
            raise RuntimeError("stopped before the batch was applied")  # redelivered later
        for outcome in outcomes:
            await self._publish(CHANGES, bus_key(outcome.tenant, outcome.user), outcome)

    async def capture_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.guarded(stop, self.capture.poll_once)
            except AuthFailed as exc:
                await self.status(ConnectorState.TOKEN_FAILURE, exc.description)
                await _sleep_until(stop, self.settings.poll_interval_s * 5)
                continue
            await _sleep_until(stop, self.settings.poll_interval_s)

    async def run(self, stop: asyncio.Event) -> None:
        loop: ConsumerLoop[Command] = ConsumerLoop(
            self.kafka,
            topics=[COMMANDS_SALESFORCE],
            group_id=self.settings.consumer_group,
            handler=lambda batch: self.handle_commands(batch, stop),
            decoder=lambda raw: decode(Command, raw),
        )
        await asyncio.gather(self.capture_loop(stop), loop.run(stop))


async def _run(stop: asyncio.Event, health: Health) -> None:
    settings, kafka = SalesforceSettings(), KafkaSettings()
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
