"""Events end to end (LS-30..LS-41): the rep's default calendar and Salesforce events."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest

from tests.e2e.conftest import REPS, ZONED_REPS
from tests.e2e.harness import System, wait_for

pytestmark = pytest.mark.e2e

BOTH = {"contacts": "none", "events": "both", "sync_private_events": False}


def _timed(subject: str, start: dt.datetime, minutes: int, **extra: Any) -> dict[str, Any]:
    end = start + dt.timedelta(minutes=minutes)
    return {
        "subject": subject,
        "start": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
        "end": {"dateTime": end.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
        **extra,
    }


def _next_week(hour: int) -> dt.datetime:
    day = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=7)
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=dt.UTC)


async def _sf_events(system: System, salesforce: Any, rep: str) -> list[dict[str, Any]]:
    return list(
        await salesforce.query(
            "SELECT Id, Subject, StartDateTime, EndDateTime, IsAllDayEvent, ActivityDate, IsPrivate"
            f" FROM Event WHERE OwnerId = '{system.reps[rep]}'"
        )
    )


async def test_ls30_outlook_meeting_reaches_salesforce_and_private_ones_do_not(
    system: System,
) -> None:
    """LS-30: default-calendar events sync; LS-35: private ones don't when the option is off;
    LS-37: the exclusion category keeps an event out."""
    rep = REPS[5]
    await system.configure("events-both", BOTH, [rep])
    async with system.http() as http:
        salesforce = await system.salesforce_rep(http)
        graph = await system.graph_rep(http, rep)
        start = _next_week(15)
        await graph.create_event(
            _timed("Pipeline review", start, 60, location={"displayName": "Room 4"})
        )
        await graph.create_event(
            _timed("Dentist", start + dt.timedelta(hours=3), 30, sensitivity="private")
        )
        await graph.create_event(
            _timed(
                "Lunch with Sam",
                start + dt.timedelta(hours=4),
                60,
                categories=["Don't sync with Salesforce"],
            )
        )

        async def review_in_salesforce() -> list[dict[str, Any]] | None:
            found = [
                e
                for e in await _sf_events(system, salesforce, rep)
                if e["Subject"] == "Pipeline review"
            ]
            return found or None

        [event] = await wait_for(review_in_salesforce, within=60, what="the meeting in Salesforce")
        assert dt.datetime.fromisoformat(event["StartDateTime"].replace("Z", "+00:00")) == start
        await wait_for(_quiet, within=10, what="a quiet period")
        subjects = [e["Subject"] for e in await _sf_events(system, salesforce, rep)]
        assert subjects.count("Pipeline review") == 1
        assert "Dentist" not in subjects  # private, and private events don't sync (LS-35)
        assert "Lunch with Sam" not in subjects  # exclusion category (LS-37)


@pytest.mark.parametrize("rep", sorted(ZONED_REPS))
async def test_all_day_event_keeps_its_dates_in_every_zone(system: System, rep: str) -> None:
    """All-day events are dates on both sides: no off-by-one in UTC-10, UTC+0, UTC+5:30, UTC+13
    (the date chosen spans the March/April DST changes)."""
    await system.configure(f"allday-{rep[:5]}", BOTH, [rep])
    async with system.http() as http:
        salesforce = await system.salesforce_rep(http)
        graph = await system.graph_rep(http, rep)
        year = dt.datetime.now(dt.UTC).year + 1
        first, last = dt.date(year, 3, 28), dt.date(year, 4, 2)  # exclusive end
        await graph.create_event(
            {
                "subject": "Offsite",
                "isAllDay": True,
                "start": {"dateTime": f"{first}T00:00:00", "timeZone": ZONED_REPS[rep]},
                "end": {"dateTime": f"{last}T00:00:00", "timeZone": ZONED_REPS[rep]},
            }
        )

        async def offsite() -> list[dict[str, Any]] | None:
            return [
                e for e in await _sf_events(system, salesforce, rep) if e["Subject"] == "Offsite"
            ] or None

        [event] = await wait_for(offsite, within=60, what="the all-day event in Salesforce")
        assert event["IsAllDayEvent"] is True
        assert event["ActivityDate"] == first.isoformat()


async def _quiet() -> bool:
    import asyncio

    await asyncio.sleep(6)
    return True


async def test_ls31_existing_salesforce_event_waits_until_edited(system: System) -> None:
    """LS-31/LS-76: a Salesforce event that predates sync is not bulk-pushed to Outlook (no
    invitations for old meetings); record explain says why; once edited it syncs."""
    rep = REPS[33]
    async with system.http() as http:
        salesforce = await system.salesforce_rep(http)
        graph = await system.graph_rep(http, rep)
        start = _next_week(8)
        event_id = await salesforce.create(
            "Event",
            {
                "Subject": "Old account review",
                "StartDateTime": start.isoformat(),
                "EndDateTime": (start + dt.timedelta(minutes=30)).isoformat(),
                "OwnerId": system.reps[rep],
            },
        )
        await asyncio.sleep(3)  # older than the rep's sync start beyond its 2 s margin
        await system.configure("events-existing", BOTH, [rep])
        await graph.create_event(_timed("New Outlook meeting", start + dt.timedelta(hours=2), 30))

        async def outlook_meeting_synced() -> bool:
            return any(
                e["Subject"] == "New Outlook meeting"
                for e in await _sf_events(system, salesforce, rep)
            )

        # The Outlook meeting went through, so the initial sync of both sides is over.
        await wait_for(outlook_meeting_synced, within=60, what="the Outlook meeting in Salesforce")
        await wait_for(_quiet, within=10, what="a quiet period")
        assert "Old account review" not in [e.get("subject") for e in await graph.events()]
        async with system.api() as api:
            r = await api.get(f"/users/{system.reps[rep]}/records/salesforce/{event_id}")
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["link_id"] is None
            assert body["last_decision"] == "existing_salesforce_event_untouched"
            assert "edited" in body["last_decision_text"]
        await salesforce.update("Event", event_id, {"Subject": "Account review (moved)"})

        async def in_outlook() -> bool:
            subjects = [e.get("subject") for e in await graph.events()]
            return "Account review (moved)" in subjects

        await wait_for(in_outlook, within=60, what="the edited event in Outlook")
