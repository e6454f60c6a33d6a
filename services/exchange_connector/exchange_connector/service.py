"""The connector's running parts for one process: capture polling per owned mailbox (adaptive
cadence) and the command consumer, with a `ConnectorStatus` published whenever a mailbox's
state changes (connected, initial sync, throttled, access denied, ...).

`MailboxConnector` holds all of it for any transport; a transport (Graph here as `Connector`,
EWS in ews/service.py) supplies its mailbox capture, capture pass, command sink and sync folder."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from aiokafka import AIOKafkaProducer
from syncmodel.codec import decode
from syncmodel.kinds import Direction, Kind, Side
from syncmodel.messages import Command, ConnectorState, ConnectorStatus, RosterEntry, bus_key
from syncmodel.topics import CHANGES, COMMANDS_EXCHANGE
from syncruntime.kafka import Consumed, ConsumerLoop, publish
from syncruntime.settings import KafkaSettings

from exchange_connector.capture import capture_pass
from exchange_connector.client import GraphClient
from exchange_connector.errors import (
    AccessDenied,
    AuthenticationFailed,
    ClaimedByOtherTenant,
    ExchangeError,
    MailboxNotFound,
    Throttled,
)
from exchange_connector.folders import ensure_sync_folder, release_claim
from exchange_connector.notifications import Subscriptions
from exchange_connector.offsets import CreateAttempts, CursorStore
from exchange_connector.ownership import Ownership
from exchange_connector.sink import CommandSink, GraphCommandSink
from exchange_connector.stream import MailboxCapture
from exchange_connector.transport import ClientT, MailboxStream, utc_now

log = logging.getLogger(__name__)
WRITES_PER_MAILBOX = 3
SHUTDOWN_GRACE_S = 10.0
"""How long a stopping connector waits for mailbox passes in flight."""
"""Records written at once into one mailbox (Graph: 4 concurrent requests per app + mailbox)."""
CaptureT = TypeVar("CaptureT", bound=MailboxStream[Any])

_ERROR_STATES: list[tuple[type[ExchangeError], ConnectorState]] = [
    (AuthenticationFailed, ConnectorState.TOKEN_FAILURE),
    (AccessDenied, ConnectorState.ACCESS_DENIED),
    (MailboxNotFound, ConnectorState.MAILBOX_NOT_FOUND),
    (ClaimedByOtherTenant, ConnectorState.CLAIMED_BY_OTHER_TENANT),
    (Throttled, ConnectorState.THROTTLED),
]


def _forget(running: dict[str, asyncio.Task[int]], key: str, _: asyncio.Task[int]) -> None:
    running.pop(key, None)


def command_decoder(raw: bytes | None) -> Command:
    return decode(Command, raw)


def command_consumer(
    kafka: KafkaSettings,
    group_id: str,
    handler: Callable[[list[Consumed[Command]]], Awaitable[None]],
    ownership: Ownership,
) -> ConsumerLoop[Command]:
    """`syncline.commands.exchange` in the connector's group; partition moves update ownership
    (which mailboxes this replica captures)."""
    return ConsumerLoop(
        kafka,
        topics=[COMMANDS_EXCHANGE],
        group_id=group_id,
        handler=handler,
        decoder=command_decoder,
        on_assigned=ownership.assigned,
        on_revoked=ownership.revoked,
    )


@dataclass
class MailboxSchedule(Generic[CaptureT]):
    capture: CaptureT
    interval: float
    due: float = 0.0
    state: ConnectorState | None = None


@dataclass
class MailboxConnector(ABC, Generic[ClientT, CaptureT]):
    """Scheduling, status and command apply for one tenant's owned mailboxes, any transport."""

    tenant: str
    client: ClientT
    producer: AIOKafkaProducer
    cursors: CursorStore
    ownership: Ownership
    poll_min_s: float = 15.0
    poll_max_s: float = 300.0
    max_parallel: int = 32
    now: Callable[[], dt.datetime] = utc_now
    schedules: dict[str, MailboxSchedule[CaptureT]] = field(default_factory=dict)
    subscriptions: Subscriptions | None = None
    folders: dict[str, str] = field(default_factory=dict)
    """Mailbox -> its claimed Salesforce_Sync folder id."""
    _folder_locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    sink: CommandSink[ClientT] = field(init=False)
    label: ClassVar[str] = "capture"
    """How log lines name a failed capture pass."""

    # --- what a transport supplies ------------------------------------------------------------

    @abstractmethod
    def new_capture(self, entry: RosterEntry, mailbox: str) -> CaptureT:
        """Capture state for a rostered mailbox."""

    @abstractmethod
    async def capture_pass(self, capture: CaptureT, kind: Kind) -> int:
        """One pass for a mailbox and kind; returns how many change events it published."""

    @abstractmethod
    async def ensure_sync_folder(self, mailbox: str) -> str:
        """Find or create (and claim, LS-101) the mailbox's Salesforce_Sync folder."""

    @abstractmethod
    async def release_claim(self, mailbox: str) -> None:
        """Clear the mailbox claim on its Salesforce_Sync folder (LS-103)."""

    def cursor_scope(self, user: str) -> str:
        """The `user` column of a rep's rows in the `cursors` table."""
        return user

    # --- scheduling ---------------------------------------------------------------------------

    def _schedule(self, entry: RosterEntry) -> MailboxSchedule[CaptureT]:
        key = bus_key(entry.tenant, entry.user)
        found = self.schedules.get(key)
        if found is None or found.capture.mailbox != entry.mailbox:
            assert entry.mailbox is not None
            capture = self.new_capture(entry, entry.mailbox)
            found = self.schedules[key] = MailboxSchedule(capture, self.poll_min_s)
        return found

    async def status(
        self,
        schedule: MailboxSchedule[CaptureT],
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
        """One capture pass over the kinds this rep syncs; returns change events published."""
        schedule = self._schedule(entry)
        capture = schedule.capture
        started = time.monotonic()
        try:
            if capture.folder_id is None:
                capture.folder_id = await self.sync_folder(capture.mailbox)
            first = not capture.last_capture and await self._never_captured(capture)
            if first:
                await self.status(schedule, ConnectorState.INITIAL_SYNC_IN_PROGRESS)
            published = 0
            if entry.contacts is not Direction.NONE:
                published += await self.capture_pass(capture, Kind.CONTACT)
            if entry.events is not Direction.NONE:
                published += await self.capture_pass(capture, Kind.EVENT)
            if first:
                await self.status(schedule, ConnectorState.INITIAL_SYNC_COMPLETED)
            await self.status(schedule, ConnectorState.CONNECTED)
            if self.subscriptions is not None:
                await self.subscriptions.ensure(capture.key, capture.mailbox, capture.folder_id)
        except ExchangeError as exc:
            state = next((s for t, s in _ERROR_STATES if isinstance(exc, t)), ConnectorState.ERROR)
            log.warning(
                "%s failed: %s",
                self.label,
                exc.code,
                extra={"tenant": capture.tenant, "user": capture.user},
            )
            await self.status(schedule, state, exc.code, exc.retry_after)
            # Back off while failing: a broken mailbox must not cost a request every few seconds.
            schedule.interval = min(self.poll_max_s, schedule.interval * 2)
            schedule.due = time.monotonic() + max(exc.retry_after or 0, schedule.interval)
            return 0
        # Adaptive cadence: fast while the mailbox is active, backing off while idle.
        schedule.interval = (
            self.poll_min_s if published else min(self.poll_max_s, schedule.interval * 2)
        )
        # Start to start: the interval is how often the mailbox is read, however long a pass took.
        schedule.due = started + schedule.interval
        return published

    async def _never_captured(self, capture: CaptureT) -> bool:
        for kind in (Kind.CONTACT, Kind.EVENT):
            if await self.cursors.get(capture.tenant, capture.scope, kind) is not None:
                return False
        return True

    def wake(self, key: str) -> None:
        """A change notification arrived: capture this mailbox now."""
        schedule = self.schedules.get(key)
        if schedule is not None:
            schedule.due = 0.0
            schedule.interval = self.poll_min_s
            self.ownership.changed.set()

    async def release_unowned(self) -> None:
        """Forget mailboxes whose partitions moved to another replica (it takes them over)."""
        for key in [k for k in self.schedules if not self.ownership.owns(k)]:
            del self.schedules[key]
            if self.subscriptions is not None:
                await self.subscriptions.release(key)

    async def _due(self) -> list[RosterEntry]:
        await self.release_unowned()
        now = time.monotonic()
        return [
            e
            for e in self.ownership.mailboxes()
            if e.tenant == self.tenant and self._schedule(e).due <= now
        ]

    async def poll_due(self) -> int:
        """Capture every due mailbox and wait for all (tests, tools); returns changes published."""
        gate = asyncio.Semaphore(self.max_parallel)

        async def one(entry: RosterEntry) -> int:
            async with gate:
                return await self.poll_mailbox(entry)

        return sum(await asyncio.gather(*(one(e) for e in await self._due())))

    async def run_polling(self, stop: asyncio.Event) -> None:
        """Start due mailboxes as independent tasks, so a slow or throttled mailbox never
        delays the others; at most `max_parallel` run at once, one pass per mailbox at a time."""
        gate = asyncio.Semaphore(self.max_parallel)
        running: dict[str, asyncio.Task[int]] = {}

        async def one(entry: RosterEntry) -> int:
            async with gate:
                return await self.poll_mailbox(entry)

        try:
            while not stop.is_set():
                for entry in await self._due():
                    key = bus_key(entry.tenant, entry.user)
                    if key not in running:
                        running[key] = asyncio.create_task(one(entry))
                        running[key].add_done_callback(functools.partial(_forget, running, key))
                self.ownership.changed.clear()
                # Wake when the next mailbox falls due (not up to a second late), or early when
                # the roster, our partitions or a notification says so.
                waiters = [
                    asyncio.ensure_future(stop.wait()),
                    asyncio.ensure_future(self.ownership.changed.wait()),
                ]
                await asyncio.wait(
                    waiters,
                    timeout=self._until_next_due(set(running)),
                    return_when=asyncio.FIRST_COMPLETED,
                )
                for waiter in waiters:
                    waiter.cancel()
        finally:
            # Let in-flight passes finish, for a while: a pass stuck retrying an unreachable
            # server is cancelled instead of holding the shutdown. That is safe: a pass saves
            # its cursor only after the broker acked its events, so it is simply done again.
            if running:
                _, late = await asyncio.wait(list(running.values()), timeout=SHUTDOWN_GRACE_S)
                for task in late:
                    task.cancel()
                await asyncio.gather(*late, return_exceptions=True)

    def _until_next_due(self, running: set[str]) -> float:
        """Seconds until the next scheduled pass of a mailbox not being read right now, between
        0.05 and 1 (new mailboxes and roster changes are picked up within the second)."""
        now = time.monotonic()
        # A due time already past belongs to a mailbox that was just started, or that is not
        # ours to read any more (inactive): neither is worth waking for.
        ahead = [s.due for key, s in self.schedules.items() if key not in running and s.due > now]
        return min(1.0, max(0.05, min(ahead) - now)) if ahead else 1.0

    async def handle_commands(self, batch: list[Consumed[Command]]) -> None:
        """Apply a batch: mailboxes in parallel; in a mailbox, each record's commands in order
        and up to `WRITES_PER_MAILBOX` records at once (Graph allows 4 concurrent requests per
        app and mailbox, protocols.md; one is left for the mailbox's capture pass)."""
        lanes: dict[str, dict[str, list[Command]]] = {}
        for consumed in batch:
            command = consumed.message
            per_record = lanes.setdefault(bus_key(command.tenant, command.user), {})
            per_record.setdefault(command.link_id or command.id, []).append(command)
        await asyncio.gather(*(self._apply_mailbox(records) for records in lanes.values()))

    async def _apply_mailbox(self, records: dict[str, list[Command]]) -> None:
        gate = asyncio.Semaphore(WRITES_PER_MAILBOX)

        async def in_order(commands: list[Command]) -> None:
            async with gate:
                for command in commands:
                    await self.apply(command)

        await asyncio.gather(*(in_order(commands) for commands in records.values()))

    async def apply(self, command: Command) -> None:
        if command.tenant != self.tenant:
            return  # another deployment's tenant: not ours to apply (one tenant per deployment)
        key = bus_key(command.tenant, command.user)
        entry = self.ownership.roster.get(key)
        mailbox = command.mailbox or (entry.mailbox if entry else None)
        if mailbox is None:
            log.warning("command for a user without a mailbox", extra={"command_id": command.id})
            return
        try:
            # Also the claim check (LS-101): never write into another tenant's mailbox.
            folder_id = await self.sync_folder(mailbox)
        except ExchangeError as exc:
            outcome = self.sink.failed(command, exc)
        else:
            outcome = await self.sink.apply(command, mailbox, folder_id)
        await publish(self.producer, CHANGES, key, outcome)

    async def sync_folder(self, mailbox: str) -> str:
        folder_id = self.folders.get(mailbox)
        if folder_id is not None:
            return folder_id
        # One look-up per mailbox even when its records are written in parallel: two would
        # each create a Salesforce_Sync folder.
        lock = self._folder_locks.setdefault(mailbox, asyncio.Lock())
        async with lock:
            folder_id = self.folders.get(mailbox)
            if folder_id is None:
                folder_id = await self.ensure_sync_folder(mailbox)
                self.folders[mailbox] = folder_id
        return folder_id

    def stats(self) -> dict[str, Any]:
        return {"calls": dict(self.client.calls), "throttled": dict(self.client.throttled)}


@dataclass
class Connector(MailboxConnector[GraphClient, MailboxCapture]):
    """The Microsoft Graph transport (oauth2_graph)."""

    window_past: dt.timedelta = dt.timedelta(days=30)
    window_future: dt.timedelta = dt.timedelta(days=365)

    def __post_init__(self) -> None:
        self.sink = GraphCommandSink(self.client, CreateAttempts(self.cursors.pool), now=self.now)

    def new_capture(self, entry: RosterEntry, mailbox: str) -> MailboxCapture:
        return MailboxCapture(
            tenant=entry.tenant,
            user=entry.user,
            mailbox=mailbox,
            client=self.client,
            producer=self.producer,
            cursors=self.cursors,
            window_past=self.window_past,
            window_future=self.window_future,
            now=self.now,
        )

    async def capture_pass(self, capture: MailboxCapture, kind: Kind) -> int:
        return await capture_pass(capture, kind)

    async def ensure_sync_folder(self, mailbox: str) -> str:
        return await ensure_sync_folder(self.client, mailbox, self.tenant)

    async def release_claim(self, mailbox: str) -> None:
        folder_id = self.folders.pop(mailbox, None) or await self.sync_folder(mailbox)
        await release_claim(self.client, mailbox, folder_id)
        self.folders.pop(mailbox, None)
