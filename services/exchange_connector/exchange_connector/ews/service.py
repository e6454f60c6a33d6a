"""The connector's running parts for the EWS connection method: capture polling per owned
mailbox (adaptive cadence) and command apply, with a `ConnectorStatus` whenever a mailbox's state
changes. It mirrors exchange_connector.service.Connector (same ownership, roster, cursors,
status and command topics) with the EWS capture pass, sink and folder lookup in place of Graph's.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaProducer
from syncmodel.kinds import Direction, Kind, Side
from syncmodel.messages import Command, ConnectorState, ConnectorStatus, RosterEntry, bus_key
from syncmodel.topics import CHANGES
from syncruntime.kafka import Consumed, publish

from exchange_connector.errors import ExchangeError
from exchange_connector.ews.capture import EwsMailboxCapture, ews_capture_pass
from exchange_connector.ews.client import EwsClient
from exchange_connector.ews.folders import ensure_sync_folder
from exchange_connector.ews.sink import EwsCommandSink
from exchange_connector.offsets import CreateAttempts, CursorStore
from exchange_connector.ownership import Ownership
from exchange_connector.service import _ERROR_STATES

log = logging.getLogger(__name__)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class EwsSchedule:
    capture: EwsMailboxCapture
    interval: float
    due: float = 0.0
    state: ConnectorState | None = None


@dataclass
class EwsConnector:
    tenant: str
    client: EwsClient
    producer: AIOKafkaProducer
    cursors: CursorStore
    ownership: Ownership
    poll_min_s: float = 15.0
    poll_max_s: float = 300.0
    max_parallel: int = 16
    now: Callable[[], dt.datetime] = _utc_now
    schedules: dict[str, EwsSchedule] = field(default_factory=dict)
    folders: dict[str, str] = field(default_factory=dict)
    sink: EwsCommandSink = field(init=False)

    def __post_init__(self) -> None:
        self.sink = EwsCommandSink(self.client, CreateAttempts(self.cursors.pool), now=self.now)

    def _schedule(self, entry: RosterEntry) -> EwsSchedule:
        key = bus_key(entry.tenant, entry.user)
        found = self.schedules.get(key)
        if found is None or found.capture.mailbox != entry.mailbox:
            assert entry.mailbox is not None
            capture = EwsMailboxCapture(
                tenant=entry.tenant,
                user=entry.user,
                mailbox=entry.mailbox,
                client=self.client,
                producer=self.producer,
                cursors=self.cursors,
                now=self.now,
            )
            found = self.schedules[key] = EwsSchedule(capture, self.poll_min_s)
        return found

    async def status(
        self,
        schedule: EwsSchedule,
        state: ConnectorState,
        detail: str | None = None,
        retry: float | None = None,
    ) -> None:
        if schedule.state is state and state is not ConnectorState.THROTTLED:
            return
        schedule.state = state
        capture = schedule.capture
        message = ConnectorStatus(
            tenant=capture.tenant,
            user=capture.user,
            side=Side.EXCHANGE,
            state=state,
            detail=detail,
            next_attempt_ts=self.now() + dt.timedelta(seconds=retry) if retry else None,
            last_capture=dict(capture.last_capture),
            ts=self.now(),
        )
        await publish(self.producer, CHANGES, capture.key, message)

    async def poll_mailbox(self, entry: RosterEntry) -> int:
        schedule = self._schedule(entry)
        capture = schedule.capture
        try:
            if capture.folder_id is None:
                capture.folder_id = await self.sync_folder(capture.mailbox)
            first = not capture.last_capture and all(
                [
                    await self.cursors.get(capture.tenant, capture.scope, k) is None
                    for k in (Kind.CONTACT, Kind.EVENT)
                ]
            )
            if first:
                await self.status(schedule, ConnectorState.INITIAL_SYNC_IN_PROGRESS)
            published = 0
            if entry.contacts is not Direction.NONE:
                published += await ews_capture_pass(capture, Kind.CONTACT)
            if entry.events is not Direction.NONE:
                published += await ews_capture_pass(capture, Kind.EVENT)
            if first:
                await self.status(schedule, ConnectorState.INITIAL_SYNC_COMPLETED)
            await self.status(schedule, ConnectorState.CONNECTED)
        except ExchangeError as exc:
            state = next((s for t, s in _ERROR_STATES if isinstance(exc, t)), ConnectorState.ERROR)
            log.warning(
                "EWS capture failed: %s",
                exc.code,
                extra={"tenant": capture.tenant, "user": capture.user},
            )
            await self.status(schedule, state, exc.code, exc.retry_after)
            schedule.interval = min(self.poll_max_s, schedule.interval * 2)
            schedule.due = time.monotonic() + max(exc.retry_after or 0, schedule.interval)
            return 0
        schedule.interval = (
            self.poll_min_s if published else min(self.poll_max_s, schedule.interval * 2)
        )
        schedule.due = time.monotonic() + schedule.interval
        return published

    def wake(self, key: str) -> None:
        schedule = self.schedules.get(key)
        if schedule is not None:
            schedule.due = 0.0
            schedule.interval = self.poll_min_s
            self.ownership.changed.set()

    def _due(self) -> list[RosterEntry]:
        for key in [k for k in self.schedules if not self.ownership.owns(k)]:
            del self.schedules[key]
        now = time.monotonic()
        return [
            e
            for e in self.ownership.mailboxes()
            if e.tenant == self.tenant and self._schedule(e).due <= now
        ]

    async def poll_due(self) -> int:
        gate = asyncio.Semaphore(self.max_parallel)

        async def one(entry: RosterEntry) -> int:
            async with gate:
                return await self.poll_mailbox(entry)

        return sum(await asyncio.gather(*(one(e) for e in self._due())))

    async def run_polling(self, stop: asyncio.Event) -> None:
        gate = asyncio.Semaphore(self.max_parallel)
        running: dict[str, asyncio.Task[int]] = {}

        async def one(entry: RosterEntry) -> int:
            async with gate:
                return await self.poll_mailbox(entry)

        def forget(key: str, _: asyncio.Task[int]) -> None:
            running.pop(key, None)

        try:
            while not stop.is_set():
                for entry in self._due():
                    key = bus_key(entry.tenant, entry.user)
                    if key not in running:
                        running[key] = asyncio.create_task(one(entry))
                        running[key].add_done_callback(functools.partial(forget, key))
                self.ownership.changed.clear()
                waiters = [
                    asyncio.ensure_future(stop.wait()),
                    asyncio.ensure_future(self.ownership.changed.wait()),
                ]
                await asyncio.wait(waiters, timeout=1.0, return_when=asyncio.FIRST_COMPLETED)
                for waiter in waiters:
                    waiter.cancel()
        finally:
            await asyncio.gather(*running.values(), return_exceptions=True)

    async def handle_commands(self, batch: list[Consumed[Command]]) -> None:
        """Apply a batch: users in parallel, each user's commands in order."""
        by_user: dict[str, list[Command]] = {}
        for consumed in batch:
            command = consumed.message
            by_user.setdefault(bus_key(command.tenant, command.user), []).append(command)

        async def in_order(commands: list[Command]) -> None:
            for command in commands:
                await self.apply(command)

        await asyncio.gather(*(in_order(cmds) for cmds in by_user.values()))

    async def apply(self, command: Command) -> None:
        if command.tenant != self.tenant:
            return
        key = bus_key(command.tenant, command.user)
        entry = self.ownership.roster.get(key)
        mailbox = command.mailbox or (entry.mailbox if entry else None)
        if mailbox is None:
            log.warning("command for a user without a mailbox", extra={"command_id": command.id})
            return
        try:
            folder_id = await self.sync_folder(mailbox)
        except ExchangeError as exc:
            outcome = self.sink.failed(command, exc)
        else:
            outcome = await self.sink.apply(command, mailbox, folder_id)
        await publish(self.producer, CHANGES, key, outcome)

    async def sync_folder(self, mailbox: str) -> str:
        folder_id = self.folders.get(mailbox)
        if folder_id is None:
            # Also the claim check (LS-101): never write into another tenant's mailbox.
            folder_id = await ensure_sync_folder(self.client, mailbox, self.tenant)
            self.folders[mailbox] = folder_id
        return folder_id

    def stats(self) -> dict[str, Any]:
        return {"calls": dict(self.client.calls), "throttled": dict(self.client.throttled)}
