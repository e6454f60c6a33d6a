"""Salesforce JSON <-> shared records (pure): field names, time zones, all-day dates, RRULEs.

Object Reference "Event" / "Contact"; protocols.md C13 (ShowAs values, Recurrence2 fields).
"""

from __future__ import annotations

import datetime as dt

import pytest
from salesforce_connector import mapping
from syncmodel.records import (
    Address,
    Contact,
    Event,
    EventType,
    Recurrence,
    Sensitivity,
    ShowAs,
)


def test_wire_datetimes_parse_to_utc_and_format_back() -> None:
    parsed = mapping.parse_datetime("2026-03-02T20:00:00.000+0000")
    assert parsed == dt.datetime(2026, 3, 2, 20, tzinfo=dt.UTC)
    assert mapping.format_datetime(
        dt.datetime(2026, 3, 2, 15, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    ) == ("2026-03-02T20:00:00.000+0000")
    assert mapping.parse_datetime(None) is None


def test_contact_fields_map_both_ways() -> None:
    row = {
        "Id": "0035g0000000001AAA",
        "FirstName": "Ana",
        "LastName": "Lopez",
        "Email": "a@x.example",
        "Account": {"attributes": {"type": "Account"}, "Name": "Acme"},
        "AccountId": "0015g0000000001AAA",
        "Phone": "+1 555",
        "Fax": "+1 556",
        "MailingCity": "Boston",
        "Birthdate": "1980-02-29",
        "OwnerId": "0055g0000000001AAA",
        "Syncline_Id__c": "link-1",
    }
    contact = mapping.contact_from_sf(row, "Syncline_Id__c")
    assert contact.company == "Acme"
    assert contact.business_phone == "+1 555"
    assert contact.business_fax == "+1 556"
    assert contact.birthday == dt.date(1980, 2, 29)
    assert contact.mailing_address == Address(city="Boston")
    assert contact.marker == "link-1"
    back = mapping.contact_to_sf(contact)
    assert back["LastName"] == "Lopez"
    assert back["MailingCity"] == "Boston"
    assert back["Birthdate"] == "1980-02-29"
    assert back["AccountId"] == row["AccountId"]
    assert "Name" not in back
    assert "Account" not in back


def test_timed_event_uses_owner_zone_and_maps_show_as_and_privacy() -> None:
    row = {
        "Id": "00U5g0000000001AAA",
        "Subject": "Demo",
        "StartDateTime": "2026-03-02T20:00:00.000+0000",
        "EndDateTime": "2026-03-02T21:30:00.000+0000",
        "IsAllDayEvent": False,
        "IsPrivate": True,
        "ShowAs": "OutOfOffice",
        "WhoId": "0035g0000000001AAA",
        "WhatId": "0015g0000000001AAA",
    }
    event = mapping.event_from_sf(row, "America/New_York")
    assert event.start == dt.datetime(2026, 3, 2, 20, tzinfo=dt.UTC)
    assert event.time_zone == "America/New_York"
    assert event.show_as is ShowAs.OOF
    assert event.sensitivity is Sensitivity.PRIVATE
    assert [(r.kind, r.is_who) for r in event.related] == [("contact", True), ("account", False)]
    back = mapping.event_to_sf(event)
    assert back["IsPrivate"] is True
    assert back["ShowAs"] == "OutOfOffice"
    assert back["WhoId"] == row["WhoId"]
    assert back["WhatId"] == row["WhatId"]
    assert back["StartDateTime"] == row["StartDateTime"]


@pytest.mark.parametrize(
    ("show_as", "wire"),
    [
        (ShowAs.TENTATIVE, "Busy"),
        (ShowAs.WORKING_ELSEWHERE, "Busy"),
        (ShowAs.FREE, "Free"),
        (ShowAs.BUSY, "Busy"),
    ],
)
def test_show_as_without_salesforce_value_is_busy(show_as: ShowAs, wire: str) -> None:
    start = dt.datetime(2026, 1, 1, 9, tzinfo=dt.UTC)
    event = Event(start=start, end=start + dt.timedelta(hours=1), show_as=show_as)
    assert mapping.event_to_sf(event)["ShowAs"] == wire


def test_all_day_events_are_date_spans_with_exclusive_end() -> None:
    row = {
        "Id": "00U5g0000000002AAA",
        "IsAllDayEvent": True,
        "ActivityDate": "2026-03-10",
        "StartDateTime": "2026-03-10T00:00:00.000+0000",
        "DurationInMinutes": 2880,
    }
    event = mapping.event_from_sf(row, "Asia/Tokyo")
    assert (event.start_date, event.end_date) == (dt.date(2026, 3, 10), dt.date(2026, 3, 12))
    assert event.start is None
    back = mapping.event_to_sf(event)
    assert back["ActivityDate"] == "2026-03-10"
    assert back["DurationInMinutes"] == 2880
    assert "StartDateTime" not in back


def test_recurrence2_series_master_carries_rrule_in_its_zone() -> None:
    row = {
        "Id": "00U5g0000000003AAA",
        "StartDateTime": "2026-12-02T01:00:00.000+0000",
        "EndDateTime": "2026-12-02T01:30:00.000+0000",
        "IsRecurrence2": True,
        "Recurrence2PatternText": "RRULE:FREQ=WEEKLY;INTERVAL=1;BYDAY=TU;WKST=SU;COUNT=6",
        "Recurrence2PatternStartDate": "2026-12-02T01:00:00.000+0000",
        "Recurrence2PatternTimeZone": "America/Los_Angeles",
    }
    event = mapping.event_from_sf(row)
    assert event.event_type is EventType.SERIES_MASTER
    # 01:00 UTC on 2 Dec is the evening of 1 Dec in Los Angeles: the series starts on the 1st.
    assert event.recurrence == Recurrence(
        rrule="FREQ=WEEKLY;INTERVAL=1;BYDAY=TU;WKST=SU;COUNT=6",
        time_zone="America/Los_Angeles",
        start_date=dt.date(2026, 12, 1),
    )
    back = mapping.event_to_sf(event)
    assert back["Recurrence2PatternText"] == row["Recurrence2PatternText"]
    assert back["Recurrence2PatternTimeZone"] == "America/Los_Angeles"
    later = {
        **row,
        "StartDateTime": "2026-12-09T01:00:00.000+0000",
        "EndDateTime": "2026-12-09T01:30:00.000+0000",
    }
    assert mapping.event_from_sf(later).event_type is EventType.OCCURRENCE
    moved = {**later, "IsRecurrence2Exception": True}
    assert mapping.event_from_sf(moved).event_type is EventType.EXCEPTION


def test_classic_recurrence_is_flagged_unsupported_ls11b() -> None:
    row = {
        "Id": "00U5g0000000004AAA",
        "StartDateTime": "2026-12-02T09:00:00.000+0000",
        "EndDateTime": "2026-12-02T09:15:00.000+0000",
        "IsRecurrence": True,
    }
    assert mapping.event_from_sf(row).classic_recurrence is True


def test_unknown_time_zone_falls_back_to_utc() -> None:
    start = "2026-01-01T09:00:00.000+0000"
    row = {"Id": "00U5g0000000005AAA", "StartDateTime": start, "EndDateTime": start}
    assert mapping.event_from_sf(row, "Mars/Olympus").time_zone == "UTC"


def test_soql_literals_are_escaped() -> None:
    assert mapping.soql_quote("O'Brien\\x") == "'O\\'Brien\\\\x'"
    assert mapping.soql_in(["a", "b"]) == "('a', 'b')"


def test_user_maps_time_zone_and_activity() -> None:
    user = mapping.user_from_sf(
        {
            "Id": "0055g",
            "Username": "rep@x.example",
            "Email": "rep@x.example",
            "TimeZoneSidKey": "Europe/Berlin",
            "IsActive": False,
        }
    )
    assert user.time_zone == "Europe/Berlin"
    assert user.is_active is False
    assert isinstance(mapping.contact_from_sf({"LastName": "x"}), Contact)


def test_row_version_tells_same_second_edits_apart_and_keeps_replays_equal() -> None:
    """SystemModstamp has second precision; the version adds a digest of the fields read."""
    row = {
        "attributes": {"type": "Contact", "url": "/x"},
        "Id": "003A",
        "SystemModstamp": "2026-03-02T20:00:00.000+0000",
        "Title": "First",
    }
    edited = {**row, "Title": "Second"}
    replayed = {**row, "attributes": {"type": "Contact", "url": "/y"}}
    assert mapping.row_version(row) != mapping.row_version(edited)
    assert mapping.row_version(row) == mapping.row_version(replayed)
    assert mapping.row_version(row).startswith("2026-03-02T20:00:00.000+0000#")
    stamp = dt.datetime(2026, 3, 2, 20, tzinfo=dt.UTC)
    assert mapping.version_stamp(mapping.row_version(edited)) == stamp
    assert mapping.version_stamp("2026-03-02T20:00:00.000+0000") == stamp  # a bare stamp
    assert mapping.version_stamp(None) is None
