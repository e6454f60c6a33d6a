"""The reconciler shell against the real PostgreSQL: one transaction per batch, stored positions,
the initial-sync barrier, echo suppression and the roster. Messages are handed to the handler
exactly as the consumer loop hands them over (the Kafka path is covered in test_process.py)."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from prometheus_client import REGISTRY
from reconcile import SyncSettings
from reconciler import echoes, journal, link_store
from reconciler.consumer import ChangesHandler
from reconciler.deadletters import DeadLetterHandler
from syncmodel import (
    ChangeEvent,
    ChangesMessage,
    Command,
    CommandAction,
    CommandOutcome,
    ConnectorState,
    ConnectorStatus,
    Contact,
    DeadLetter,
    Kind,
    Op,
    OutcomeStatus,
    SalesforceUser,
    Side,
    SyncError,
    change_event_id,
)
from syncruntime.kafka import Consumed
from syncruntime.postgres import create_pool, joined
from syncruntime.settings import PostgresSettings

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
TENANT, USER = "acme", "005000000000001AAA"


class Feed:
    """Hands messages to the handler as one partition's batches, with increasing offsets."""

    def __init__(self, handler: ChangesHandler) -> None:
        self.handler = handler
        self.offsets = itertools.count()
        self.log: list[Consumed[ChangesMessage]] = []

    async def send(self, *messages: ChangesMessage) -> list[Consumed[ChangesMessage]]:
        batch = [
            Consumed("syncline.changes", 0, next(self.offsets), f"{TENANT}/{USER}", m, 0)
            for m in messages
        ]
        self.log.extend(batch)
        await self.handler(batch)
        return batch


@pytest.fixture
async def pool(postgres_settings: PostgresSettings) -> AsyncIterator[asyncpg.Pool[Any]]:
    pool = await create_pool(postgres_settings)
    async with pool.acquire() as conn:
        await conn.execute("INSERT INTO tenants (id, name) VALUES ($1, 'Acme')", TENANT)
        await conn.execute(
            "INSERT INTO configurations (tenant_id, configuration_id, name, active, settings)"
            " VALUES ($1, 'default', 'Default', true, $2)",
            TENANT,
            SyncSettings().model_dump(mode="json"),
        )
        await conn.execute(
            "INSERT INTO assignments (tenant_id, principal_type, principal_id, configuration_id)"
            " VALUES ($1, 'profile', '00e000000000001', 'default')",
            TENANT,
        )
    yield pool
    await pool.close()


@pytest.fixture
async def feed(pool: asyncpg.Pool[Any]) -> Feed:
    feed = Feed(ChangesHandler(pool, "test-reconciler", clock=lambda: NOW))
    await feed.send(_user())
    return feed


def _user() -> ChangeEvent:
    return ChangeEvent(
        id=change_event_id(Side.SALESFORCE, USER, "1"),
        tenant=TENANT,
        user=USER,
        side=Side.SALESFORCE,
        kind=Kind.USER,
        op=Op.READ,
        record_id=USER,
        version="1",
        after=SalesforceUser(
            username="ada@acme.test",
            email="ada@acme.test",
            profile_id="00e000000000001",
            time_zone="Europe/London",
        ),
        captured_ts=NOW,
    )


def _contact(
    side: Side, record_id: str, version: str, op: Op = Op.READ, **fields: Any
) -> ChangeEvent:
    record = Contact(
        **({"first_name": "Grace", "last_name": "Hopper", "email": "grace@navy.test"} | fields)
    )
    return ChangeEvent(
        id=change_event_id(side, record_id, version),
        tenant=TENANT,
        user=USER,
        side=side,
        kind=Kind.CONTACT,
        op=op,
        record_id=record_id,
        version=version,
        after=record,
        source_ts=NOW,
        captured_ts=NOW,
    )


def _done(
    side: Side, state: ConnectorState = ConnectorState.INITIAL_SYNC_COMPLETED
) -> ConnectorStatus:
    return ConnectorStatus(tenant=TENANT, user=USER, side=side, state=state, ts=NOW)


def _started(side: Side) -> ConnectorStatus:
    """A (re-)snapshot of `side` begins."""
    return _done(side, ConnectorState.INITIAL_SYNC_IN_PROGRESS)


def _applied(command: Command, record_id: str, version: str) -> CommandOutcome:
    """The connector's report that `command` was written as it was sent."""
    return CommandOutcome.of(
        command,
        outcome_id=f"outcome/{command.id}",
        status=OutcomeStatus.APPLIED,
        record_id=record_id,
        version=version,
        record=command.record,
        applied_ts=NOW,
    )


async def _commands(pool: asyncpg.Pool[Any]) -> list[Command]:
    rows = await pool.fetch(
        "SELECT payload FROM outbox WHERE topic LIKE 'syncline.commands.%' ORDER BY id"
    )
    return [Command.model_validate(r["payload"]) for r in rows]


async def test_user_capture_puts_the_rep_on_the_roster(pool: asyncpg.Pool[Any], feed: Feed) -> None:
    row = await pool.fetchrow("SELECT * FROM sync_users WHERE user_id = $1", USER)
    assert row["link_state"] == "linked"
    assert row["configuration_id"] == "default"
    assert row["mailbox"] == "ada@acme.test"
    roster = await pool.fetch("SELECT key, payload FROM outbox WHERE topic = 'syncline.roster'")
    assert [r["key"] for r in roster] == [f"{TENANT}/{USER}"]
    assert roster[0]["payload"]["active"] is True


async def test_nothing_is_created_before_both_snapshots_are_in(
    pool: asyncpg.Pool[Any], feed: Feed
) -> None:
    await feed.send(_contact(Side.EXCHANGE, "AAMk-1", "ck1"), _done(Side.EXCHANGE))
    assert await _commands(pool) == []
    await feed.send(_contact(Side.SALESFORCE, "003000000000001AAA", "m1"))
    assert await _commands(pool) == []
    await feed.send(_done(Side.SALESFORCE))
    # Both sides held the same person: matched by e-mail (LS-71), linked, nothing created.
    commands = await _commands(pool)
    assert [c.action for c in commands if c.action is CommandAction.CREATE] == []
    links = await pool.fetch("SELECT exchange_id, salesforce_id FROM links")
    assert [(r["exchange_id"], r["salesforce_id"]) for r in links] == [
        ("AAMk-1", "003000000000001AAA")
    ]


async def test_create_applied_and_its_echo_cost_nothing(
    pool: asyncpg.Pool[Any], feed: Feed
) -> None:
    await feed.send(_done(Side.EXCHANGE), _done(Side.SALESFORCE))
    await feed.send(_contact(Side.EXCHANGE, "AAMk-2", "ck1", op=Op.CREATE))
    [create] = await _commands(pool)
    assert create.action is CommandAction.CREATE
    assert create.side is Side.SALESFORCE
    assert isinstance(create.record, Contact)
    assert create.record.email == "grace@navy.test"

    await feed.send(_applied(create, "003000000000009AAA", "m1"))
    link = await pool.fetchrow("SELECT * FROM links WHERE link_id = $1", create.link_id)
    assert link["salesforce_id"] == "003000000000009AAA"
    assert link["state"]["state"] == "linked"
    # The capture of our own write comes back: no command, in either direction.
    await feed.send(
        _contact(Side.SALESFORCE, "003000000000009AAA", "m1", op=Op.CREATE, marker=create.link_id)
    )
    assert len(await _commands(pool)) == 1
    # A real edit in Salesforce goes to Exchange as a conditional update.
    await feed.send(
        _contact(Side.SALESFORCE, "003000000000009AAA", "m2", op=Op.UPDATE, title="Rear Admiral")
    )
    commands = await _commands(pool)
    assert len(commands) == 2
    update = commands[-1]
    assert update.action is CommandAction.UPDATE
    assert update.side is Side.EXCHANGE
    assert update.record_id == "AAMk-2"
    assert update.if_version == "ck1"


async def test_ls71_own_create_captured_before_its_outcome_is_no_new_record(
    pool: asyncpg.Pool[Any], feed: Feed
) -> None:
    """Graph delta carries no marker on contacts: the capture of the contact we just created in
    Outlook can arrive before the create's outcome. It is held, then recognized as the echo
    once the outcome is in: no second contact in Salesforce (found at 200 reps)."""
    await feed.send(_done(Side.EXCHANGE), _done(Side.SALESFORCE))
    await feed.send(_contact(Side.SALESFORCE, "003000000000021AAA", "m1", op=Op.CREATE))
    [create] = await _commands(pool)
    assert create.side is Side.EXCHANGE
    assert create.action is CommandAction.CREATE
    # The connector's poll sees the new Outlook item first (no marker, same person).
    await feed.send(_contact(Side.EXCHANGE, "AAMk-21", "ck1", op=Op.CREATE))
    assert len(await _commands(pool)) == 1  # held, not created in Salesforce
    held = await pool.fetchrow("SELECT deferred, last_reason FROM seen_records")
    assert held["deferred"]
    assert held["last_reason"] == "awaiting_create_outcome"
    await feed.send(_applied(create, "AAMk-21", "ck1"))
    assert len(await _commands(pool)) == 1
    links = await pool.fetch("SELECT exchange_id, salesforce_id FROM links")
    assert [(r["exchange_id"], r["salesforce_id"]) for r in links] == [
        ("AAMk-21", "003000000000021AAA")
    ]
    assert await pool.fetchval("SELECT count(*) FROM seen_records") == 0


async def test_ls71_a_held_lookalike_is_created_once_the_awaited_create_is_in(
    pool: asyncpg.Pool[Any], feed: Feed
) -> None:
    """A different Outlook contact that shares a match key with a create in flight waits for
    that create's outcome, then syncs as the new record it is."""
    await feed.send(_done(Side.EXCHANGE), _done(Side.SALESFORCE))
    await feed.send(_contact(Side.SALESFORCE, "003000000000022AAA", "m1", op=Op.CREATE))
    [create] = await _commands(pool)
    await feed.send(
        _contact(Side.EXCHANGE, "AAMk-other", "ck9", op=Op.CREATE, email="grace.h@navy.test")
    )
    assert len(await _commands(pool)) == 1  # same name: held until the outcome
    await feed.send(_applied(create, "AAMk-22", "ck1"))
    commands = await _commands(pool)
    assert [(c.side, c.action) for c in commands] == [
        (Side.EXCHANGE, CommandAction.CREATE),
        (Side.SALESFORCE, CommandAction.CREATE),
    ]
    assert isinstance(commands[-1].record, Contact)
    assert commands[-1].record.email == "grace.h@navy.test"


async def test_a_replayed_batch_is_skipped_by_the_stored_position(
    pool: asyncpg.Pool[Any], feed: Feed
) -> None:
    await feed.send(_done(Side.EXCHANGE), _done(Side.SALESFORCE))
    batch = await feed.send(_contact(Side.EXCHANGE, "AAMk-3", "ck1", op=Op.CREATE))
    before = await pool.fetchval("SELECT count(*) FROM outbox")
    await feed.handler(batch)  # redelivered after a crash before the Kafka commit
    assert await pool.fetchval("SELECT count(*) FROM outbox") == before
    position = await pool.fetchval(
        "SELECT next_offset FROM processed_offsets WHERE consumer_group = 'test-reconciler'"
    )
    assert position == batch[-1].offset + 1


def _decisions(outcome: str, reason: str) -> float:
    value = REGISTRY.get_sample_value(
        "syncline_reconciler_decisions_total", {"outcome": outcome, "reason": reason}
    )
    return value or 0.0


async def test_decisions_are_counted_once_when_their_batch_commits(
    pool: asyncpg.Pool[Any], feed: Feed, monkeypatch: pytest.MonkeyPatch
) -> None:
    await feed.send(_done(Side.EXCHANGE), _done(Side.SALESFORCE))
    before = _decisions("apply", "created")

    async def crash(*args: object) -> None:
        raise RuntimeError("crash mid-batch")

    monkeypatch.setattr(link_store, "save_links", crash)
    with pytest.raises(RuntimeError):
        await feed.send(_contact(Side.EXCHANGE, "AAMk-7", "ck1", op=Op.CREATE))
    assert _decisions("apply", "created") == before  # rolled back: nothing happened
    monkeypatch.undo()
    await feed.handler(feed.log[-1:])  # the consumer loop retries the batch
    assert _decisions("apply", "created") == before + 1
    assert len(await _commands(pool)) == 1


async def test_a_record_that_syncs_again_closes_its_error_and_counts_in_the_user_status(
    pool: asyncpg.Pool[Any], feed: Feed
) -> None:
    await feed.send(_done(Side.EXCHANGE), _done(Side.SALESFORCE))
    await feed.send(_contact(Side.EXCHANGE, "AAMk-8", "ck1", op=Op.CREATE))
    [first] = await _commands(pool)
    refused = _applied(first, "", "").model_copy(
        update={
            "id": f"failed/{first.id}",
            "status": OutcomeStatus.FAILED,
            "record_id": None,
            "version": None,
            "record": None,
            "error": SyncError(code="field_custom_validation", message="Phone is invalid"),
        }
    )
    await feed.send(refused)
    errors = "SELECT code, resolved_at FROM sync_errors WHERE link_id = $1"
    [error] = await pool.fetch(errors, first.link_id)
    assert error["resolved_at"] is None
    # The rep fixes the contact; its create goes out again and is applied, together with a
    # second contact's create, in one batch: the error closes and both writes count.
    await feed.send(
        _contact(Side.EXCHANGE, "AAMk-8", "ck2", op=Op.UPDATE, business_phone="+1 555 0100"),
        _contact(Side.EXCHANGE, "AAMk-9", "ck1", op=Op.CREATE, email="alan@navy.test"),
    )
    again, other = (await _commands(pool))[1:]
    await feed.send(
        _applied(again, "003000000000008AAA", "m1"), _applied(other, "003000000000009AAA", "m1")
    )
    [error] = await pool.fetch(errors, first.link_id)
    assert error["resolved_at"] is not None
    counters = await pool.fetchval(
        "SELECT counters FROM statuses WHERE user_id = $1 AND side = 'reconciler'"
        " AND object = 'contact'",
        USER,
    )
    assert counters["exchange_to_salesforce"] == 2


async def test_users_without_configuration_do_not_sync(pool: asyncpg.Pool[Any], feed: Feed) -> None:
    await pool.execute("DELETE FROM assignments")
    await feed.send(_user().model_copy(update={"version": "2", "id": "salesforce/u/2"}))
    row = await pool.fetchrow("SELECT link_state, link_reason FROM sync_users")
    assert (row["link_state"], row["link_reason"]) == ("not_linked", "no_configuration")
    await feed.send(
        _done(Side.EXCHANGE),
        _done(Side.SALESFORCE),
        _contact(Side.EXCHANGE, "AAMk-4", "ck1", op=Op.CREATE),
    )
    assert await _commands(pool) == []


async def test_changes_right_after_the_user_joins_the_roster_in_one_batch_are_kept(
    pool: asyncpg.Pool[Any],
) -> None:
    feed = Feed(ChangesHandler(pool, "test-reconciler", clock=lambda: NOW))
    await feed.send(
        _user(),
        _done(Side.EXCHANGE),
        _done(Side.SALESFORCE),
        _contact(Side.EXCHANGE, "AAMk-5", "ck1", op=Op.CREATE),
    )
    assert [c.action for c in await _commands(pool)] == [CommandAction.CREATE]


async def test_a_new_snapshot_closes_the_barrier_until_it_completes(
    pool: asyncpg.Pool[Any], feed: Feed
) -> None:
    await feed.send(_done(Side.EXCHANGE), _done(Side.SALESFORCE))
    await feed.send(
        _started(Side.SALESFORCE),
        _contact(Side.EXCHANGE, "AAMk-6", "ck1", op=Op.CREATE),
    )
    assert await _commands(pool) == []  # held: Salesforce may still hold this person
    await feed.send(_contact(Side.SALESFORCE, "003000000000006AAA", "m1"), _done(Side.SALESFORCE))
    assert CommandAction.CREATE not in [c.action for c in await _commands(pool)]
    [link] = await pool.fetch("SELECT exchange_id, salesforce_id FROM links")
    assert (link["exchange_id"], link["salesforce_id"]) == ("AAMk-6", "003000000000006AAA")


async def test_a_barrier_passed_and_closed_again_within_one_batch_stays_closed(
    pool: asyncpg.Pool[Any], feed: Feed
) -> None:
    """Passes are written with the batch; a snapshot starting later in the same batch still
    closes the barrier (the pass is written before the close)."""
    await feed.send(
        _done(Side.EXCHANGE),
        _done(Side.SALESFORCE),
        _started(Side.SALESFORCE),
        _contact(Side.EXCHANGE, "AAMk-7", "ck1", op=Op.CREATE),
    )
    sides = await pool.fetch("SELECT side FROM sync_barriers WHERE user_id = $1", USER)
    assert [row["side"] for row in sides] == ["exchange"]
    assert await _commands(pool) == []  # held until Salesforce's snapshot completes
    await feed.send(_done(Side.SALESFORCE))
    assert [c.action for c in await _commands(pool)] == [CommandAction.CREATE]


async def test_ls82_errors_name_the_direction_the_record_could_not_go(
    pool: asyncpg.Pool[Any], feed: Feed
) -> None:
    """A Salesforce record that can't go to Exchange is a salesforce_to_exchange error."""
    from syncmodel import Event

    await feed.send(_done(Side.EXCHANGE), _done(Side.SALESFORCE))
    classic = Event(
        subject="Weekly (Classic)",
        start=NOW,
        end=NOW + dt.timedelta(hours=1),
        classic_recurrence=True,
    )
    await feed.send(
        ChangeEvent(
            id="salesforce/00U1/1",
            tenant=TENANT,
            user=USER,
            side=Side.SALESFORCE,
            kind=Kind.EVENT,
            op=Op.CREATE,
            record_id="00U000000000001AAA",
            version="1",
            after=classic,
            captured_ts=NOW,
        )
    )
    [row] = await pool.fetch("SELECT code, direction, salesforce_id FROM sync_errors")
    assert row["code"] == "classic_recurrence_unsupported"
    assert row["direction"] == "salesforce_to_exchange"
    assert row["salesforce_id"] == "00U000000000001AAA"


async def test_ls82_a_value_cut_to_fit_salesforce_is_in_the_audit_trail(
    pool: asyncpg.Pool[Any], feed: Feed
) -> None:
    """A job title longer than Salesforce's Title (128) is written cut, and the cut recorded."""
    await feed.send(_done(Side.EXCHANGE), _done(Side.SALESFORCE))
    title = ("Head of " + "Strategic Partnerships " * 8).strip()
    await feed.send(_contact(Side.EXCHANGE, "AAMk-9", "ck1", op=Op.CREATE, title=title))
    [create] = await _commands(pool)
    assert isinstance(create.record, Contact)
    assert create.record.title == title[:128].rstrip()
    [row] = await pool.fetch("SELECT * FROM audit_log")
    assert (row["action"], row["field"], row["reason"]) == (
        "truncate_salesforce",
        "title",
        "truncated",
    )
    assert row["link_id"] == create.link_id
    assert row["old_value"] == {"length": len(title)}
    assert row["new_value"] == {"max_length": 128}


async def test_ls46_unrelated_attendees_are_reported_and_stay_open_after_the_create(
    pool: asyncpg.Pool[Any], feed: Feed
) -> None:
    """An Outlook meeting whose attendee matches no Salesforce contact or lead: the event syncs
    and the attendee is reported as an Unresolved Item, which the create's success keeps open."""
    from syncmodel import Attendee, Event

    await feed.send(_done(Side.EXCHANGE), _done(Side.SALESFORCE))
    meeting = Event(
        subject="Intro call",
        start=NOW + dt.timedelta(days=1),
        end=NOW + dt.timedelta(days=1, hours=1),
        attendees=(Attendee(email="stranger@nowhere.test"), Attendee(email="ada@acme.test")),
    )
    await feed.send(
        ChangeEvent(
            id="exchange/AAMk-ev/1",
            tenant=TENANT,
            user=USER,
            side=Side.EXCHANGE,
            kind=Kind.EVENT,
            op=Op.CREATE,
            record_id="AAMk-ev",
            version="ck1",
            after=meeting,
            captured_ts=NOW,
        )
    )
    [create] = await _commands(pool)
    assert create.side is Side.SALESFORCE
    await feed.send(_applied(create, "00U000000000009AAA", "m1"))
    [row] = await pool.fetch("SELECT * FROM sync_errors")
    assert row["code"] == "event_unresolved"
    assert row["direction"] == "exchange_to_salesforce"
    assert row["exchange_id"] == "AAMk-ev"
    assert "stranger@nowhere.test" in row["reason"]
    assert "ada@acme.test" not in row["reason"]  # the rep is no attendee to relate
    assert row["resolved_at"] is None


async def test_the_batch_lookups_never_scan_a_table(
    pool: asyncpg.Pool[Any],
) -> None:
    """Each batch finds its links by record, the open links awaiting a side (creates in flight,
    for echo detection) per user, and closes the open errors of links that synced again: with
    sequential scans priced out, no plan may read a whole table (a cost that grows with every
    tenant's size)."""
    rows = (["acme", "acme"], ["u1", "u1"], ["contact", "event"], ["exchange", "salesforce"])
    async with pool.acquire() as conn:
        await conn.execute("SET enable_seqscan = off")
        for query, args in (
            (
                link_store._LOAD_LINKS,
                (joined(["lnk_1"]), *map(joined, rows), joined(["AAMk1", "003A"])),
            ),
            (echoes._IN_FLIGHT, rows),
            (journal.RESOLVE_ERRORS, (*rows[:2], ["lnk_1", "lnk_2"], "event_unresolved")),
        ):
            plan = "\n".join(r[0] for r in await conn.fetch("EXPLAIN " + query, *args))
            assert "Seq Scan" not in plan, plan


async def test_a_dead_lettered_create_fails_its_link_and_frees_what_was_held_for_it(
    pool: asyncpg.Pool[Any], feed: Feed
) -> None:
    """The Exchange connector gives up on a create (dead-letters it): no outcome would ever
    come, so the link and a lookalike held for that create would wait for good. The letter
    becomes a failed outcome: the link goes to error with a reason, the lookalike syncs."""
    await feed.send(_done(Side.EXCHANGE), _done(Side.SALESFORCE))
    await feed.send(_contact(Side.SALESFORCE, "003000000000031AAA", "m1", op=Op.CREATE))
    [create] = await _commands(pool)
    await feed.send(
        _contact(Side.EXCHANGE, "AAMk-look", "ck9", op=Op.CREATE, email="grace.h@navy.test")
    )
    assert len(await _commands(pool)) == 1  # held until the create's outcome

    def letter(value: str, consumer: str = "syncline-exchange-connector") -> DeadLetter:
        return DeadLetter(
            topic="syncline.commands.exchange",
            partition=0,
            offset=7,
            key=f"{TENANT}/{USER}",
            value=value,
            error="handler failed 5 times: ErrorItemSave('boom')",
            consumer=consumer,
            ts=NOW,
        )

    letters = DeadLetterHandler(pool, "test-reconciler-dlq", clock=lambda: NOW)
    for offset, item in enumerate(
        [
            letter(create.to_json().decode()),
            letter(create.to_json().decode()),  # redelivered
            letter(_done(Side.EXCHANGE).to_json().decode()),  # not a command
            letter(create.to_json().decode(), consumer="test-reconciler-dlq"),  # our own
        ]
    ):
        await letters([Consumed("syncline.dlq", 0, offset, item.key, item, 0)])
    rows = await pool.fetch(
        "SELECT payload FROM outbox WHERE topic = 'syncline.changes' ORDER BY id"
    )
    assert len(rows) == 1
    outcome = CommandOutcome.model_validate(rows[0]["payload"])
    assert (outcome.command_id, outcome.status) == (create.id, OutcomeStatus.FAILED)

    await feed.send(outcome)
    link = await pool.fetchrow("SELECT state FROM links WHERE link_id = $1", create.link_id)
    assert link["state"]["state"] == "error"
    assert link["state"]["pending"] == []
    error = await pool.fetchrow("SELECT code, reason FROM sync_errors")
    assert error["code"] == "write_abandoned"
    assert "gave up on this create" in error["reason"]
    commands = await _commands(pool)
    assert [(c.side, c.action) for c in commands] == [
        (Side.EXCHANGE, CommandAction.CREATE),
        (Side.SALESFORCE, CommandAction.CREATE),
    ]
    assert isinstance(commands[-1].record, Contact)
    assert commands[-1].record.email == "grace.h@navy.test"


async def test_ls71_a_lookalike_stays_held_while_its_create_is_retried(
    pool: asyncpg.Pool[Any], feed: Feed
) -> None:
    """A transient failure of the create it waits for retries that create, which may even
    have been written (a timeout after the write): the held capture is looked at again and
    held again (the create is still in flight), and is recognized as the echo once the retry
    finds the contact; deciding it as new would send a second contact to Salesforce."""
    await feed.send(_done(Side.EXCHANGE), _done(Side.SALESFORCE))
    await feed.send(_contact(Side.SALESFORCE, "003000000000041AAA", "m1", op=Op.CREATE))
    [create] = await _commands(pool)
    await feed.send(_contact(Side.EXCHANGE, "AAMk-41", "ck1", op=Op.CREATE))
    assert len(await _commands(pool)) == 1  # held: may be the echo of our create
    timed_out = CommandOutcome.of(
        create,
        outcome_id=f"failed/{create.id}",
        status=OutcomeStatus.FAILED,
        error=SyncError(code="ErrorTimeoutExpired", message="timed out", retryable=True),
        applied_ts=NOW,
    )
    await feed.send(timed_out)
    held = await pool.fetchrow("SELECT deferred, last_reason FROM seen_records")
    assert held["deferred"]
    assert held["last_reason"] == "awaiting_create_outcome"
    rows = await pool.fetch("SELECT payload FROM outbox WHERE topic LIKE 'syncline.commands.%'")
    assert len(rows) == 2  # the retry of the create, nothing toward Salesforce
    assert {Command.model_validate(r["payload"]).id for r in rows} == {create.id}
    # The retry finds the contact the first try wrote: the held capture is its echo.
    await feed.send(_applied(create, "AAMk-41", "ck1"))
    links = await pool.fetch("SELECT exchange_id, salesforce_id FROM links")
    assert [(r["exchange_id"], r["salesforce_id"]) for r in links] == [
        ("AAMk-41", "003000000000041AAA")
    ]
    assert await pool.fetchval("SELECT count(*) FROM seen_records") == 0
