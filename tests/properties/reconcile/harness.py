"""Two in-memory sides, their connectors and a minimal shell around `decide` (h11's ConnectionPair).

`MemorySide` is a mailbox or an org: records with versions, a connector that captures every
change into the partition (`Pair.inbox`) and applies commands idempotently (by command id) with
the version precondition. `Pair` is the shell: it loads a message's link (by side + record id,
or by the marker of an item we created), calls `decide`, and stores what comes back. Test rules
drive user edits, deliveries, command applications, lost outcomes, transient failures and
replays in any order; `drain` delivers everything so invariants can be checked when quiet.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from dataclasses import dataclass, field

from reconcile import (
    Candidate,
    DecideContext,
    Decision,
    Link,
    LinkState,
    SyncSettings,
    UserContext,
    decide,
)
from reconcile.effects import view
from reconcile.fields import effective_mappings, to_canonical
from syncmodel import (
    ChangeEvent,
    Command,
    CommandAction,
    CommandOutcome,
    Contact,
    Event,
    Kind,
    Op,
    OutcomeStatus,
    Side,
    SyncError,
    change_event_id,
)

TENANT, USER = "t1", "005U1"
EPOCH = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
Message = ChangeEvent | CommandOutcome


@dataclass
class Stored:
    version: str
    record: Contact | Event


@dataclass
class MemorySide:
    """One side's records plus its connector (capture + idempotent, conditional apply)."""

    side: Side
    kind: Kind
    records: dict[str, Stored] = field(default_factory=dict)
    applied: dict[str, CommandOutcome] = field(default_factory=dict)
    counter: int = 0

    def _next(self, prefix: str) -> str:
        self.counter += 1
        return f"{self.side.value[:2]}-{prefix}{self.counter}"

    def capture(
        self, record_id: str, now: dt.datetime, op: Op, cause: str | None = None
    ) -> ChangeEvent:
        stored = self.records.get(record_id)
        version = stored.version if stored else self._next("gone")
        return ChangeEvent(
            id=change_event_id(self.side, record_id, version),
            tenant=TENANT,
            user=USER,
            side=self.side,
            kind=self.kind,
            op=op,
            record_id=record_id,
            version=version,
            after=stored.record if stored and op is not Op.DELETE else None,
            source_ts=now,
            captured_ts=now,
            cause=cause,
        )

    # user actions -------------------------------------------------------------------------
    def user_create(self, record: Contact | Event, now: dt.datetime) -> ChangeEvent:
        record_id = self._next("r")
        self.records[record_id] = Stored(self._next("v"), record)
        return self.capture(record_id, now, Op.CREATE)

    def user_update(self, record_id: str, record: Contact | Event, now: dt.datetime) -> ChangeEvent:
        marker = self.records[record_id].record.marker
        self.records[record_id] = Stored(
            self._next("v"), record.model_copy(update={"marker": marker})
        )
        return self.capture(record_id, now, Op.UPDATE)

    def touch(self, record_id: str, now: dt.datetime) -> ChangeEvent:
        """A server-side version bump with no content change (e.g. a trigger)."""
        self.records[record_id].version = self._next("v")
        return self.capture(record_id, now, Op.UPDATE)

    def user_delete(self, record_id: str, now: dt.datetime) -> ChangeEvent:
        del self.records[record_id]
        return self.capture(record_id, now, Op.DELETE)

    # connector apply ----------------------------------------------------------------------
    def apply(
        self, command: Command, now: dt.datetime
    ) -> tuple[CommandOutcome, ChangeEvent | None]:
        """Apply once per command id; a re-sent command gets the first outcome back."""
        if command.id in self.applied:
            return self.applied[command.id], None
        echo: ChangeEvent | None = None
        status, record_id, version, record = OutcomeStatus.APPLIED, command.record_id, None, None
        error = None
        if command.action is CommandAction.CREATE:
            assert command.record is not None
            record_id = self._next("r")
            version = self._next("v")
            self.records[record_id] = Stored(version, command.record)  # type: ignore[arg-type]
            record = command.record
            echo = self.capture(record_id, now, Op.CREATE, cause=command.id)
        elif command.action is CommandAction.DELETE:
            if command.record_id in self.records:
                del self.records[command.record_id]
                echo = self.capture(command.record_id, now, Op.DELETE, cause=command.id)
        else:
            stored = self.records.get(command.record_id or "")
            if stored is None:
                status = OutcomeStatus.FAILED
                error = SyncError(code="not_found", message="record is gone")
            elif stored.version != command.if_version:
                status, version, record = OutcomeStatus.CONFLICT, stored.version, stored.record
            else:
                assert command.record is not None
                version = self._next("v")
                self.records[command.record_id or ""] = Stored(version, command.record)  # type: ignore[arg-type]
                record = command.record
                echo = self.capture(command.record_id or "", now, Op.UPDATE, cause=command.id)
        outcome = CommandOutcome.of(
            command,
            outcome_id=f"out-{command.id}",
            status=status,
            record_id=record_id,
            version=version,
            record=record,
            error=error,
            applied_ts=now,
        )
        if status is not OutcomeStatus.CONFLICT:
            self.applied[command.id] = outcome
        return outcome, echo

    def fail_transiently(self, command: Command, now: dt.datetime) -> CommandOutcome:
        return CommandOutcome.of(
            command,
            outcome_id=f"fail-{command.id}-{now.isoformat()}",
            status=OutcomeStatus.FAILED,
            error=SyncError(code="throttled", message="429", retryable=True, retry_after_s=1.0),
            applied_ts=now,
        )


@dataclass
class Pair:
    """The shell: inbox (the user's partition), link store, outbox per side."""

    kind: Kind
    settings: SyncSettings
    exchange: MemorySide = field(init=False)
    salesforce: MemorySide = field(init=False)
    inbox: deque[Message] = field(default_factory=deque)
    outbox: dict[Side, deque[Command]] = field(default_factory=dict)
    links: dict[str, Link] = field(default_factory=dict)
    index: dict[tuple[Side, str], str] = field(default_factory=dict)
    decisions: list[Decision] = field(default_factory=list)
    delivered: list[Message] = field(default_factory=list)
    recent_deletes: dict[Side, int] = field(default_factory=dict)
    clock: int = 0

    def __post_init__(self) -> None:
        self.exchange = MemorySide(Side.EXCHANGE, self.kind)
        self.salesforce = MemorySide(Side.SALESFORCE, self.kind)
        self.outbox = {Side.EXCHANGE: deque(), Side.SALESFORCE: deque()}
        self.recent_deletes = {Side.EXCHANGE: 0, Side.SALESFORCE: 0}

    def now(self) -> dt.datetime:
        self.clock += 1
        return EPOCH + dt.timedelta(minutes=self.clock)

    def store(self, side: Side) -> MemorySide:
        return self.exchange if side is Side.EXCHANGE else self.salesforce

    # the shell ----------------------------------------------------------------------------
    def find_link(self, message: Message) -> Link | None:
        if isinstance(message, CommandOutcome):
            return self.links.get(message.link_id)
        link_id = self.index.get((message.side, message.record_id))
        if link_id is None and message.after is not None and message.after.marker:  # type: ignore[union-attr]
            link_id = message.after.marker  # type: ignore[union-attr]
        return self.links.get(link_id) if link_id else None

    def candidates(self, side: Side) -> tuple[Candidate, ...]:
        store = self.store(side)
        return tuple(
            Candidate(side=side, record_id=record_id, version=stored.version, record=stored.record)
            for record_id, stored in sorted(store.records.items())
            if (side, record_id) not in self.index and stored.record.marker not in self.links
        )

    def live_links(self) -> int:
        return sum(1 for link in self.links.values() if link.state is not LinkState.CLOSED)

    def deliver(self, message: Message) -> Decision:
        link = self.find_link(message)
        user_context = None
        if isinstance(message, ChangeEvent) and message.op is Op.DELETE:
            user_context = UserContext(
                linked_records=self.live_links(), recent_deletes=self.recent_deletes[message.side]
            )
            self.recent_deletes[message.side] += 1
        context = DecideContext(
            candidates=self.candidates(message.side.other) if link is None else (),
            user_context=user_context,
        )
        decision = decide(link, message, self.settings, self.now(), context=context)
        self.decisions.append(decision)
        self.delivered.append(message)
        if decision.next_link is not None:
            new = decision.next_link
            self.links[new.link_id] = new
            for side in Side:
                record_id = new.side(side).record_id
                if record_id is not None:
                    self.index[(side, record_id)] = new.link_id
        for command in decision.commands:
            self.outbox[command.side].append(command)
        return decision

    def deliver_next(self) -> Decision | None:
        return self.deliver(self.inbox.popleft()) if self.inbox else None

    def apply_next(
        self, side: Side, *, lose_outcome: bool = False, echo_first: bool = True
    ) -> bool:
        if not self.outbox[side]:
            return False
        command = self.outbox[side][0]
        outcome, echo = self.store(side).apply(command, self.now())
        if lose_outcome:
            # The connector crashed after the write, before publishing the outcome: capture
            # still sees the write, and the command is delivered (and answered) again.
            self.inbox.extend([echo] if echo is not None else [])
            return True
        self.outbox[side].popleft()
        messages = [m for m in (echo, outcome) if m is not None]
        if not echo_first:
            messages.reverse()
        self.inbox.extend(messages)
        return True

    def fail_next(self, side: Side) -> bool:
        if not self.outbox[side]:
            return False
        command = self.outbox[side].popleft()
        self.inbox.append(self.store(side).fail_transiently(command, self.now()))
        return True

    def drain(self, limit: int = 5_000) -> None:
        """Deliver and apply everything (no failures) until nothing is left."""
        for _ in range(limit):
            if self.inbox:
                self.deliver_next()
            elif self.outbox[Side.EXCHANGE]:
                self.apply_next(Side.EXCHANGE)
            elif self.outbox[Side.SALESFORCE]:
                self.apply_next(Side.SALESFORCE)
            else:
                self.recent_deletes = {Side.EXCHANGE: 0, Side.SALESFORCE: 0}
                return
        raise AssertionError("the pair did not go quiet (livelock)")

    # views for the invariants -------------------------------------------------------------
    def canonical(self, side: Side, record: Contact | Event) -> dict[str, object]:
        return to_canonical(record, side, effective_mappings(self.kind))

    def holds(self, link: Link, side: Side) -> dict[str, object]:
        """The canonical content `side` should hold for `link`'s snapshot."""
        assert link.snapshot is not None
        return view(link, link.snapshot, side)
