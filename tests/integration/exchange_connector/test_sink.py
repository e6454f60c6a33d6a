"""Apply against the Graph simulator and the real broker: idempotent creates (transactionId and
marker), If-Match conflicts, deletes, no invitations for Salesforce-originated events, and one
command travelling through `syncline.commands.exchange` to its outcome."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import pytest
from exchange_connector.mapping import MARKER_PROPERTY
from exchange_connector.service import Connector, command_decoder
from syncmodel.kinds import Kind, Side
from syncmodel.messages import Command, CommandAction, CommandOutcome, OutcomeStatus
from syncmodel.records import Attendee, Contact, Event, Record
from syncmodel.topics import COMMANDS_EXCHANGE
from syncruntime.kafka import ConsumerLoop, publish
from syncruntime.settings import KafkaSettings

from tests.integration.exchange_connector.conftest import ChangesReader, Sim, roster_entry

pytestmark = pytest.mark.integration


def _command(
    connector: Connector,
    user: str,
    kind: Kind,
    action: CommandAction,
    record: Record | None = None,
    record_id: str | None = None,
    if_version: str | None = None,
    command_id: str | None = None,
) -> Command:
    return Command(
        id=command_id or f"cmd-{uuid.uuid4().hex[:10]}",
        tenant=connector.tenant,
        user=user,
        side=Side.EXCHANGE,
        kind=kind,
        action=action,
        link_id="link-1",
        record_id=record_id,
        if_version=if_version,
        record=record,
        issued_ts=dt.datetime.now(dt.UTC),
    )


async def _outcome(changes: ChangesReader) -> CommandOutcome:
    messages = await changes.read(count=1)
    outcomes = [m for m in messages if isinstance(m, CommandOutcome)]
    assert outcomes, messages
    return outcomes[0]


async def test_contact_create_is_idempotent_update_conflicts_on_stale_version_and_delete_applies(
    sim: Sim, connector: Connector, changes: ChangesReader
) -> None:
    rep = await sim.new_rep()
    entry = roster_entry(connector, rep["upn"])
    create = _command(
        connector,
        entry.user,
        Kind.CONTACT,
        CommandAction.CREATE,
        Contact(first_name="Ada", last_name="L", email="ada@x.example"),
    )
    await connector.apply(create)
    first = await _outcome(changes)
    assert first.status is OutcomeStatus.APPLIED
    assert isinstance(first.record, Contact)
    assert first.record.marker == "link-1"
    await connector.apply(create)  # redelivered command
    again = await _outcome(changes)
    assert again.record_id == first.record_id
    state = await sim.state(rep["upn"])
    assert len(state["contacts"]) == 1
    assert state["contacts"][0]["parentFolderId"] == rep["syncFolderId"]
    assert state["contacts"][0]["singleValueExtendedProperties"][0]["id"] == MARKER_PROPERTY

    updated = Contact(first_name="Ada", last_name="Lovelace", email="ada@x.example")
    await connector.apply(
        _command(
            connector,
            entry.user,
            Kind.CONTACT,
            CommandAction.UPDATE,
            updated,
            first.record_id,
            "stale",
        )
    )
    conflict = await _outcome(changes)
    assert conflict.status is OutcomeStatus.CONFLICT
    assert conflict.error is not None
    assert conflict.error.code == "ErrorIrresolvableConflict"
    await connector.apply(
        _command(
            connector,
            entry.user,
            Kind.CONTACT,
            CommandAction.UPDATE,
            updated,
            first.record_id,
            first.version,
        )
    )
    applied = await _outcome(changes)
    assert applied.status is OutcomeStatus.APPLIED
    assert applied.version != first.version
    await connector.apply(
        _command(
            connector,
            entry.user,
            Kind.CONTACT,
            CommandAction.DELETE,
            None,
            first.record_id,
            applied.version,
        )
    )
    assert (await _outcome(changes)).status is OutcomeStatus.APPLIED
    assert (await sim.state(rep["upn"]))["contacts"] == []


async def test_event_create_uses_transaction_id_and_sends_no_invitations(
    sim: Sim, connector: Connector, changes: ChangesReader
) -> None:
    rep = await sim.new_rep()
    entry = roster_entry(connector, rep["upn"])
    event = Event(
        subject="From Salesforce",
        start=dt.datetime(2026, 12, 1, 15, tzinfo=dt.UTC),
        end=dt.datetime(2026, 12, 1, 16, tzinfo=dt.UTC),
        time_zone="America/Chicago",
        attendees=(Attendee(email="buyer@fabrikam.example"),),
    )
    create = _command(connector, entry.user, Kind.EVENT, CommandAction.CREATE, event)
    await connector.apply(create)
    await connector.apply(create)
    outcomes = [m for m in await changes.read(count=2) if isinstance(m, CommandOutcome)]
    assert {o.record_id for o in outcomes} == {outcomes[0].record_id}
    state = await sim.state(rep["upn"])
    assert len(state["events"]) == 1
    assert state["events"][0]["transactionId"] == create.id
    assert state["events"][0]["originalStartTimeZone"] == "Central Standard Time"
    assert state["sentMessages"] == []


async def test_failed_write_is_a_classified_failed_outcome(
    sim: Sim, connector: Connector, changes: ChangesReader
) -> None:
    rep = await sim.new_rep()
    entry = roster_entry(connector, rep["upn"])
    await connector.apply(
        _command(
            connector,
            entry.user,
            Kind.EVENT,
            CommandAction.UPDATE,
            Event(
                subject="x",
                start=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
                end=dt.datetime(2026, 1, 1, 1, tzinfo=dt.UTC),
            ),
            record_id="AAMkAGdoesnotexist",
            if_version="v",
        )
    )
    outcome = await _outcome(changes)
    assert outcome.status is OutcomeStatus.FAILED
    assert outcome.error is not None
    assert (outcome.error.code, outcome.error.retryable, outcome.error.scope.value) == (
        "ErrorItemNotFound",
        False,
        "record",
    )


async def test_command_on_the_bus_is_applied_and_answered(
    sim: Sim, connector: Connector, changes: ChangesReader, kafka_settings: KafkaSettings
) -> None:
    rep = await sim.new_rep()
    entry = roster_entry(connector, rep["upn"])
    loop = ConsumerLoop(
        kafka_settings,
        topics=[COMMANDS_EXCHANGE],
        group_id=f"xc-test-{uuid.uuid4().hex[:6]}",
        handler=connector.handle_commands,
        decoder=command_decoder,
        on_assigned=connector.ownership.assigned,
        on_revoked=connector.ownership.revoked,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop))
    try:
        command = _command(
            connector, entry.user, Kind.CONTACT, CommandAction.CREATE, Contact(last_name="ViaBus")
        )
        await publish(
            connector.producer, COMMANDS_EXCHANGE, f"{command.tenant}/{command.user}", command
        )
        outcome = await _outcome(changes)
    finally:
        stop.set()
        await task
    assert outcome.command_id == command.id
    assert outcome.status is OutcomeStatus.APPLIED
