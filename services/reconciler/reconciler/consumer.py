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
import functools
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from reconcile import (
    Candidate,
    DecideContext,
    Decision,
    Link,
    LinkState,
    Outcome,
    RelateDirectory,
    SyncSettings,
    UserContext,
    decide,
)
from syncmodel import (
    ChangeEvent,
    ChangesMessage,
    Command,
    CommandAction,
    CommandOutcome,
    ConnectorState,
    ConnectorStatus,
    Contact,
    Event,
    Kind,
    Lead,
    Op,
    SalesforceUser,
    Side,
    bus_key,
)
from syncmodel.topics import CHANGES, commands_topic
from syncruntime.kafka import Consumed
from syncruntime.postgres import Conn
from syncruntime.postgres.outbox import append_many
from syncruntime.postgres.tracking import record_position

from reconciler import echoes, journal, link_store, roster
from reconciler.metrics import Tally

log = logging.getLogger(__name__)
Clock = Callable[[], dt.datetime]

DELETE_WINDOW = dt.timedelta(minutes=15)


@functools.lru_cache(maxsize=1024)
def parse_settings(text: str) -> SyncSettings:
    """A user's effective settings from their stored JSON. Users share a handful of
    configurations, so the parsed (frozen) settings are shared instead of validated again for
    every user of every batch."""
    return SyncSettings.model_validate_json(text)


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
_KIND_SIDES = (
    ("contact", "exchange"),
    ("contact", "salesforce"),
    ("event", "exchange"),
    ("event", "salesforce"),
)
_PRELOAD_USERS = """
    SELECT p.t AS tenant_id, p.u AS user_id, u.email, u.settings::text AS settings,
           u.syncing_since,
           (SELECT count(*) FROM sync_barriers b
             WHERE b.tenant_id = p.t AND b.user_id = p.u) >= 2 AS barrier_open,
           EXISTS (SELECT 1 FROM seen_records s WHERE s.tenant_id = p.t AND s.user_id = p.u
                   AND s.kind = 'contact' AND s.side = 'exchange' AND s.link_id IS NULL)
               AS unlinked_contact_exchange,
           EXISTS (SELECT 1 FROM seen_records s WHERE s.tenant_id = p.t AND s.user_id = p.u
                   AND s.kind = 'contact' AND s.side = 'salesforce' AND s.link_id IS NULL)
               AS unlinked_contact_salesforce,
           EXISTS (SELECT 1 FROM seen_records s WHERE s.tenant_id = p.t AND s.user_id = p.u
                   AND s.kind = 'event' AND s.side = 'exchange' AND s.link_id IS NULL)
               AS unlinked_event_exchange,
           EXISTS (SELECT 1 FROM seen_records s WHERE s.tenant_id = p.t AND s.user_id = p.u
                   AND s.kind = 'event' AND s.side = 'salesforce' AND s.link_id IS NULL)
               AS unlinked_event_salesforce,
           EXISTS (SELECT 1 FROM seen_records s WHERE s.tenant_id = p.t AND s.user_id = p.u
                   AND s.deferred) AS has_deferred
      FROM unnest($1::text[], $2::text[]) AS p(t, u)
      LEFT JOIN sync_users u ON u.tenant_id = p.t AND u.user_id = p.u
"""
"""Per user of a batch: settings, e-mail, start of sync (LS-31), whether both initial syncs are
in (the barrier), per kind and side whether unlinked records (match candidates) exist, and
whether records wait for a replay."""


_PASS_BARRIER = """
    WITH added AS (
        INSERT INTO sync_barriers (tenant_id, user_id, side) VALUES ($1, $2, $3)
        ON CONFLICT DO NOTHING RETURNING side
    )
    SELECT (SELECT count(*) FROM sync_barriers WHERE tenant_id = $1 AND user_id = $2)
           + (SELECT count(*) FROM added)
"""
"""One side's initial sync is in: record it and count the sides that are (the statement does not
see its own insert, hence the sum)."""


@dataclass
class BatchRun:
    """The work of one batch inside one transaction."""

    conn: Conn
    now: dt.datetime
    links: link_store.LinkCache = field(default_factory=link_store.LinkCache)
    settings: dict[tuple[str, str], SyncSettings | None] = field(default_factory=dict)
    barriers: dict[tuple[str, str], bool] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    refresh_tenants: set[str] = field(default_factory=set)
    seen: link_store.SeenWrites = field(default_factory=link_store.SeenWrites)
    outbox: list[tuple[str, str, str, Command, dt.datetime | None]] = field(default_factory=list)
    emails: dict[tuple[str, str], str | None] = field(default_factory=dict)
    since: dict[tuple[str, str], dt.datetime | None] = field(default_factory=dict)
    in_flight: echoes.InFlightCreates = field(default_factory=echoes.InFlightCreates)
    statuses: list[ConnectorStatus] = field(default_factory=list)
    """Connector reports, written at the end of the batch (only the status API reads them)."""
    tally: Tally = field(default_factory=Tally)
    contexts: dict[tuple[str, str], DecideContext] = field(default_factory=dict)
    resolved: list[tuple[str, str, str]] = field(default_factory=list)
    """Links that synced again: their open errors close at the end of the batch."""
    synced: Counter[journal.SyncKey] = field(default_factory=Counter)
    """Writes applied per user, object and direction (the user's status counts them)."""
    deferring: dict[tuple[str, str], bool] = field(default_factory=dict)
    """Per user: whether held records may wait (False: a replay has nothing to read)."""

    async def run(self, messages: list[ChangesMessage]) -> None:
        link_ids: set[str] = set()
        records: set[tuple[str, str, str, str, str]] = set()
        for m in messages:
            if isinstance(m, CommandOutcome):
                link_ids.add(m.link_id)
            elif isinstance(m, ChangeEvent) and m.kind in (Kind.CONTACT, Kind.EVENT):
                records.add((m.tenant, m.user, m.kind.value, m.side.value, m.record_id))
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

    # ---------------------------------------------------------------- inputs of the core

    async def preload_users(self, users: set[tuple[str, str]]) -> None:
        """Settings, e-mail, barrier and candidate existence of every user of the batch, in
        one query (instead of several per message)."""
        pairs = sorted(users)
        rows = await self.conn.fetch(_PRELOAD_USERS, [p[0] for p in pairs], [p[1] for p in pairs])
        for row in rows:
            key = (row["tenant_id"], row["user_id"])
            self.emails[key] = row["email"]
            self.since[key] = row["syncing_since"]
            self.contexts.pop(key, None)
            settings = row["settings"]
            self.settings[key] = None if settings is None else parse_settings(settings)
            self.barriers[key] = bool(row["barrier_open"])
            self.deferring[key] = bool(row["has_deferred"])
            for kind, side in _KIND_SIDES:
                self.seen.unlinked[(*key, kind, side)] = bool(row[f"unlinked_{kind}_{side}"])

    async def user_settings(self, tenant: str, user: str) -> SyncSettings | None:
        if tenant in self.refresh_tenants:
            # A user changed earlier in this batch: the roster must be current before the
            # next decision about that tenant's records.
            self.refresh_tenants.discard(tenant)
            await roster.refresh_roster(self.conn, tenant, self.now)
            self.settings = {k: v for k, v in self.settings.items() if k[0] != tenant}
        key = (tenant, user)
        if key not in self.settings:
            found = await roster.load_settings(self.conn, tenant, {user})
            self.settings[key] = found.get(user)
        return self.settings[key]

    async def barrier_open(self, tenant: str, user: str) -> bool:
        key = (tenant, user)
        if key not in self.barriers:
            count = await self.conn.fetchval(
                "SELECT count(*) FROM sync_barriers WHERE tenant_id = $1 AND user_id = $2",
                tenant,
                user,
            )
            self.barriers[key] = count >= 2
        return self.barriers[key]

    async def user_context(self, change: ChangeEvent) -> UserContext:
        linked = await self.conn.fetchval(
            "SELECT count(*) FROM links WHERE tenant_id = $1 AND user_id = $2 AND kind = $3"
            " AND NOT closed",
            change.tenant,
            change.user,
            change.kind.value,
        )
        recent = await self.conn.fetchval(
            "SELECT count(*) FROM delete_log WHERE tenant_id = $1 AND user_id = $2 AND kind = $3"
            " AND side = $4 AND at > $5 AND record_id <> $6",
            change.tenant,
            change.user,
            change.kind.value,
            change.side.value,
            self.now - DELETE_WINDOW,
            change.record_id,
        )
        return UserContext(linked_records=int(linked), recent_deletes=int(recent))

    async def directory(self, change: ChangeEvent) -> RelateDirectory | None:
        record = change.after
        if not isinstance(record, Event) or change.side is not Side.EXCHANGE:
            return None
        emails = sorted({a.email.strip().lower() for a in record.attendees})
        if not emails:
            return RelateDirectory()
        rows = await self.conn.fetch(
            "SELECT email, kind, record_id FROM sf_directory WHERE tenant_id = $1"
            " AND email = ANY($2::text[]) ORDER BY record_id",
            change.tenant,
            emails,
        )
        contacts: dict[str, tuple[str, ...]] = {}
        leads: dict[str, tuple[str, ...]] = {}
        for row in rows:
            target = contacts if row["kind"] == "contact" else leads
            target[row["email"]] = (*target.get(row["email"], ()), row["record_id"])
        return RelateDirectory(contacts=contacts, leads=leads)

    async def user_facts(self, tenant: str, user: str) -> DecideContext:
        """The user's e-mail (auto-relate) and since when they sync (LS-31)."""
        key = (tenant, user)
        if key not in self.emails or key not in self.since:
            row = await self.conn.fetchrow(
                "SELECT email, syncing_since FROM sync_users WHERE tenant_id = $1 AND user_id = $2",
                tenant,
                user,
            )
            self.emails[key] = str(row["email"]) if row and row["email"] is not None else None
            self.since[key] = row["syncing_since"] if row else None
            self.contexts.pop(key, None)
        context = self.contexts.get(key)
        if context is None:  # one per user and batch: every change of the user shares it
            context = self.contexts[key] = DecideContext(
                user_email=self.emails[key], syncing_since=self.since[key]
            )
        return context

    async def candidates(self, change: ChangeEvent) -> tuple[Candidate, ...]:
        other = change.side.other
        if not await self.seen.may_have_unlinked(
            self.conn, change.tenant, change.user, change.kind, other
        ):
            return ()
        await self.seen.flush(self.conn)
        return await link_store.load_candidates(self.conn, change)

    # ---------------------------------------------------------------- handlers

    async def on_status(self, status: ConnectorStatus) -> None:
        self.statuses.append(status)
        if status.user is None:
            return
        if status.state is ConnectorState.INITIAL_SYNC_IN_PROGRESS:
            # A (re-)snapshot of this side starts: new records wait again until it completes
            # (reset, re-baseline, a user back on the roster). Ordered in the user's partition.
            await self.conn.execute(
                "DELETE FROM sync_barriers WHERE tenant_id = $1 AND user_id = $2 AND side = $3",
                status.tenant,
                status.user,
                status.side.value,
            )
            self.barriers.pop((status.tenant, status.user), None)
            return
        if status.state is not ConnectorState.INITIAL_SYNC_COMPLETED:
            return
        sides = await self.conn.fetchval(
            _PASS_BARRIER, status.tenant, status.user, status.side.value
        )
        self.barriers[(status.tenant, status.user)] = sides >= 2
        if sides >= 2:
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

    def find_link(self, change: ChangeEvent) -> Link | None:
        link = self.links.find(
            change.tenant, change.user, change.kind, change.side, change.record_id
        )
        if link is not None:
            return link
        marker = getattr(change.after, "marker", None)
        if marker:
            return self.links.by_id.get(marker)
        return None

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
                reason=decision.reason.value,
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
        self.tally.decision(decision.outcome.value, decision.reason.value)
        tenant, user = message.tenant, message.user
        next_link = decision.next_link
        if next_link is not None:
            self.links.put(next_link)
            self.reasons[next_link.link_id] = decision.reason.value
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
            self.outbox.append(
                (
                    f"{command.id}#{attempt}",
                    commands_topic(command.side.value),
                    bus_key(tenant, user),
                    command,
                    not_before,
                )
            )
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
        self, pool: asyncpg.Pool[Any], group: str, clock: Clock = utcnow, topic: str = CHANGES
    ) -> None:
        self.pool = pool
        self.group = group
        self.clock = clock
        self.topic = topic
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
