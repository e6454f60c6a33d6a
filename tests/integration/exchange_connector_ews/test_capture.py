"""EWS capture: SyncFolderItems snapshot, incremental rounds, paging, SyncState loss,
throttling and impersonation, published to the real broker with cursors in PostgreSQL."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from ewsclient.client import EwsClient
from ewsclient.errors import AutodiscoverFailed, ImpersonationDenied
from ewsclient.folders import ensure_sync_folder
from exchange_connector.ews.capture import EwsMailboxCapture, ews_capture_pass
from exchange_connector.ews.sink import EwsCommandSink
from syncmodel.kinds import Kind, Op
from syncmodel.messages import CommandAction, OutcomeStatus
from syncmodel.records import Contact, Event, EventType, Recurrence

from tests.integration.exchange_connector_ews.conftest import ChangesReader, Sim, command

pytestmark = pytest.mark.integration


async def _contacts(capture: EwsMailboxCapture, count: int) -> dict[str, str]:
    """Create contacts through the sink; returns record id -> link id."""
    sink = EwsCommandSink(capture.client)
    created = {}
    for i in range(count):
        cmd = command(
            capture,
            Kind.CONTACT,
            CommandAction.CREATE,
            Contact(first_name=f"C{i}", last_name="Buyer", email=f"c{i}@customer.example"),
        )
        outcome = await sink.apply(cmd, capture.mailbox, capture.folder_id)
        assert outcome.status is OutcomeStatus.APPLIED, outcome.error
        assert outcome.record_id is not None
        created[outcome.record_id] = cmd.link_id
    return created


async def test_snapshot_then_incremental_changes(
    capture: EwsMailboxCapture, changes: ChangesReader
) -> None:
    created = await _contacts(capture, 3)
    assert await ews_capture_pass(capture, Kind.CONTACT) == 3
    snapshot = await changes.read(3)
    assert {e.record_id for e in snapshot} == set(created)
    assert {e.op for e in snapshot} == {Op.READ}
    assert {e.cause for e in snapshot} == {"snapshot"}
    # The marker we wrote reads back as the link id (echo recognition).
    assert {
        e.record_id: e.after.marker for e in snapshot if isinstance(e.after, Contact)
    } == created
    cursor = await capture.cursors.get(capture.tenant, capture.scope, Kind.CONTACT)
    assert cursor is not None

    first, second, third = (e for e in snapshot)
    sink = EwsCommandSink(capture.client)
    assert isinstance(first.after, Contact)
    update = command(
        capture,
        Kind.CONTACT,
        CommandAction.UPDATE,
        first.after.model_copy(update={"title": "VP Sales"}),
        record_id=first.record_id,
        if_version=first.version,
    )
    assert (await sink.apply(update, capture.mailbox, capture.folder_id)).status is (
        OutcomeStatus.APPLIED
    )
    delete = command(capture, Kind.CONTACT, CommandAction.DELETE, record_id=second.record_id)
    assert (await sink.apply(delete, capture.mailbox, capture.folder_id)).status is (
        OutcomeStatus.APPLIED
    )
    assert await ews_capture_pass(capture, Kind.CONTACT) == 2
    later = {e.record_id: e for e in await changes.read(2)}
    assert later[first.record_id].op is Op.UPDATE
    assert isinstance(later[first.record_id].after, Contact)
    assert later[first.record_id].after.title == "VP Sales"  # type: ignore[union-attr]
    assert later[second.record_id].op is Op.DELETE
    assert third.record_id not in later
    assert await ews_capture_pass(capture, Kind.CONTACT) == 0


async def test_pages_of_at_most_page_size_and_rebaseline_on_invalid_state(
    sim: Sim, capture: EwsMailboxCapture, changes: ChangesReader
) -> None:
    await _contacts(capture, 5)
    capture.page_size = 2
    calls_before = capture.client.calls["SyncFolderItems"]
    assert await ews_capture_pass(capture, Kind.CONTACT) == 5
    assert capture.client.calls["SyncFolderItems"] - calls_before == 3  # 2 + 2 + 1
    assert len(await changes.read(5)) == 5
    # ErrorInvalidSyncStateData: drop the state and re-read the folder as a snapshot.
    await sim.control.post("/_sim/invalidate-sync")
    assert await ews_capture_pass(capture, Kind.CONTACT) == 5
    again = await changes.read(5)
    assert {(e.op, e.cause) for e in again} == {(Op.READ, "rebaseline")}


async def test_calendar_series_with_a_cancelled_occurrence(
    sim: Sim, capture: EwsMailboxCapture, changes: ChangesReader
) -> None:
    start = dt.datetime(2026, 12, 1, 17, tzinfo=dt.UTC)
    series = Event(
        subject="Weekly pipeline",
        start=start,
        end=start + dt.timedelta(minutes=30),
        time_zone="America/Los_Angeles",
        event_type=EventType.SERIES_MASTER,
        recurrence=Recurrence(
            rrule="FREQ=WEEKLY;INTERVAL=1;BYDAY=TU;WKST=SU;COUNT=5",
            time_zone="America/Los_Angeles",
            start_date=start.date(),
        ),
    )
    outcome = await EwsCommandSink(capture.client).apply(
        command(capture, Kind.EVENT, CommandAction.CREATE, series), capture.mailbox, None
    )
    assert outcome.status is OutcomeStatus.APPLIED, outcome.error
    await sim.control.post(
        "/_sim/cancel-occurrence",
        json={
            "smtp": capture.mailbox,
            "item_id": outcome.record_id,
            "start": "2026-12-08T17:00:00Z",
        },
    )
    assert await ews_capture_pass(capture, Kind.EVENT) == 1
    (event,) = await changes.read(1)
    assert isinstance(event.after, Event)
    assert event.after.recurrence is not None
    assert event.after.recurrence.rrule == series.recurrence.rrule  # type: ignore[union-attr]
    assert event.after.recurrence.exdates == (dt.datetime(2026, 12, 8, 17, tzinfo=dt.UTC),)


async def test_modified_occurrences_are_published_as_exceptions_of_their_series(
    sim: Sim, capture: EwsMailboxCapture, changes: ChangesReader
) -> None:
    start = dt.datetime(2026, 12, 2, 16, tzinfo=dt.UTC)
    series = Event(
        subject="Daily sync",
        start=start,
        end=start + dt.timedelta(minutes=15),
        event_type=EventType.SERIES_MASTER,
        recurrence=Recurrence(
            rrule="FREQ=DAILY;INTERVAL=1;COUNT=5", time_zone="UTC", start_date=start.date()
        ),
    )
    created = await EwsCommandSink(capture.client).apply(
        command(capture, Kind.EVENT, CommandAction.CREATE, series), capture.mailbox, None
    )
    assert created.record_id is not None

    async def move(day: int, subject: str) -> str:
        response = await sim.control.post(
            "/_sim/modify-occurrence",
            json={
                "smtp": capture.mailbox,
                "item_id": created.record_id,
                "original_start": f"2026-12-0{day}T16:00:00Z",
                "start": f"2026-12-0{day}T18:00:00Z",
                "end": f"2026-12-0{day}T18:30:00Z",
                "subject": subject,
            },
        )
        return str(response.json()["id"])

    first = await move(3, "Moved once")
    assert await ews_capture_pass(capture, Kind.EVENT) == 2
    by_id = {e.record_id: e for e in await changes.read(2)}
    exception = by_id[first].after
    assert isinstance(exception, Event)
    assert exception.event_type is EventType.EXCEPTION
    assert exception.series_master_id == created.record_id
    assert exception.original_start == dt.datetime(2026, 12, 3, 16, tzinfo=dt.UTC)
    assert exception.start == dt.datetime(2026, 12, 3, 18, tzinfo=dt.UTC)
    assert exception.subject == "Moved once"
    assert by_id[first].op is Op.READ
    second = await move(4, "Moved twice")
    assert await ews_capture_pass(capture, Kind.EVENT) == 3  # the master and both exceptions
    later = {e.record_id: e for e in await changes.read(3)}
    assert later[created.record_id].op is Op.UPDATE
    assert later[second].op is Op.CREATE
    assert later[first].id == by_id[first].id  # unchanged: the same change-event id again
    # Syncline edits an exception (a Salesforce change to one occurrence): UpdateItem on it.
    moved = later[first].after
    assert isinstance(moved, Event)
    outcome = await EwsCommandSink(capture.client).apply(
        command(
            capture,
            Kind.EVENT,
            CommandAction.UPDATE,
            moved.model_copy(update={"subject": "Renamed exception"}),
            record_id=first,
            if_version=later[first].version,
        ),
        capture.mailbox,
        None,
    )
    assert outcome.status is OutcomeStatus.APPLIED, outcome.error
    assert await ews_capture_pass(capture, Kind.EVENT) == 3
    final = {e.record_id: e.after for e in await changes.read(3)}
    renamed = final[first]
    assert isinstance(renamed, Event)
    assert (renamed.subject, renamed.event_type) == ("Renamed exception", EventType.EXCEPTION)
    assert renamed.start == exception.start


async def test_server_busy_is_retried_after_the_back_off(
    sim: Sim, capture: EwsMailboxCapture, changes: ChangesReader
) -> None:
    await _contacts(capture, 1)
    await sim.control.post("/_sim/throttle", json={"count": 2, "back_off_ms": 150})
    started = time.monotonic()
    assert await ews_capture_pass(capture, Kind.CONTACT) == 1
    assert time.monotonic() - started >= 0.3
    assert sum(capture.client.throttled.values()) == 2
    assert len(await changes.read(1)) == 1


async def test_impersonation_denied_and_autodiscover(sim: Sim, client: EwsClient) -> None:
    denied = await sim.new_mailbox(impersonable=False)
    with pytest.raises(ImpersonationDenied) as caught:
        await ensure_sync_folder(client, denied)
    assert caught.value.to_sync_error().remediation is not None
    # No EWS URL configured: POX Autodiscover finds it per mailbox.
    discovering = sim.client(ews_url=None, autodiscover_url=sim.credentials["autodiscover_url"])
    try:
        allowed = await sim.new_mailbox()
        folder_id = await ensure_sync_folder(discovering, allowed)
        assert folder_id == await ensure_sync_folder(discovering, allowed)  # found, not re-made
        assert discovering.urls[allowed] == sim.credentials["ews_url"]
        with pytest.raises(AutodiscoverFailed):
            await ensure_sync_folder(discovering, "ghost@contoso-sim.example")
    finally:
        await discovering.aclose()
    # SOAP Autodiscover (GetUserSettings) finds the same URL.
    soap = sim.client(ews_url=None, autodiscover_url=sim.credentials["autodiscover_soap_url"])
    try:
        mailbox = await sim.new_mailbox()
        assert await soap.url_for(mailbox) == sim.credentials["ews_url"]
        with pytest.raises(AutodiscoverFailed) as unknown:
            await soap.url_for("ghost@contoso-sim.example")
        assert unknown.value.code == "AutodiscoverInvalidUser"
    finally:
        await soap.aclose()
