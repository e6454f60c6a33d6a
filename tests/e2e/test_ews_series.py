"""Event series over on-premises Exchange (issue #10 with LS-33): the series scenarios of the
Graph suite, run for an EWS rep — a weekly series in the on-premises calendar becomes one
Lightning series in Salesforce, and a Lightning series created in Salesforce becomes one
recurring master in the on-premises calendar."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.conftest import EWS_REPS
from tests.e2e.ews_helpers import EwsItem, ews_rep
from tests.e2e.harness import SalesforceRep, System, wait_for

pytestmark = pytest.mark.e2e

EVENTS = {"contacts": "none", "events": "both"}


def _next_weekday(weekday: int, hour: int) -> dt.datetime:
    today = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=7)
    day = today + dt.timedelta(days=(weekday - today.weekday()) % 7)
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=dt.UTC)


def _instant(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace("+0000", "+00:00"))


async def _series_rows(
    system: System, salesforce: SalesforceRep, rep: str, subject: str
) -> list[dict[str, Any]]:
    rows = await salesforce.query(
        "SELECT Id, Subject, StartDateTime, IsRecurrence2, IsRecurrence2Series,"
        " Recurrence2PatternText FROM Event"
        f" WHERE OwnerId = '{system.reps[rep]}'"
    )
    return [r for r in rows if r["Subject"] == subject]


async def test_ls33_ews_weekly_series_and_salesforce_series_sync_as_series(
    system: System,
) -> None:
    rep = EWS_REPS[5]
    await system.configure("ews-series", EVENTS, [rep])
    async with system.http() as http:
        salesforce = await system.salesforce_rep(http)
        ews = await ews_rep(system, http, rep)

        # On-premises -> Salesforce: one series record carrying the weekly RRULE, its
        # occurrences at the weekly slots (Salesforce keeps a record per occurrence).
        first = _next_weekday(3, 10)  # Thursdays
        await ews.create_event("Ops sync", first, 30, weekly_occurrences=3)

        async def series_in_salesforce() -> list[dict[str, Any]] | None:
            rows = await _series_rows(system, salesforce, rep, "Ops sync")
            return rows if len(rows) == 3 else None

        rows = await wait_for(series_in_salesforce, within=60, what="the EWS series in SF")
        [series] = [r for r in rows if r["IsRecurrence2Series"]]
        rule = str(series["Recurrence2PatternText"])
        for part in ("FREQ=WEEKLY", "BYDAY=TH", "COUNT=3"):
            assert part in rule, rule
        starts = sorted(_instant(r["StartDateTime"]) for r in rows)
        assert starts == [first + dt.timedelta(weeks=n) for n in range(3)]
        assert all(r["IsRecurrence2"] for r in rows)

        # Salesforce -> on-premises: a Lightning series arrives as one recurring master.
        tuesday = _next_weekday(1, 15)
        await salesforce.create(
            "Event",
            {
                "Subject": "Territory planning",
                "StartDateTime": tuesday.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
                "EndDateTime": (tuesday + dt.timedelta(minutes=45)).strftime(
                    "%Y-%m-%dT%H:%M:%S.000+0000"
                ),
                "IsRecurrence2": True,
                "Recurrence2PatternText": "RRULE:FREQ=WEEKLY;INTERVAL=1;BYDAY=TU;COUNT=4",
                "Recurrence2PatternStartDate": tuesday.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
                "Recurrence2PatternTimeZone": "UTC",
                "Recurrence2PatternVersion": "1",
                "OwnerId": system.reps[rep],
            },
        )

        async def master_in_ews() -> list[EwsItem] | None:
            found = [e for e in await ews.events() if e.get("Subject") == "Territory planning"]
            return found or None

        [master] = await wait_for(master_in_ews, within=60, what="the SF series in EWS")
        assert master.get("CalendarItemType") == "RecurringMaster"
        # The on-premises series did not come back as a second series, nor the other way.
        assert len([e for e in await ews.events() if e.get("Subject") == "Ops sync"]) == 1
        assert len(await _series_rows(system, salesforce, rep, "Ops sync")) == 3


async def test_all_day_ews_event_keeps_its_dates_in_utc_plus_13_across_dst(
    system: System,
) -> None:
    """An all-day appointment of an on-premises rep in Tonga (UTC+13, whose midnight is the
    previous day in UTC) keeps its dates in Salesforce, over the March/April DST changes."""
    rep = EWS_REPS[6]
    await system.configure("ews-allday", EVENTS, [rep])
    async with system.http() as http:
        salesforce = await system.salesforce_rep(http)
        ews = await ews_rep(system, http, rep)
        year = dt.datetime.now(dt.UTC).year + 1
        first, last = dt.date(year, 3, 28), dt.date(year, 4, 2)  # end exclusive
        tonga = ZoneInfo("Pacific/Tongatapu")
        start = dt.datetime.combine(first, dt.time(), tonga).astimezone(dt.UTC)
        end = dt.datetime.combine(last, dt.time(), tonga).astimezone(dt.UTC)
        minutes = int((end - start).total_seconds() // 60)
        await ews.create_event(
            "Offsite (on premises)", start, minutes, time_zone="Tonga Standard Time", all_day=True
        )

        async def offsite() -> list[dict[str, Any]] | None:
            rows = await salesforce.query(
                "SELECT Id, Subject, IsAllDayEvent, ActivityDate, DurationInMinutes FROM Event"
                f" WHERE OwnerId = '{system.reps[rep]}'"
            )
            return [r for r in rows if r["Subject"] == "Offsite (on premises)"] or None

        [event] = await wait_for(offsite, within=60, what="the all-day EWS event in Salesforce")
        assert event["IsAllDayEvent"] is True
        assert event["ActivityDate"] == first.isoformat()
        assert event["DurationInMinutes"] == (last - first).days * 24 * 60
