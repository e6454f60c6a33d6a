"""Graph JSON ↔ Contact/Event mapping (protocols.md A3, A4, A10, A11), pure."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from dateutil import rrule as du_rrule
from exchange_connector.mapping import (
    MARKER_PROPERTY,
    contact_from_graph,
    contact_to_graph,
    event_from_graph,
    event_to_graph,
    marker_property,
)
from exchange_connector.recurrence import (
    UnsupportedRecurrence,
    graph_to_recurrence,
    recurrence_to_graph,
)
from exchange_connector.zones import to_iana, to_windows
from hypothesis import given
from hypothesis import strategies as st
from syncmodel.records import Address, Contact, Event, EventType, Recurrence, Response, ShowAs


def test_a10_windows_zone_names_map_to_iana_and_back() -> None:
    assert to_iana("Pacific Standard Time") == "America/Los_Angeles"
    assert to_iana("W. Europe Standard Time") == "Europe/Berlin"
    assert to_iana("UTC") == "UTC"
    assert to_iana("tzone://Microsoft/Custom", fallback="Europe/Paris") == "Europe/Paris"
    assert to_windows("America/New_York") == "Eastern Standard Time"
    assert to_windows("Eastern Standard Time") == "Eastern Standard Time"


def test_a3_contact_from_graph_maps_ls29_fields_and_marker() -> None:
    item = {
        "givenName": "Ada",
        "surname": "Lovelace",
        "emailAddresses": [{"name": "Ada", "address": "ada@example.org"}],
        "companyName": "Analytical Engines",
        "jobTitle": "CTO",
        "businessPhones": ["+44 20 1234"],
        "mobilePhone": None,
        "personalNotes": "",
        "birthday": "1815-12-10T00:00:00Z",
        "businessAddress": {"street": "1 Main St", "city": "London", "countryOrRegion": "UK"},
        "otherAddress": {},
        "singleValueExtendedProperties": [{"id": MARKER_PROPERTY, "value": "link-9|cmd-1"}],
    }
    contact = contact_from_graph(item)
    assert contact.email == "ada@example.org"
    assert contact.business_phone == "+44 20 1234"
    assert contact.notes is None  # empty strings are absence
    assert contact.birthday == dt.date(1815, 12, 10)
    assert contact.mailing_address == Address(street="1 Main St", city="London", country="UK")
    assert contact.other_address is None
    assert contact.marker == "link-9"


def test_a3_contact_round_trips_through_graph_body() -> None:
    contact = Contact(
        first_name="Grace",
        last_name="Hopper",
        email="grace@navy.example",
        company="Navy",
        title="RADM",
        business_phone="+1 555 0100",
        mobile_phone="+1 555 0101",
        mailing_address=Address(city="Arlington", state="VA"),
    )
    assert contact_from_graph(contact_to_graph(contact)) == contact


def _graph_event(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "subject": "QBR",
        "body": {
            "contentType": "html",
            "content": "<html><body><p>Agenda &amp; numbers</p></body></html>",
        },
        "start": {"dateTime": "2026-03-09T16:00:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2026-03-09T17:00:00.0000000", "timeZone": "UTC"},
        "originalStartTimeZone": "Eastern Standard Time",
        "isAllDay": False,
        "showAs": "workingElsewhere",
        "sensitivity": "private",
        "isReminderOn": True,
        "reminderMinutesBeforeStart": 15,
        "type": "singleInstance",
        "organizer": {"emailAddress": {"name": "Rep", "address": "rep@contoso.example"}},
        "attendees": [
            {
                "type": "optional",
                "status": {"response": "tentativelyAccepted"},
                "emailAddress": {"address": "x@fabrikam.example", "name": "X"},
            },
        ],
        "iCalUId": "040000008200E00074C5B7101A82E008ABC",
    }
    base.update(overrides)
    return base


def test_a4_timed_event_from_graph_keeps_instant_and_authoring_zone() -> None:
    event = event_from_graph(_graph_event())
    assert event.start == dt.datetime(2026, 3, 9, 16, tzinfo=dt.UTC)
    assert event.time_zone == "America/New_York"
    assert event.body == "Agenda & numbers"
    assert event.show_as is ShowAs.WORKING_ELSEWHERE
    assert event.is_private
    assert event.attendees[0].response is Response.TENTATIVE
    assert event.organizer is not None
    assert event.organizer.email == "rep@contoso.example"


def test_a10_all_day_event_is_dates_not_instants() -> None:
    event = event_from_graph(
        _graph_event(
            isAllDay=True,
            start={"dateTime": "2026-03-28T00:00:00.0000000", "timeZone": "UTC"},
            end={"dateTime": "2026-03-30T00:00:00.0000000", "timeZone": "UTC"},
            originalStartTimeZone="Tokyo Standard Time",
        )
    )
    assert (event.start_date, event.end_date) == (dt.date(2026, 3, 28), dt.date(2026, 3, 30))
    assert event.start is None
    body = event_to_graph(event, include_attendees=False)
    assert body["start"] == {"dateTime": "2026-03-28T00:00:00", "timeZone": "Tokyo Standard Time"}


def test_a4_event_to_graph_writes_local_time_with_windows_zone_and_no_attendees_by_default() -> (
    None
):
    event = Event(
        subject="Call",
        start=dt.datetime(2026, 7, 1, 15, tzinfo=dt.UTC),
        end=dt.datetime(2026, 7, 1, 16, tzinfo=dt.UTC),
        time_zone="Europe/Berlin",
        attendees=(),
    )
    body = event_to_graph(event, include_attendees=False)
    assert body["start"] == {
        "dateTime": "2026-07-01T17:00:00",
        "timeZone": "W. Europe Standard Time",
    }
    assert "attendees" not in body
    assert (
        event_from_graph(
            {
                **body,
                "start": {"dateTime": "2026-07-01T15:00:00", "timeZone": "UTC"},
                "end": {"dateTime": "2026-07-01T16:00:00", "timeZone": "UTC"},
                "originalStartTimeZone": "W. Europe Standard Time",
            }
        ).start
        == event.start
    )


def test_a4_weekly_numbered_pattern_to_rrule() -> None:
    rec = graph_to_recurrence(
        {
            "pattern": {
                "type": "weekly",
                "interval": 2,
                "daysOfWeek": ["monday", "wednesday"],
                "firstDayOfWeek": "sunday",
                "month": 0,
                "dayOfMonth": 0,
                "index": "first",
            },
            "range": {
                "type": "numbered",
                "startDate": "2026-03-02",
                "numberOfOccurrences": 10,
                "recurrenceTimeZone": "Pacific Standard Time",
                "endDate": "0001-01-01",
            },
        },
        is_all_day=False,
        fallback_zone=None,
    )
    assert rec.rrule == "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE;WKST=SU;COUNT=10"
    assert rec.time_zone == "America/Los_Angeles"
    assert rec.start_date == dt.date(2026, 3, 2)


def test_a4_relative_monthly_end_date_until_is_utc_end_of_local_day() -> None:
    rec = graph_to_recurrence(
        {
            "pattern": {
                "type": "relativeMonthly",
                "interval": 1,
                "daysOfWeek": ["friday"],
                "index": "last",
            },
            "range": {
                "type": "endDate",
                "startDate": "2026-01-30",
                "endDate": "2026-06-30",
                "recurrenceTimeZone": "W. Europe Standard Time",
            },
        },
        is_all_day=False,
        fallback_zone=None,
    )
    assert rec.rrule == "FREQ=MONTHLY;INTERVAL=1;BYDAY=FR;BYSETPOS=-1;UNTIL=20260630T215959Z"
    assert recurrence_to_graph(rec)["range"] == {
        "type": "endDate",
        "startDate": "2026-01-30",
        "endDate": "2026-06-30",
        "recurrenceTimeZone": "W. Europe Standard Time",
    }


def test_a4_rrule_with_ordinal_byday_maps_to_relative_pattern() -> None:
    graph = recurrence_to_graph(
        Recurrence(
            rrule="FREQ=YEARLY;BYMONTH=11;BYDAY=4TH",
            time_zone="America/New_York",
            start_date=dt.date(2026, 11, 26),
        )
    )
    assert graph["pattern"] == {
        "interval": 1,
        "month": 11,
        "type": "relativeYearly",
        "daysOfWeek": ["thursday"],
        "index": "fourth",
    }
    assert graph["range"]["type"] == "noEnd"


def test_a4_rrule_without_graph_form_is_rejected() -> None:
    with pytest.raises(UnsupportedRecurrence):
        recurrence_to_graph(
            Recurrence(rrule="FREQ=HOURLY", time_zone="UTC", start_date=dt.date(2026, 1, 1))
        )


PATTERNS = st.sampled_from(
    [
        {"type": "daily", "interval": 3},
        {
            "type": "weekly",
            "interval": 1,
            "daysOfWeek": ["tuesday", "thursday"],
            "firstDayOfWeek": "monday",
        },
        {"type": "absoluteMonthly", "interval": 1, "dayOfMonth": 15},
        {"type": "relativeMonthly", "interval": 2, "daysOfWeek": ["monday"], "index": "second"},
        {"type": "absoluteYearly", "interval": 1, "month": 6, "dayOfMonth": 1},
        {
            "type": "relativeYearly",
            "interval": 1,
            "month": 9,
            "daysOfWeek": ["friday"],
            "index": "last",
        },
    ]
)


@given(pattern=PATTERNS, count=st.integers(min_value=1, max_value=30))
def test_a4_patterned_recurrence_round_trips_through_rrule(
    pattern: dict[str, object], count: int
) -> None:
    graph = {
        "pattern": pattern,
        "range": {
            "type": "numbered",
            "startDate": "2026-01-05",
            "numberOfOccurrences": count,
            "recurrenceTimeZone": "Eastern Standard Time",
        },
    }
    rec = graph_to_recurrence(graph, is_all_day=False, fallback_zone=None)
    back = recurrence_to_graph(rec)
    assert graph_to_recurrence(back, is_all_day=False, fallback_zone=None) == rec
    # The RRULE is valid RFC 5545 that dateutil expands to `count` occurrences.
    start = dt.datetime(2026, 1, 5, 9, tzinfo=ZoneInfo("America/New_York"))
    assert len(list(du_rrule.rrulestr(rec.rrule, dtstart=start))) == count


def test_a4_series_master_carries_recurrence_and_exdates_and_exception_its_master() -> None:
    master = event_from_graph(
        _graph_event(
            type="seriesMaster",
            recurrence={
                "pattern": {"type": "daily", "interval": 1},
                "range": {
                    "type": "noEnd",
                    "startDate": "2026-03-09",
                    "recurrenceTimeZone": "Eastern Standard Time",
                },
            },
        ),
        exdates=(dt.datetime(2026, 3, 11, 16, tzinfo=dt.UTC),),
    )
    assert master.event_type is EventType.SERIES_MASTER
    assert master.recurrence is not None
    assert master.recurrence.exdates
    exception = event_from_graph(
        _graph_event(type="exception", seriesMasterId="M1", originalStart="2026-03-10T16:00:00Z")
    )
    assert exception.series_master_id == "M1"
    assert exception.original_start == dt.datetime(2026, 3, 10, 16, tzinfo=dt.UTC)


def test_a11_marker_property_value_is_link_and_command() -> None:
    assert marker_property("link-1", "cmd-2") == [{"id": MARKER_PROPERTY, "value": "link-1|cmd-2"}]
