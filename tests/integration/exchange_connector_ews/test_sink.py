"""EWS apply: CreateItem/UpdateItem/DeleteItem outcomes, invitations and ChangeKey conflicts,
against the EWS simulator over HTTPS."""

from __future__ import annotations

import datetime as dt

import pytest
from exchange_connector.ews.capture import EwsMailboxCapture
from exchange_connector.ews.sink import EwsCommandSink
from exchange_connector.offsets import CreateAttempts
from syncmodel.kinds import Kind
from syncmodel.messages import CommandAction, OutcomeStatus
from syncmodel.records import Attendee, Contact, Event

from tests.integration.exchange_connector_ews.conftest import Sim, command

pytestmark = pytest.mark.integration


def _meeting() -> Event:
    start = dt.datetime(2026, 12, 2, 18, tzinfo=dt.UTC)
    return Event(
        subject="Demo",
        start=start,
        end=start + dt.timedelta(hours=1),
        time_zone="America/New_York",
        attendees=(Attendee(email="buyer@customer.example", name="Buyer"),),
    )


async def test_contact_update_on_a_stale_change_key_is_a_conflict(
    sim: Sim, capture: EwsMailboxCapture
) -> None:
    sink = EwsCommandSink(capture.client)
    contact = Contact(
        first_name="Grace", last_name="Hopper", email="grace@navy.example", title="Rear Admiral"
    )
    created = await sink.apply(
        command(capture, Kind.CONTACT, CommandAction.CREATE, contact),
        capture.mailbox,
        capture.folder_id,
    )
    assert created.status is OutcomeStatus.APPLIED
    assert created.record == contact.model_copy(update={"marker": created.link_id})
    stale = created.version
    changed = await sink.apply(
        command(
            capture,
            Kind.CONTACT,
            CommandAction.UPDATE,
            contact.model_copy(update={"company": "Navy", "title": None}),
            record_id=created.record_id,
            if_version=stale,
        ),
        capture.mailbox,
        capture.folder_id,
    )
    assert changed.status is OutcomeStatus.APPLIED
    assert changed.version != stale
    conflict = await sink.apply(
        command(
            capture,
            Kind.CONTACT,
            CommandAction.UPDATE,
            contact,
            record_id=created.record_id,
            if_version=stale,
        ),
        capture.mailbox,
        capture.folder_id,
    )
    assert conflict.status is OutcomeStatus.CONFLICT
    assert conflict.error is not None
    assert conflict.error.code == "ErrorIrresolvableConflict"
    stale_delete = await sink.apply(
        command(
            capture,
            Kind.CONTACT,
            CommandAction.DELETE,
            record_id=created.record_id,
            if_version=stale,
        ),
        capture.mailbox,
        capture.folder_id,
    )
    assert stale_delete.status is OutcomeStatus.CONFLICT
    items = (await sim.state(capture.mailbox))["items"]
    assert [i["id"] for i in items] == [created.record_id]
    # Cleared fields are cleared (full overwrite, LS-29), not left behind.
    record = changed.record
    assert isinstance(record, Contact)
    assert (record.company, record.title) == ("Navy", None)
    assert "JobTitle" not in items[0]["xml"]


async def test_meetings_are_written_without_invitations_unless_allowed(
    sim: Sim, capture: EwsMailboxCapture
) -> None:
    sink = EwsCommandSink(capture.client)
    quiet = await sink.apply(
        command(capture, Kind.EVENT, CommandAction.CREATE, _meeting()), capture.mailbox, None
    )
    assert quiet.status is OutcomeStatus.APPLIED, quiet.error
    assert isinstance(quiet.record, Event)
    assert quiet.record.attendees == ()  # not written: Exchange would mail them
    assert quiet.record.time_zone == "America/New_York"
    deleted = await sink.apply(
        command(capture, Kind.EVENT, CommandAction.DELETE, record_id=quiet.record_id),
        capture.mailbox,
        None,
    )
    assert deleted.status is OutcomeStatus.APPLIED
    assert (await sim.state(capture.mailbox))["sent"] == []
    loud = await sink.apply(
        command(capture, Kind.EVENT, CommandAction.CREATE, _meeting(), notify=True),
        capture.mailbox,
        None,
    )
    assert loud.status is OutcomeStatus.APPLIED
    sent = (await sim.state(capture.mailbox))["sent"]
    assert [(s["type"], s["to"]) for s in sent] == [("invitation", "buyer@customer.example")]
    # Deleting an already deleted item still reaches the goal.
    again = await sink.apply(
        command(capture, Kind.EVENT, CommandAction.DELETE, record_id=quiet.record_id),
        capture.mailbox,
        None,
    )
    assert again.status is OutcomeStatus.APPLIED


async def test_a_redelivered_create_finds_its_first_write(
    sim: Sim, capture: EwsMailboxCapture
) -> None:
    sink = EwsCommandSink(capture.client, CreateAttempts(capture.cursors.pool))
    for kind, record, folder in (
        (Kind.CONTACT, Contact(first_name="Once", email="once@x.example"), capture.folder_id),
        (Kind.EVENT, _meeting(), None),
    ):
        cmd = command(capture, kind, CommandAction.CREATE, record)
        first = await sink.apply(cmd, capture.mailbox, folder)
        before = capture.client.calls["FindItem"]
        again = await sink.apply(cmd, capture.mailbox, folder)  # the broker redelivered it
        assert capture.client.calls["FindItem"] == before + 1
        assert (first.status, again.status) == (OutcomeStatus.APPLIED, OutcomeStatus.APPLIED)
        assert again.record_id == first.record_id
    items = (await sim.state(capture.mailbox))["items"]
    assert len(items) == 2
