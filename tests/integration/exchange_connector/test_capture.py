"""Capture against the Graph simulator and the real broker/database: snapshot, incremental
changes, deletes, recurrence with exception and cancelled occurrence, 410 re-baseline, 429."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from exchange_connector.mapping import TENANT_CLAIM_PROPERTY
from exchange_connector.service import Connector
from syncmodel.kinds import Kind, Op, Side
from syncmodel.messages import (
    ChangeEvent,
    Command,
    CommandAction,
    CommandOutcome,
    ConnectorState,
    ConnectorStatus,
    OutcomeStatus,
)
from syncmodel.records import Contact, Event, EventType

from tests.integration.exchange_connector.conftest import ChangesReader, Sim, roster_entry

pytestmark = pytest.mark.integration


def _dst_switches(iana: str) -> list[dt.date]:
    """Dates in the next year on which the zone's UTC offset changes."""
    tz = ZoneInfo(iana)
    days = [_day(d) for d in range(1, 366)]
    offsets = [dt.datetime.combine(d, dt.time(12), tzinfo=tz).utcoffset() for d in days]
    return [days[i] for i in range(1, len(days)) if offsets[i] != offsets[i - 1]]


def _day(offset: int) -> dt.date:
    return dt.date.today() + dt.timedelta(days=offset)


async def _arrange_mailbox(sim: Sim) -> dict[str, Any]:
    rep = await sim.new_rep(time_zone="W. Europe Standard Time")
    upn, folder = rep["upn"], rep["syncFolderId"]
    in_folder = [
        (
            await sim.graph.post(
                f"/users/{upn}/contactFolders/{folder}/contacts",
                json={"givenName": n, "surname": "Sync"},
            )
        ).json()
        for n in ("Ada", "Grace")
    ]
    outside = (await sim.graph.post(f"/users/{upn}/contacts", json={"givenName": "Private"})).json()
    tz = "W. Europe Standard Time"
    single = (
        await sim.graph.post(
            f"/users/{upn}/events",
            json={
                "subject": "Demo",
                "start": {"dateTime": f"{_day(3)}T10:00:00", "timeZone": tz},
                "end": {"dateTime": f"{_day(3)}T11:00:00", "timeZone": tz},
            },
        )
    ).json()
    all_day = (
        await sim.graph.post(
            f"/users/{upn}/events",
            json={
                "subject": "Offsite",
                "isAllDay": True,
                "start": {"dateTime": f"{_day(5)}T00:00:00", "timeZone": tz},
                "end": {"dateTime": f"{_day(7)}T00:00:00", "timeZone": tz},
            },
        )
    ).json()
    monday = _day(-_day(0).weekday() + 7)
    series = (
        await sim.graph.post(
            f"/users/{upn}/events",
            json={
                "subject": "Weekly",
                "start": {"dateTime": f"{monday}T09:00:00", "timeZone": tz},
                "end": {"dateTime": f"{monday}T09:30:00", "timeZone": tz},
                "recurrence": {
                    "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"]},
                    "range": {
                        "type": "numbered",
                        "startDate": str(monday),
                        "numberOfOccurrences": 5,
                        "recurrenceTimeZone": tz,
                    },
                },
            },
        )
    ).json()
    lo, hi = f"{monday}T00:00:00Z", f"{monday + dt.timedelta(days=40)}T00:00:00Z"
    instances = (
        await sim.graph.get(
            f"/users/{upn}/events/{series['id']}/instances",
            params={"startDateTime": lo, "endDateTime": hi},
        )
    ).json()["value"]
    instances.sort(key=lambda i: i["start"]["dateTime"])
    moved = (
        await sim.graph.patch(
            f"/users/{upn}/events/{instances[1]['id']}", json={"subject": "Weekly (moved)"}
        )
    ).json()
    await sim.graph.delete(f"/users/{upn}/events/{instances[2]['id']}")
    return {
        "rep": rep,
        "in_folder": in_folder,
        "outside": outside,
        "single": single,
        "all_day": all_day,
        "series": series,
        "exception": moved,
        "cancelled": instances[2],
    }


def _changes(messages: list[Any]) -> list[ChangeEvent]:
    return [m for m in messages if isinstance(m, ChangeEvent)]


async def test_snapshot_publishes_folder_contacts_and_events_as_reads_then_saves_cursors(
    sim: Sim, connector: Connector, changes: ChangesReader
) -> None:
    arranged = await _arrange_mailbox(sim)
    entry = roster_entry(connector, arranged["rep"]["upn"])
    await connector.poll_mailbox(entry)
    messages = await changes.read()
    events = _changes(messages)
    assert {e.op for e in events} == {Op.READ}
    contacts = {e.record_id for e in events if e.kind is Kind.CONTACT}
    # LS-20/LS-22: only the Salesforce_Sync folder syncs.
    assert contacts == {c["id"] for c in arranged["in_folder"]}
    by_id = {e.record_id: e.after for e in events if e.kind is Kind.EVENT}
    assert isinstance(by_id[arranged["single"]["id"]], Event)
    all_day = by_id[arranged["all_day"]["id"]]
    assert isinstance(all_day, Event)
    assert (all_day.start_date, all_day.end_date) == (_day(5), _day(7))
    master = by_id[arranged["series"]["id"]]
    assert isinstance(master, Event)
    assert master.event_type is EventType.SERIES_MASTER
    assert master.recurrence is not None
    assert master.recurrence.time_zone == "Europe/Berlin"
    assert len(master.recurrence.exdates) == 1  # the deleted occurrence, derived
    exception = by_id[arranged["exception"]["id"]]
    assert isinstance(exception, Event)
    assert exception.event_type is EventType.EXCEPTION
    assert exception.series_master_id == arranged["series"]["id"]
    states = [m.state for m in messages if isinstance(m, ConnectorStatus)]
    assert states == [
        ConnectorState.INITIAL_SYNC_IN_PROGRESS,
        ConnectorState.INITIAL_SYNC_COMPLETED,
        ConnectorState.CONNECTED,
    ]
    for kind in (Kind.CONTACT, Kind.EVENT):
        assert await connector.cursors.get(connector.tenant, entry.user, kind) is not None


async def test_incremental_round_reports_updates_creates_and_deletes(
    sim: Sim, connector: Connector, changes: ChangesReader
) -> None:
    rep = await sim.new_rep()
    upn, folder = rep["upn"], rep["syncFolderId"]
    base = f"/users/{upn}/contactFolders/{folder}/contacts"
    a = (await sim.graph.post(base, json={"givenName": "A"})).json()
    b = (await sim.graph.post(base, json={"givenName": "B"})).json()
    entry = roster_entry(connector, upn)
    await connector.poll_mailbox(entry)
    await changes.read()
    await sim.graph.patch(f"/users/{upn}/contacts/{a['id']}", json={"jobTitle": "CFO"})
    await sim.graph.delete(f"/users/{upn}/contacts/{b['id']}")
    event = (
        await sim.graph.post(
            f"/users/{upn}/events",
            json={
                "subject": "New",
                "start": {"dateTime": f"{_day(2)}T15:00:00", "timeZone": "UTC"},
                "end": {"dateTime": f"{_day(2)}T16:00:00", "timeZone": "UTC"},
            },
        )
    ).json()
    published = await connector.poll_mailbox(entry)
    got = _changes(await changes.read())
    events = {(e.record_id, e.op) for e in got}
    assert published == 3
    assert events == {(a["id"], Op.UPDATE), (b["id"], Op.DELETE), (event["id"], Op.CREATE)}
    # A quiet mailbox publishes nothing and backs off.
    interval = connector.schedules[f"{connector.tenant}/{entry.user}"].interval
    assert await connector.poll_mailbox(entry) == 0
    assert connector.schedules[f"{connector.tenant}/{entry.user}"].interval == min(
        connector.poll_max_s, interval * 2
    )


async def test_event_delete_and_out_of_window_removal(
    sim: Sim, connector: Connector, changes: ChangesReader
) -> None:
    rep = await sim.new_rep()
    upn = rep["upn"]
    doomed = (
        await sim.graph.post(
            f"/users/{upn}/events",
            json={
                "subject": "Doomed",
                "start": {"dateTime": f"{_day(1)}T15:00:00", "timeZone": "UTC"},
                "end": {"dateTime": f"{_day(1)}T16:00:00", "timeZone": "UTC"},
            },
        )
    ).json()
    leaving = (
        await sim.graph.post(
            f"/users/{upn}/events",
            json={
                "subject": "Leaving",
                "start": {"dateTime": f"{_day(4)}T15:00:00", "timeZone": "UTC"},
                "end": {"dateTime": f"{_day(4)}T16:00:00", "timeZone": "UTC"},
            },
        )
    ).json()
    entry = roster_entry(connector, upn)
    await connector.poll_mailbox(entry)
    await changes.read()
    await sim.graph.delete(f"/users/{upn}/events/{doomed['id']}")
    far = _day(400)
    await sim.graph.patch(
        f"/users/{upn}/events/{leaving['id']}",
        json={
            "start": {"dateTime": f"{far}T15:00:00", "timeZone": "UTC"},
            "end": {"dateTime": f"{far}T16:00:00", "timeZone": "UTC"},
        },
    )
    await connector.poll_mailbox(entry)
    deletes = {e.record_id for e in _changes(await changes.read()) if e.op is Op.DELETE}
    # @removed for an item that only left the window is not a delete (A5).
    assert deletes == {doomed["id"]}


async def test_410_rebaselines_with_the_same_change_ids(
    sim: Sim, connector: Connector, changes: ChangesReader
) -> None:
    rep = await sim.new_rep()
    upn, folder = rep["upn"], rep["syncFolderId"]
    for name in ("A", "B", "C"):
        await sim.graph.post(
            f"/users/{upn}/contactFolders/{folder}/contacts", json={"givenName": name}
        )
    entry = roster_entry(connector, upn)
    await connector.poll_mailbox(entry)
    first = {e.id for e in _changes(await changes.read())}
    assert (await sim.control.post("/_sim/invalidate-delta", json={"user": upn})).json()[
        "invalidated"
    ] >= 1
    await connector.poll_mailbox(entry)
    again = _changes(await changes.read())
    assert {e.cause for e in again} == {"rebaseline"}
    assert {e.op for e in again} == {Op.READ}
    # Same records at the same versions: deterministic ids, so nothing is new to the reconciler.
    assert {e.id for e in again} == first
    assert len(again) == len(first)


async def test_429_storm_is_absorbed_by_retry_after(
    sim: Sim, connector: Connector, changes: ChangesReader
) -> None:
    rep = await sim.new_rep()
    upn, folder = rep["upn"], rep["syncFolderId"]
    await sim.graph.post(f"/users/{upn}/contactFolders/{folder}/contacts", json={"givenName": "Z"})
    await sim.control.post(
        "/_sim/faults",
        json={"burst": {"status": 429, "count": 4, "retry_after": 0}, "subject": upn},
    )
    entry = roster_entry(connector, upn)
    await connector.poll_mailbox(entry)
    contacts = [e for e in _changes(await changes.read()) if e.kind is Kind.CONTACT]
    assert len(contacts) == 1
    assert isinstance(contacts[0].after, Contact)
    assert connector.client.throttled[upn] == 4


async def test_mailbox_outside_access_policy_reports_access_denied(
    sim: Sim, connector: Connector, changes: ChangesReader
) -> None:
    rep = await sim.new_rep()
    await sim.control.post("/_sim/config", json={"denied_mailboxes": [rep["upn"]]})
    try:
        await connector.poll_mailbox(roster_entry(connector, rep["upn"]))
        statuses = [m for m in await changes.read() if isinstance(m, ConnectorStatus)]
    finally:
        await sim.control.post("/_sim/config", json={"denied_mailboxes": []})
    assert [s.state for s in statuses] == [ConnectorState.ACCESS_DENIED]


async def test_revoked_token_is_refreshed_once_and_capture_continues(
    sim: Sim, connector: Connector, changes: ChangesReader
) -> None:
    rep = await sim.new_rep()
    entry = roster_entry(connector, rep["upn"])
    await connector.poll_mailbox(entry)
    await changes.read()
    acquired = connector.client.tokens.acquired
    await sim.graph.post(
        f"/users/{rep['upn']}/contactFolders/{rep['syncFolderId']}/contacts",
        json={"givenName": "After"},
    )
    await sim.control.post("/_sim/revoke-tokens")
    assert await connector.poll_mailbox(entry) == 1
    assert connector.client.tokens.acquired == acquired + 1


async def test_crash_between_publish_and_cursor_save_replays_the_same_change_ids(
    sim: Sim, connector: Connector, changes: ChangesReader
) -> None:
    rep = await sim.new_rep()
    upn, folder = rep["upn"], rep["syncFolderId"]
    await sim.graph.post(
        f"/users/{upn}/contactFolders/{folder}/contacts", json={"givenName": "Once"}
    )
    entry = roster_entry(connector, upn)
    schedule = connector._schedule(entry)
    capture = schedule.capture
    capture.folder_id = folder
    # A round that publishes and then "crashes" before the cursor is saved.
    await capture.contacts_round(capture.contacts_url(), snapshot=True, cause="snapshot")
    assert await connector.cursors.get(connector.tenant, entry.user, Kind.CONTACT) is None
    before = {e.id for e in _changes(await changes.read())}
    await connector.poll_mailbox(entry)  # the restarted connector snapshots again
    after = {e.id for e in _changes(await changes.read()) if e.kind is Kind.CONTACT}
    assert after == before
    assert len(before) == 1


@pytest.mark.parametrize(
    ("windows_zone", "iana"),
    [
        ("Pacific Standard Time", "America/Los_Angeles"),
        ("W. Europe Standard Time", "Europe/Berlin"),
        ("AUS Eastern Standard Time", "Australia/Sydney"),
    ],
)
async def test_all_day_events_keep_their_dates_across_dst_in_several_zones(
    sim: Sim, connector: Connector, changes: ChangesReader, windows_zone: str, iana: str
) -> None:
    rep = await sim.new_rep(time_zone=windows_zone)
    connector.window_future = dt.timedelta(days=400)
    # Two-day events straddling each of the zone's DST switches in the coming year.
    switches = _dst_switches(iana)
    assert len(switches) == 2
    spans = [(day - dt.timedelta(days=1), day + dt.timedelta(days=1)) for day in switches]
    ids = []
    for start, end in spans:
        body = {
            "subject": "Holiday",
            "isAllDay": True,
            "start": {"dateTime": f"{start}T00:00:00", "timeZone": windows_zone},
            "end": {"dateTime": f"{end}T00:00:00", "timeZone": windows_zone},
        }
        ids.append((await sim.graph.post(f"/users/{rep['upn']}/events", json=body)).json()["id"])
    await connector.poll_mailbox(roster_entry(connector, rep["upn"]))
    by_id = {e.record_id: e.after for e in _changes(await changes.read()) if e.kind is Kind.EVENT}
    for item_id, (start, end) in zip(ids, spans, strict=True):
        event = by_id[item_id]
        assert isinstance(event, Event)
        assert (event.start_date, event.end_date, event.time_zone) == (start, end, iana)


async def test_persistent_throttling_reports_throttled_status_with_next_attempt(
    sim: Sim, connector: Connector, changes: ChangesReader
) -> None:
    rep = await sim.new_rep()
    connector.client.max_retries = 2
    await sim.control.post(
        "/_sim/faults",
        json={"burst": {"status": 429, "count": 50, "retry_after": 0}, "subject": rep["upn"]},
    )
    assert await connector.poll_mailbox(roster_entry(connector, rep["upn"])) == 0
    statuses = [m for m in await changes.read() if isinstance(m, ConnectorStatus)]
    assert [s.state for s in statuses] == [ConnectorState.THROTTLED]


async def test_mailbox_claimed_by_another_tenant_is_neither_captured_nor_written(
    sim: Sim, connector: Connector, changes: ChangesReader
) -> None:
    rep = await sim.new_rep()
    await sim.graph.patch(
        f"/users/{rep['upn']}/contactFolders/{rep['syncFolderId']}",
        json={
            "singleValueExtendedProperties": [{"id": TENANT_CLAIM_PROPERTY, "value": "sandbox-org"}]
        },
    )
    await sim.graph.post(
        f"/users/{rep['upn']}/contactFolders/{rep['syncFolderId']}/contacts",
        json={"givenName": "Theirs"},
    )
    entry = roster_entry(connector, rep["upn"])
    await connector.poll_mailbox(entry)
    command = Command(
        id="cmd-claimed",
        tenant=connector.tenant,
        user=entry.user,
        side=Side.EXCHANGE,
        kind=Kind.EVENT,
        action=CommandAction.CREATE,
        link_id="l",
        record=Event(
            subject="x",
            start=dt.datetime(2027, 1, 1, tzinfo=dt.UTC),
            end=dt.datetime(2027, 1, 1, 1, tzinfo=dt.UTC),
        ),
        issued_ts=dt.datetime.now(dt.UTC),
    )
    await connector.apply(command)
    messages = await changes.read()
    assert [m.state for m in messages if isinstance(m, ConnectorStatus)] == [
        ConnectorState.CLAIMED_BY_OTHER_TENANT
    ]
    assert _changes(messages) == []
    outcome = next(m for m in messages if isinstance(m, CommandOutcome))
    assert outcome.status is OutcomeStatus.FAILED
    assert outcome.error is not None
    assert outcome.error.code == "MailboxClaimed"
    assert (await sim.state(rep["upn"]))["events"] == []


async def test_polling_loop_captures_each_owned_mailbox_and_stops_cleanly(
    sim: Sim, connector: Connector, changes: ChangesReader
) -> None:
    reps = [await sim.new_rep() for _ in range(3)]
    for rep in reps:
        await sim.graph.post(
            f"/users/{rep['upn']}/contactFolders/{rep['syncFolderId']}/contacts",
            json={"givenName": "P"},
        )
    entries = [roster_entry(connector, rep["upn"]) for rep in reps]
    stop = asyncio.Event()
    task = asyncio.create_task(connector.run_polling(stop))
    try:
        # Per rep: three statuses (initial sync started, completed, connected) and one contact.
        contacts = [e for e in _changes(await changes.read(count=12)) if e.kind is Kind.CONTACT]
    finally:
        stop.set()
        await task
    assert {e.user for e in contacts} == {e.user for e in entries}
