"""More events end to end (LS-30..LS-41, LS-73): Salesforce→Exchange, delete propagation on and
off, selected-events mode, private events on, one-way overwrite with its audit trail, series
and a 60-attendee meeting. Each test uses its own rep and configuration."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest

from tests.e2e.conftest import REPS
from tests.e2e.harness import GraphRep, SalesforceRep, System, wait_for

pytestmark = pytest.mark.e2e

EVENTS = {"contacts": "none", "events": "both"}
QUIET_S = 4


def _next_week(hour: int, days: int = 8) -> dt.datetime:
    day = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=days)
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=dt.UTC)


def _graph_time(when: dt.datetime) -> dict[str, str]:
    return {"dateTime": when.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}


def _timed(subject: str, start: dt.datetime, minutes: int, **extra: Any) -> dict[str, Any]:
    return {
        "subject": subject,
        "start": _graph_time(start),
        "end": _graph_time(start + dt.timedelta(minutes=minutes)),
        **extra,
    }


def _sf_time(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def _instant(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace("+0000", "+00:00"))


async def sf_events(
    system: System, salesforce: SalesforceRep, rep: str, subject: str
) -> list[dict[str, Any]]:
    rows = await salesforce.query(
        "SELECT Id, Subject, StartDateTime, EndDateTime, Location, Description, IsPrivate,"
        " WhoId, IsRecurrence2, Recurrence2PatternText, IsRecurrence2Series"
        f" FROM Event WHERE OwnerId = '{system.reps[rep]}'"
    )
    return [r for r in rows if r["Subject"] == subject]


async def outlook_events(graph: GraphRep, subject: str) -> list[dict[str, Any]]:
    return [e for e in await graph.events() if e.get("subject") == subject]


async def test_ls36_salesforce_event_reaches_outlook_and_deletes_propagate(
    system: System,
) -> None:
    """LS-30/LS-34: a rep's Salesforce event lands once in the Outlook calendar and edits
    follow; LS-36 on: a delete on either side removes the other copy."""
    rep = REPS[16]
    await system.configure("ev-sf-to-ex", {**EVENTS, "remove_deleted_events": True}, [rep])
    async with system.http() as http:
        salesforce = await system.salesforce_rep(http)
        graph = await system.graph_rep(http, rep)
        start = _next_week(10)
        event_id = await salesforce.create(
            "Event",
            {
                "Subject": "Forecast call",
                "StartDateTime": _sf_time(start),
                "EndDateTime": _sf_time(start + dt.timedelta(minutes=30)),
                "Location": "Room 2",
                "OwnerId": system.reps[rep],
            },
        )
        outlook_created = await graph.create_event(
            _timed("Demo prep", start + dt.timedelta(hours=2), 45)
        )

        async def forecast_in_outlook() -> list[dict[str, Any]] | None:
            return await outlook_events(graph, "Forecast call") or None

        [event] = await wait_for(forecast_in_outlook, within=60, what="the event in Outlook")
        assert _instant(event["start"]["dateTime"] + "+00:00") == start
        assert event["location"]["displayName"] == "Room 2"

        async def demo_in_salesforce() -> list[dict[str, Any]] | None:
            return await sf_events(system, salesforce, rep, "Demo prep") or None

        await wait_for(demo_in_salesforce, within=60, what="the Outlook event in Salesforce")

        # An edit in Salesforce flows to Outlook.
        await salesforce.update("Event", event_id, {"Location": "Room 9"})

        async def moved() -> bool:
            found = await outlook_events(graph, "Forecast call")
            return len(found) == 1 and found[0]["location"]["displayName"] == "Room 9"

        await wait_for(moved, within=60, what="the Salesforce edit in Outlook")

        # Deletes travel both ways (LS-36 on).
        await salesforce.delete("Event", event_id)
        await graph.delete_event(outlook_created)

        async def both_gone() -> bool:
            return not await outlook_events(graph, "Forecast call") and not await sf_events(
                system, salesforce, rep, "Demo prep"
            )

        await wait_for(both_gone, within=60, what="both deletes propagated")


async def test_ls36_off_deletes_stay_on_their_side(system: System) -> None:
    """LS-36 off: deleting an event in one calendar leaves the other copy, and the deleted one
    is not re-created from the survivor."""
    rep = REPS[17]
    await system.configure("ev-keep", {**EVENTS, "remove_deleted_events": False}, [rep])
    async with system.http() as http:
        salesforce = await system.salesforce_rep(http)
        graph = await system.graph_rep(http, rep)
        start = _next_week(11)
        sf_id = await salesforce.create(
            "Event",
            {
                "Subject": "Keep in Outlook",
                "StartDateTime": _sf_time(start),
                "EndDateTime": _sf_time(start + dt.timedelta(minutes=30)),
                "OwnerId": system.reps[rep],
            },
        )
        ex_id = await graph.create_event(_timed("Keep in Salesforce", start, 30))

        async def both_synced() -> bool:
            return bool(
                await outlook_events(graph, "Keep in Outlook")
                and await sf_events(system, salesforce, rep, "Keep in Salesforce")
            )

        await wait_for(both_synced, within=60, what="both events on both sides")
        await salesforce.delete("Event", sf_id)
        await graph.delete_event(ex_id)
        await asyncio.sleep(QUIET_S)
        assert len(await outlook_events(graph, "Keep in Outlook")) == 1
        assert len(await sf_events(system, salesforce, rep, "Keep in Salesforce")) == 1
        assert await sf_events(system, salesforce, rep, "Keep in Outlook") == []
        assert await outlook_events(graph, "Keep in Salesforce") == []


async def test_ls32_selected_mode_syncs_only_events_with_the_selection_category(
    system: System,
) -> None:
    """LS-32: in selected-events mode only events carrying the selection category leave the
    calendar for Salesforce."""
    rep = REPS[18]
    await system.configure(
        "ev-selected",
        {**EVENTS, "events": "exchange_to_salesforce", "event_selection": "selected"},
        [rep],
    )
    async with system.http() as http:
        salesforce = await system.salesforce_rep(http)
        graph = await system.graph_rep(http, rep)
        start = _next_week(9)
        await graph.create_event(_timed("Not selected", start, 30))
        await graph.create_event(
            _timed(
                "Selected deal review", start + dt.timedelta(hours=1), 30, categories=["Salesforce"]
            )
        )

        async def selected() -> list[dict[str, Any]] | None:
            return await sf_events(system, salesforce, rep, "Selected deal review") or None

        await wait_for(selected, within=60, what="the selected event in Salesforce")
        await asyncio.sleep(QUIET_S)
        assert len(await sf_events(system, salesforce, rep, "Selected deal review")) == 1
        assert await sf_events(system, salesforce, rep, "Not selected") == []


async def test_ls35_private_events_on_sync_and_stay_private(system: System) -> None:
    """LS-35 on: a private Outlook event syncs and is private in Salesforce; a private
    Salesforce event arrives private in Outlook."""
    rep = REPS[19]
    await system.configure("ev-private", {**EVENTS, "sync_private_events": True}, [rep])
    async with system.http() as http:
        salesforce = await system.salesforce_rep(http)
        graph = await system.graph_rep(http, rep)
        start = _next_week(14)
        await graph.create_event(_timed("Physio", start, 60, sensitivity="private"))
        await salesforce.create(
            "Event",
            {
                "Subject": "Parent evening",
                "StartDateTime": _sf_time(start + dt.timedelta(hours=3)),
                "EndDateTime": _sf_time(start + dt.timedelta(hours=4)),
                "IsPrivate": True,
                "OwnerId": system.reps[rep],
            },
        )

        async def physio() -> list[dict[str, Any]] | None:
            return await sf_events(system, salesforce, rep, "Physio") or None

        async def parent_evening() -> list[dict[str, Any]] | None:
            return await outlook_events(graph, "Parent evening") or None

        [in_salesforce] = await wait_for(physio, within=60, what="the private event in SF")
        assert in_salesforce["IsPrivate"] is True
        [in_outlook] = await wait_for(parent_evening, within=60, what="the private SF event")
        assert in_outlook["sensitivity"] == "private"


async def test_ls73_one_way_calendar_overwrites_salesforce_edit_and_audits_it(
    system: System,
) -> None:
    """LS-73: with calendar→Salesforce only, a Salesforce-side edit persists until the next
    Outlook change, which overwrites it; the overwrite is in the audit trail (status API record
    explanation)."""
    rep = REPS[20]
    await system.configure("ev-one-way", {**EVENTS, "events": "exchange_to_salesforce"}, [rep])
    async with system.http() as http:
        salesforce = await system.salesforce_rep(http)
        graph = await system.graph_rep(http, rep)
        start = _next_week(13)
        outlook_id = await graph.create_event(
            _timed(
                "Quarterly review",
                start,
                60,
                location={"displayName": "Room 1"},
                body={"contentType": "text", "content": "Agenda: numbers"},
            )
        )

        async def synced() -> list[dict[str, Any]] | None:
            return await sf_events(system, salesforce, rep, "Quarterly review") or None

        [row] = await wait_for(synced, within=60, what="the meeting in Salesforce")
        assert row["Location"] == "Room 1"
        await salesforce.update("Event", row["Id"], {"Location": "Customer site"})
        await asyncio.sleep(QUIET_S)
        # Target-only edits persist until the next source change, and never flow back.
        [row] = await sf_events(system, salesforce, rep, "Quarterly review")
        assert row["Location"] == "Customer site"
        [event] = await outlook_events(graph, "Quarterly review")
        assert event["location"]["displayName"] == "Room 1"

        await graph.update_event(outlook_id, {"subject": "Quarterly review", "showAs": "oof"})

        async def overwritten() -> dict[str, Any] | None:
            rows = await sf_events(system, salesforce, rep, "Quarterly review")
            return rows[0] if rows and rows[0]["Location"] == "Room 1" else None

        row = await wait_for(overwritten, within=60, what="the Outlook version in Salesforce")
        async with system.api() as api:
            r = await api.get(f"/users/{system.reps[rep]}/records/salesforce/{row['Id']}")
            assert r.status_code == 200, r.text
            audit = r.json()["audit"]
        overwrites = [a for a in audit if a["reason"] == "target_only_data_overwritten"]
        assert overwrites, audit
        assert len(overwrites) == 1, audit
        [entry] = overwrites
        assert entry["action"] == "overwrite_salesforce"
        assert str(entry["field"]).lower() == "location"
        assert entry["policy"] == "latest_wins"
        assert "Customer site" in str(entry["old_value"])
        assert "Room 1" in str(entry["new_value"])


def _next_monday(hour: int) -> dt.datetime:
    today = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=7)
    day = today + dt.timedelta(days=(7 - today.weekday()) % 7)
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=dt.UTC)


async def test_ls33_outlook_series_with_edited_and_deleted_occurrence_reaches_salesforce(
    system: System,
) -> None:
    """LS-33/LS-11: an Outlook weekly series syncs as a Lightning series; its edited occurrence
    syncs as that occurrence's exception and its deleted occurrence does not come back."""
    rep = REPS[21]
    await system.configure("ev-series", EVENTS, [rep])
    async with system.http() as http:
        salesforce = await system.salesforce_rep(http)
        graph = await system.graph_rep(http, rep)
        first = _next_monday(9)
        series_id = await graph.create_event(
            {
                **_timed("Team sync", first, 30),
                "recurrence": {
                    "pattern": {
                        "type": "weekly",
                        "interval": 1,
                        "daysOfWeek": ["monday"],
                        "firstDayOfWeek": "sunday",
                    },
                    "range": {
                        "type": "numbered",
                        "startDate": first.date().isoformat(),
                        "numberOfOccurrences": 4,
                        "recurrenceTimeZone": "UTC",
                    },
                },
            }
        )
        window = (
            (first - dt.timedelta(days=1)).isoformat(),
            (first + dt.timedelta(weeks=5)).isoformat(),
        )
        occurrences = await graph.instances(series_id, *window)
        assert len(occurrences) == 4
        moved = first + dt.timedelta(weeks=1, hours=1)
        await graph.update_event(
            occurrences[1]["id"],
            {
                "subject": "Team sync (moved)",
                "start": _graph_time(moved),
                "end": _graph_time(moved + dt.timedelta(minutes=30)),
            },
        )
        await graph.delete_event(occurrences[2]["id"])

        async def series_in_salesforce() -> bool:
            rows = await sf_events(system, salesforce, rep, "Team sync")
            moved_rows = await sf_events(system, salesforce, rep, "Team sync (moved)")
            return len(rows) == 2 and bool(moved_rows)  # series record + last occurrence

        await wait_for(series_in_salesforce, within=60, what="the series in Salesforce")
        await asyncio.sleep(QUIET_S)
        # Real Salesforce's shape (C13 "Recurrence2"): the series record (the first occurrence)
        # plus one occurrence record per further occurrence, each with the RRULE; the deleted
        # occurrence has no record, and the edited one is its own record at its new time.
        rows = await sf_events(system, salesforce, rep, "Team sync")
        assert sorted(_instant(r["StartDateTime"]) for r in rows) == [
            first,
            first + dt.timedelta(weeks=3),
        ]
        [master] = [r for r in rows if r["IsRecurrence2Series"]]
        assert all(r["IsRecurrence2"] for r in rows)
        assert {r["Recurrence2PatternText"] for r in rows} == {master["Recurrence2PatternText"]}
        rule = str(master["Recurrence2PatternText"])
        for part in ("FREQ=WEEKLY", "BYDAY=MO", "COUNT=4"):
            assert part in rule, rule
        assert _instant(master["StartDateTime"]) == first
        [exception] = await sf_events(system, salesforce, rep, "Team sync (moved)")
        assert _instant(exception["StartDateTime"]) == moved
        # Nothing came back to Outlook: still one series, its exception, one cancelled occurrence.
        remaining = await graph.instances(series_id, *window)
        assert [o["subject"] for o in remaining] == ["Team sync", "Team sync (moved)", "Team sync"]
        assert len(await outlook_events(graph, "Team sync")) == 1


async def test_ls33_cancelled_outlook_occurrence_is_gone_in_salesforce(system: System) -> None:
    """LS-33/LS-11: Salesforce shows an Outlook series' occurrences minus the cancelled one."""
    rep = REPS[32]
    # Deletes propagate (LS-36 on), so that a deleted occurrence could delete the series.
    await system.configure("ev-series-cancel", {**EVENTS, "remove_deleted_events": True}, [rep])
    async with system.http() as http:
        salesforce = await system.salesforce_rep(http)
        graph = await system.graph_rep(http, rep)
        first = _next_monday(11) + dt.timedelta(days=2)  # Wednesdays
        series_id = await graph.create_event(
            {
                **_timed("Pipeline clinic", first, 30),
                "recurrence": {
                    "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["wednesday"]},
                    "range": {
                        "type": "numbered",
                        "startDate": first.date().isoformat(),
                        "numberOfOccurrences": 3,
                        "recurrenceTimeZone": "UTC",
                    },
                },
            }
        )
        window = (
            (first - dt.timedelta(days=1)).isoformat(),
            (first + dt.timedelta(weeks=4)).isoformat(),
        )
        occurrences = await graph.instances(series_id, *window)
        await graph.delete_event(occurrences[1]["id"])

        async def starts_in_salesforce() -> list[dt.datetime]:
            rows = await sf_events(system, salesforce, rep, "Pipeline clinic")
            return sorted(_instant(r["StartDateTime"]) for r in rows)

        expected = [first, first + dt.timedelta(weeks=2)]

        async def cancelled_gone() -> bool:
            return await starts_in_salesforce() == expected

        await wait_for(cancelled_gone, within=60, what="the series minus the cancelled one")
        await asyncio.sleep(QUIET_S)
        assert await starts_in_salesforce() == expected  # and it stays so
        rows = await sf_events(system, salesforce, rep, "Pipeline clinic")
        [master] = [r for r in rows if r["IsRecurrence2Series"]]
        assert _instant(master["StartDateTime"]) == first
        assert all(r["Recurrence2PatternText"] == master["Recurrence2PatternText"] for r in rows)
        # Removing the occurrence record deleted nothing in Outlook: the series is whole.
        assert len(await outlook_events(graph, "Pipeline clinic")) == 1
        remaining = await graph.instances(series_id, *window)
        assert len(remaining) == 2

        # A rep deleting one occurrence in Salesforce never deletes the series in Outlook.
        # (Not yet synced as a cancelled occurrence in Outlook: the Exchange sink writes no
        # exdates, so the Outlook occurrence stays.) A single event deleted right after it
        # shows when capture has read that stretch of the delete log.
        await graph.create_event(_timed("Clinic probe", first + dt.timedelta(hours=3), 15))

        async def probe_in_salesforce() -> list[dict[str, Any]] | None:
            return await sf_events(system, salesforce, rep, "Clinic probe") or None

        [probe] = await wait_for(probe_in_salesforce, within=60, what="the probe in Salesforce")
        [last] = [r for r in rows if not r["IsRecurrence2Series"]]
        await salesforce.delete("Event", last["Id"])
        await salesforce.delete("Event", probe["Id"])

        async def probe_gone() -> bool:
            return not await outlook_events(graph, "Clinic probe")

        # getDeleted is read in windows of over a minute (C8).
        await wait_for(probe_gone, within=150, what="the probe's delete in Outlook")
        await asyncio.sleep(QUIET_S)
        assert await starts_in_salesforce() == [first]
        [master_in_outlook] = await outlook_events(graph, "Pipeline clinic")
        assert master_in_outlook["id"] == series_id
        assert len(await graph.instances(series_id, *window)) == 2


async def test_ls33_salesforce_lightning_series_reaches_outlook_as_a_series(
    system: System,
) -> None:
    """LS-33: a Lightning (Recurrence2) series created in Salesforce arrives in Outlook as one
    series master with the same weekly pattern and occurrences, not as a single event."""
    rep = REPS[22]
    await system.configure("ev-sf-series", EVENTS, [rep])
    async with system.http() as http:
        salesforce = await system.salesforce_rep(http)
        graph = await system.graph_rep(http, rep)
        first = _next_monday(15) + dt.timedelta(days=1)  # Tuesdays
        await salesforce.create(
            "Event",
            {
                "Subject": "Account planning",
                "StartDateTime": _sf_time(first),
                "EndDateTime": _sf_time(first + dt.timedelta(minutes=45)),
                "IsRecurrence2": True,
                "Recurrence2PatternText": "RRULE:FREQ=WEEKLY;INTERVAL=1;BYDAY=TU;COUNT=3",
                "Recurrence2PatternStartDate": _sf_time(first),
                "Recurrence2PatternTimeZone": "UTC",
                "Recurrence2PatternVersion": "1",
                "OwnerId": system.reps[rep],
            },
        )

        async def series_in_outlook() -> list[dict[str, Any]] | None:
            return await outlook_events(graph, "Account planning") or None

        [series] = await wait_for(series_in_outlook, within=60, what="the series in Outlook")
        assert series["type"] == "seriesMaster"
        pattern = series["recurrence"]["pattern"]
        assert (pattern["type"], pattern["daysOfWeek"]) == ("weekly", ["tuesday"])
        assert series["recurrence"]["range"]["numberOfOccurrences"] == 3
        occurrences = await graph.instances(
            series["id"],
            (first - dt.timedelta(days=1)).isoformat(),
            (first + dt.timedelta(weeks=4)).isoformat(),
        )
        starts = [_instant(o["start"]["dateTime"] + "+00:00") for o in occurrences]
        assert starts == [first + dt.timedelta(weeks=n) for n in range(3)]


async def test_ls38_meeting_with_60_attendees_relates_50_and_keeps_all_in_outlook(
    system: System,
) -> None:
    """LS-38/LS-48: a 60-attendee Outlook meeting whose attendees are all the rep's Salesforce
    contacts: Salesforce gets the 50 relations it allows (WhoId + EventRelation), and Exchange
    keeps every attendee (we add no cap of our own)."""
    rep = REPS[23]
    await system.configure("ev-60", {"contacts": "salesforce_to_exchange", "events": "both"}, [rep])
    people = [(f"Guest{n:02d}", f"guest{n:02d}@sixty.example") for n in range(60)]
    async with system.http() as http:
        salesforce = await system.salesforce_rep(http)
        graph = await system.graph_rep(http, rep)
        contact_ids = {
            email: await salesforce.create(
                "Contact", {"LastName": last, "Email": email, "OwnerId": system.reps[rep]}
            )
            for last, email in people
        }

        async def directory_ready() -> bool:
            return len(await graph.contacts()) == len(people)

        await wait_for(directory_ready, within=90, what="the 60 contacts synced (and indexed)")
        start = _next_week(16, days=9)
        outlook_id = await graph.create_event(
            _timed(
                "Customer advisory board",
                start,
                120,
                attendees=[
                    {"emailAddress": {"address": email, "name": last}, "type": "required"}
                    for last, email in people
                ],
            )
        )

        async def in_salesforce() -> list[dict[str, Any]] | None:
            return await sf_events(system, salesforce, rep, "Customer advisory board") or None

        [row] = await wait_for(in_salesforce, within=60, what="the meeting in Salesforce")

        async def relations() -> list[dict[str, Any]] | None:
            rows = await salesforce.query(
                "SELECT RelationId, IsParent FROM EventRelation"
                f" WHERE EventId = '{row['Id']}' AND IsParent = true"
            )
            return rows if len(rows) >= 49 else None

        related = await wait_for(relations, within=60, what="the event's relations")
        await asyncio.sleep(2)
        [row] = await sf_events(system, salesforce, rep, "Customer advisory board")
        related_ids = {r["RelationId"] for r in await relations() or []} | {row["WhoId"]}
        assert row["WhoId"] in set(contact_ids.values())
        assert len(related_ids) == 50, related
        assert related_ids <= set(contact_ids.values())
        r = await http.get(
            f"{graph.graph}/users/{rep}/events/{outlook_id}",
            headers={"Authorization": f"Bearer {graph.token}"},
        )
        r.raise_for_status()
        attendees = {a["emailAddress"]["address"] for a in r.json()["attendees"]}
        assert attendees == {email for _, email in people}
