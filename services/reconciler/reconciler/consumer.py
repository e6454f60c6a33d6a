"""The imperative shell around `reconcile.decide`: one PostgreSQL transaction per batch.

Per partition batch: lock and read the partition's stored position, skip what was already
applied, load the batch's links in one query, call the core for each message in order, then
write links, seen records, errors, audit, statuses, outgoing commands (outbox) and the new
position in the same transaction. Kafka's committed offset is only a hint (eventsourcing's
`Tracking`): after a crash the consumer seeks to the position stored here.

Initial sync barrier: a record with no link is matched against the other side's unlinked
records (LS-71/72). To make "zero duplicates" hold when both sides already hold the same data, a
new record is not acted on until both sides have reported `initial_sync_completed` for the user;
until then it is kept as deferred and replayed, in capture order, when the barrier opens.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from reconcile import (
    Decision,
    Link,
    LinkState,
    Outcome,
    SyncSettings,
    decide,
)
from syncmodel import (
    ChangeEvent,
    ChangesMessage,
    CommandAction,
    CommandOutcome,
    ConnectorState,
    ConnectorStatus,
    Contact,
    Kind,
    Lead,
    Op,
    SalesforceUser,
    Side,
    bus_key,
)
from syncmodel.fastjson import dump_json
from syncmodel.topics import CHANGES, commands_topic
from syncruntime.kafka import Consumed
from syncruntime.postgres import Conn
from syncruntime.postgres.outbox import append_many
from syncruntime.postgres.tracking import record_position

from reconciler import echoes, journal, link_store, roster
from reconciler.inputs import BatchInputs
from reconciler.metrics import Tally

log = logging.getLogger(__name__)
Clock = Callable[[], dt.datetime]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def claim_position(conn: Conn, group: str, topic: str, partition: int) -> int:
    """Lock this partition's position row for the transaction (a replica that still thinks it
    owns the partition during a rebalance waits here, then sees the moved position).

    One round trip: the no-op `DO UPDATE` takes the row lock like `SELECT ... FOR UPDATE`, and
    (read committed) returns the row as the transaction that held the lock committed it."""
    value = await conn.fetchval(
        "INSERT INTO processed_offsets (consumer_group, topic, partition, next_offset)"
        " VALUES ($1, $2, $3, 0) ON CONFLICT (consumer_group, topic, partition)"
        " DO UPDATE SET next_offset = processed_offsets.next_offset RETURNING next_offset",
        group,
        topic,
        partition,
    )
    return int(value)


_SYNCED = (Kind.CONTACT, Kind.EVENT)


@dataclass
class BatchRun(BatchInputs):
    """The work of one batch inside one transaction: each message's handler, the core's
    decision and its effects (what the core is given comes from `BatchInputs`)."""

    reasons: dict[str, str] = field(default_factory=dict)
    outbox: list[tuple[str, str, str, str, dt.datetime | None]] = field(default_factory=list)
    in_flight: echoes.InFlightCreates = field(default_factory=echoes.InFlightCreates)
    statuses: list[ConnectorStatus] = field(default_factory=list)
    """Connector reports, written at the end of the batch (only the status API reads them)."""
    tally: Tally = field(default_factory=Tally)
    resolved: list[tuple[str, str, str]] = field(default_factory=list)
    """Links that synced again: their open errors close at the end of the batch."""
    synced: Counter[journal.SyncKey] = field(default_factory=Counter)
    """Writes applied per user, object and direction (the user's status counts them)."""

    async def run(self, messages: list[ChangesMessage]) -> None:
        link_ids: set[str] = set()
        records: set[tuple[str, str, str, str, str]] = set()
        for m in messages:
            if isinstance(m, CommandOutcome):
                link_ids.add(m.link_id)
            elif isinstance(m, ChangeEvent) and m.kind in (Kind.CONTACT, Kind.EVENT):
                records.add((m.tenant, m.user, m.kind, m.side, m.record_id))
                marker = getattr(m.after, "marker", None)
                if marker:
                    link_ids.add(marker)
        self.links = await link_store.load_links(self.conn, link_ids, records)
        await self.in_flight.preload(
            self.conn,
            [m for m in messages if isinstance(m, ChangeEvent) and m.kind in _SYNCED],
            self.links,
        )
        await self.preload_users({(m.tenant, m.user) for m in messages if m.user is not None})
        for message in messages:
            await self.handle(message)
        await link_store.save_links(self.conn, self.links, self.reasons)
        await self.flush_barriers()
        await self.seen.flush(self.conn)
        await append_many(self.conn, self.outbox)
        await journal.record_connector_statuses(self.conn, self.statuses)
        await self.flush_resolved()
        await journal.count_sync(self.conn, self.synced, self.now)
        for tenant in sorted(self.refresh_tenants):
            await roster.refresh_roster(self.conn, tenant, self.now)

    async def handle(self, message: ChangesMessage) -> None:
        self.tally.message(type(message).__name__)
        if isinstance(message, ConnectorStatus):
            await self.on_status(message)
        elif isinstance(message, CommandOutcome):
            await self.on_outcome(message)
        elif message.kind is Kind.USER:
            user = message.after if isinstance(message.after, SalesforceUser) else None
            await roster.upsert_user(self.conn, message.tenant, message.record_id, user)
            self.refresh_tenants.add(message.tenant)
        elif message.kind is Kind.LEAD:
            await self.index_directory(message)
        elif message.kind in (Kind.CONTACT, Kind.EVENT):
            if message.side is Side.SALESFORCE and message.kind is Kind.CONTACT:
                await self.index_directory(message)
            await self.on_change(message)

    # ---------------------------------------------------------------- handlers

    async def on_status(self, status: ConnectorStatus) -> None:
        self.statuses.append(status)
        if status.user is None:
            return
        if status.state is ConnectorState.INITIAL_SYNC_IN_PROGRESS:
            # A (re-)snapshot of this side starts: new records wait again until it completes
            # (reset, re-baseline, a user back on the roster). Ordered in the user's partition.
            await self.close_barrier(status.tenant, status.user, status.side.value)
            return
        if status.state is not ConnectorState.INITIAL_SYNC_COMPLETED:
            return
        if await self.pass_barrier(status.tenant, status.user, status.side.value):
            await self.replay_deferred(status.tenant, status.user, "initial sync barrier open")

    def defer(self, change: ChangeEvent, reason: str | None = None) -> None:
        """Hold a record for a later replay (its row says why, for record explain)."""
        self.seen.remember(change, None, deferred=True, reason=reason)
        self.deferring[(change.tenant, change.user)] = True

    async def replay_deferred(self, tenant: str, user: str, why: str) -> None:
        """Decide the user's held records now (barrier open; an awaited create's outcome)."""
        if self.deferring.get((tenant, user)) is False:
            return  # nothing is held (every create outcome asks: most find nothing)
        self.deferring[(tenant, user)] = False  # a record held again sets it back
        await self.seen.flush(self.conn)
        deferred = await link_store.deferred_changes(self.conn, tenant, user)
        if not deferred:
            return
        log.info(
            "%s; replaying %d deferred records",
            why,
            len(deferred),
            extra={"tenant": tenant, "user": user},
        )
        for link in await self._load_links_for(deferred):
            if link.link_id not in self.links.by_id:
                self.links.add(link)
        await self.in_flight.preload(self.conn, deferred, self.links)
        for change in deferred:
            await self.on_change(change)

    async def _load_links_for(self, changes: list[ChangeEvent]) -> list[Link]:
        cache = await link_store.load_links(
            self.conn,
            [m for c in changes if (m := getattr(c.after, "marker", None))],
            [(c.tenant, c.user, c.kind.value, c.side.value, c.record_id) for c in changes],
        )
        return list(cache.by_id.values())

    async def index_directory(self, change: ChangeEvent) -> None:
        kind = "lead" if change.kind is Kind.LEAD else "contact"
        await self.conn.execute(
            "DELETE FROM sf_directory WHERE tenant_id = $1 AND kind = $2 AND record_id = $3",
            change.tenant,
            kind,
            change.record_id,
        )
        record = change.after
        if change.op is Op.DELETE or not isinstance(record, Contact | Lead) or not record.email:
            return
        if isinstance(record, Lead) and record.is_converted:
            return
        await self.conn.execute(
            "INSERT INTO sf_directory (tenant_id, email, kind, record_id) VALUES ($1, $2, $3, $4)",
            change.tenant,
            record.email.strip().lower(),
            kind,
            change.record_id,
        )

    async def on_change(self, change: ChangeEvent) -> None:
        settings = await self.user_settings(change.tenant, change.user)
        if settings is None:
            self.tally.decision("noop", "user_not_syncing")
            return
        link = self.find_link(change)
        deleting = change.op is Op.DELETE
        if deleting:
            await self.conn.execute(
                "INSERT INTO delete_log (tenant_id, user_id, kind, side, record_id)"
                " VALUES ($1, $2, $3, $4, $5)",
                change.tenant,
                change.user,
                change.kind.value,
                change.side.value,
                change.record_id,
            )
            await self.seen.flush(self.conn)
            await link_store.forget_record(self.conn, change)
        context = await self.user_facts(change.tenant, change.user)
        if link is None and not deleting:
            if not await self.barrier_open(change.tenant, change.user):
                self.defer(change)
                self.tally.decision("deferred", "initial_sync_barrier")
                return
            if self.in_flight.awaits_own_create(change):
                # Maybe our own create, captured before its outcome came back (echoes.py).
                self.defer(change, echoes.AWAITING_CREATE)
                self.tally.decision("deferred", echoes.AWAITING_CREATE)
                return
            candidates, directory = await self.candidates(change), await self.directory(change)
            if candidates or directory is not None:
                context = context.model_copy(
                    update={"candidates": candidates, "directory": directory}
                )
        elif deleting:
            context = context.model_copy(update={"user_context": await self.user_context(change)})
        decision = decide(link, change, settings, self.now, context=context)
        await self.apply(decision, change, link, settings)
        if not deleting:
            next_link = decision.next_link or link
            self.seen.remember(
                change,
                next_link.link_id if next_link else None,
                deferred=False,
                reason=decision.reason,
            )
        creating = link.pending_to(change.side) if link is not None else None
        if (
            creating is not None
            and creating.command.action is CommandAction.CREATE
            and (decision.next_link is None or decision.next_link.pending_to(change.side) is None)
        ):
            # The echo of our create came ahead of its outcome and settled it: what was held
            # for it can be decided now (the outcome will find nothing pending).
            self.in_flight.resolved(creating.command)
            await self.replay_deferred(change.tenant, change.user, "own create echoed")

    async def on_outcome(self, outcome: CommandOutcome) -> None:
        settings = await self.user_settings(outcome.tenant, outcome.user)
        link = self.links.by_id.get(outcome.link_id)
        write = link.pending_by_id(outcome.command_id) if link is not None else None
        decision = decide(link, outcome, settings or SyncSettings(), self.now)
        await self.apply(decision, outcome, link, settings or SyncSettings())
        if write is not None and write.command.action is CommandAction.CREATE:
            # Captures held as possible echoes of this create can be told apart now.
            self.in_flight.resolved(write.command)
            await self.replay_deferred(outcome.tenant, outcome.user, "create outcome in")

    # ---------------------------------------------------------------- effects

    async def apply(
        self,
        decision: Decision,
        message: ChangeEvent | CommandOutcome,
        link: Link | None,
        settings: SyncSettings,
    ) -> None:
        self.tally.decision(decision.outcome, decision.reason)
        tenant, user = message.tenant, message.user
        next_link = decision.next_link
        if next_link is not None:
            self.links.put(next_link)
            self.reasons[next_link.link_id] = decision.reason
            if isinstance(message, ChangeEvent):
                await self.mark_other_side(message, link, next_link)
        for command in decision.commands:
            self.in_flight.note(command)
            pending = next_link.pending_by_id(command.id) if next_link else None
            attempt = pending.attempts if pending else 1
            not_before = (
                self.now + dt.timedelta(seconds=decision.retry_after_s)
                if decision.retry_after_s
                else None
            )
            payload = dump_json(command).decode()  # = model_dump_json(by_alias=True), faster
            self.outbox.append(
                (
                    f"{command.id}#{attempt}",
                    commands_topic(command.side),
                    bus_key(tenant, user),
                    payload,
                    not_before,
                )
            )
        if (
            decision.audit
            or decision.truncations
            or decision.unresolved_attendees
            or decision.unrelated_attendees
        ):  # most decisions have none of these: no three coroutines to learn that
            await journal.record_audit(
                self.conn, tenant, user, decision.audit, settings.conflict_policy.value
            )
            await journal.record_truncations(self.conn, tenant, user, decision, self.now)
            await journal.record_unresolved(self.conn, message, decision)
        if decision.errors:
            await self.flush_resolved()  # an error of this batch must stay open
            await journal.record_errors(self.conn, message, decision.errors, next_link or link)
        elif (
            decision.outcome is Outcome.APPLY
            and next_link is not None
            and next_link.state is LinkState.LINKED
            and not next_link.pending
        ):
            self.resolved.append((next_link.tenant, next_link.user, next_link.link_id))
        if (key := journal.synced(message, decision)) is not None:
            self.synced[key] += 1

    async def flush_resolved(self) -> None:
        await journal.resolve_errors(self.conn, self.resolved)
        self.resolved.clear()

    async def mark_other_side(
        self, change: ChangeEvent, link: Link | None, next_link: Link
    ) -> None:
        """A match links a record of the other side: it stops being a candidate."""
        other = change.side.other
        record_id = next_link.record_id(other)
        if record_id is None or (link is not None and link.record_id(other) == record_id):
            return
        await self.seen.flush(self.conn)
        await link_store.mark_linked(self.conn, next_link)


class ChangesHandler:
    """Binds a `BatchRun` per partition batch to the transaction and the stored position."""

    def __init__(
        self,
        pool: asyncpg.Pool[Any],
        group: str,
        clock: Clock = utcnow,
        topic: str = CHANGES,
        *,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self.pool = pool
        self.group = group
        self.clock = clock
        self.topic = topic
        self.on_commit = on_commit
        """Called after a batch that queued commands committed (wakes the relay; roster messages
        a batch queues are found by its next round)."""
        self.applied = 0

    async def __call__(self, batch: list[Consumed[ChangesMessage]]) -> None:
        partition = batch[0].partition
        async with self.pool.acquire() as conn, conn.transaction():
            position = await claim_position(conn, self.group, self.topic, partition)
            fresh = [c.message for c in batch if c.offset >= position]
            if not fresh:
                return
            run = BatchRun(conn, self.clock())
            await run.run(fresh)
            await record_position(conn, self.group, self.topic, partition, batch[-1].offset + 1)
        run.tally.publish()
        self.applied += len(fresh)
        if run.outbox and self.on_commit is not None:
            self.on_commit()
