"""EWS item XML ↔ shared records (exchange_connector.ews.mapping / recurrence), pure."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from ewsclient.soap import Element, el, t
from exchange_connector.ews.events import event_fields, event_from_ews
from exchange_connector.ews.mapping import (
    contact_fields,
    contact_from_ews,
    item_for_create,
    marker_field,
    updates_for,
)
from exchange_connector.ews.recurrence import recurrence_from_ews, recurrence_to_ews
from lxml import etree
from syncmodel.records import (
    Address,
    Attendee,
    Contact,
    Event,
    EventType,
    Recurrence,
    Sensitivity,
    ShowAs,
)

PACIFIC = ZoneInfo("America/Los_Angeles")


def _tags(item: Element) -> list[str]:
    return [str(c.tag).rsplit("}", 1)[-1] for c in item]


def _with_id(item: Element) -> Element:
    item.insert(0, el(t("ItemId"), {"Id": "AAMk=", "ChangeKey": "CQAA"}))
    return item


def test_contact_round_trip_keeps_every_mapped_field() -> None:
    contact = Contact(
        first_name="Ada",
        last_name="Lovelace",
        email="ada@engines.example",
        company="Analytical Engines",
        title="CTO",
        department="R&D",
        business_phone="+1 555 0100",
        mobile_phone="+1 555 0101",
        home_phone="+1 555 0102",
        other_phone="+1 555 0103",
        business_fax="+1 555 0104",
        assistant_name="Charles",
        assistant_phone="+1 555 0105",
        birthday=dt.date(1815, 12, 10),
        notes="met at the <expo> & more",
        mailing_address=Address(street="1 Main St", city="London", postal_code="N1", country="UK"),
        other_address=Address(city="Paris"),
    )
    item = item_for_create("Contact", contact_fields(contact), marker_field("link-9", "cmd-3"))
    back = contact_from_ews(_with_id(etree.fromstring(etree.tostring(item))))
    assert back == contact.model_copy(update={"marker": "link-9"})


def test_create_body_follows_schema_order_and_merges_indexed_entries() -> None:
    contact = Contact(
        first_name="A",
        last_name="B",
        email="a@b.example",
        mailing_address=Address(street="S", city="C"),
        business_phone="1",
        mobile_phone="2",
    )
    item = item_for_create("Contact", contact_fields(contact), marker_field("l", "c"))
    tags = _tags(item)
    # ItemType fields (Body, ExtendedProperty) precede ContactItemType's, which keep their order.
    assert tags == [
        "Body",
        "ExtendedProperty",
        "DisplayName",
        "GivenName",
        "EmailAddresses",
        "PhysicalAddresses",
        "PhoneNumbers",
        "Surname",
    ]
    business = item.find(f"{t('PhysicalAddresses')}/{t('Entry')}")
    assert business is not None
    assert business.get("Key") == "Business"
    assert _tags(business) == ["Street", "City"]
    phones = item.find(t("PhoneNumbers"))
    assert phones is not None
    assert len(phones) == 2


def test_update_sets_values_and_deletes_cleared_fields() -> None:
    updates = updates_for("Contact", contact_fields(Contact(first_name="Only")))
    sets = [
        c.find(t("FieldURI")).get("FieldURI")  # type: ignore[union-attr]
        for c in updates
        if c.tag == t("SetItemField") and c.find(t("FieldURI")) is not None
    ]
    deletes = [c[0].get("FieldURI") for c in updates if c.tag == t("DeleteItemField")]
    assert "contacts:GivenName" in sets
    assert "contacts:Surname" in deletes
    assert "contacts:PhoneNumber" in deletes  # indexed: cleared with its FieldIndex
    set_given = next(c for c in updates if c.tag == t("SetItemField"))
    assert set_given[1].tag == t("Contact")


def test_timed_event_round_trip_in_its_zone() -> None:
    event = Event(
        subject="Pipeline review",
        location="Room 4",
        body="agenda",
        start=dt.datetime(2026, 12, 1, 9, 0, tzinfo=PACIFIC),
        end=dt.datetime(2026, 12, 1, 9, 30, tzinfo=PACIFIC),
        time_zone="America/Los_Angeles",
        show_as=ShowAs.WORKING_ELSEWHERE,
        sensitivity=Sensitivity.PRIVATE,
        reminder_minutes=10,
        categories=("Sales",),
    )
    item = item_for_create("CalendarItem", event_fields(event, include_attendees=False), None)
    assert item.findtext(t("Start")) == "2026-12-01T17:00:00Z"
    assert item.find(t("StartTimeZone")).get("Id") == "Pacific Standard Time"  # type: ignore[union-attr]
    back = event_from_ews(_with_id(item))
    assert back.start == event.start
    assert back.end == event.end
    assert back.model_dump(exclude={"start", "end"}) == event.model_dump(exclude={"start", "end"})


def test_all_day_event_is_midnight_of_its_zone() -> None:
    event = Event(
        subject="Offsite",
        is_all_day=True,
        start_date=dt.date(2026, 12, 3),
        end_date=dt.date(2026, 12, 5),
        time_zone="America/Los_Angeles",
    )
    item = item_for_create("CalendarItem", event_fields(event, include_attendees=False), None)
    assert item.findtext(t("Start")) == "2026-12-03T08:00:00Z"
    back = event_from_ews(_with_id(item))
    assert (back.start_date, back.end_date, back.is_all_day) == (
        event.start_date,
        event.end_date,
        True,
    )


def test_attendees_are_written_only_when_invitations_may_go_out() -> None:
    event = Event(
        subject="Demo",
        start=dt.datetime(2026, 12, 1, 17, tzinfo=dt.UTC),
        end=dt.datetime(2026, 12, 1, 18, tzinfo=dt.UTC),
        attendees=(Attendee(email="buyer@customer.example", name="Buyer"),),
    )
    quiet = item_for_create("CalendarItem", event_fields(event, include_attendees=False), None)
    assert quiet.find(t("RequiredAttendees")) is None
    loud = item_for_create("CalendarItem", event_fields(event, include_attendees=True), None)
    assert event_from_ews(_with_id(loud)).attendees == event.attendees


def test_recurring_master_with_cancelled_occurrences() -> None:
    recurrence = Recurrence(
        rrule="FREQ=WEEKLY;INTERVAL=1;BYDAY=TU,TH;WKST=MO;COUNT=6",
        time_zone="America/Los_Angeles",
        start_date=dt.date(2026, 12, 1),
    )
    event = Event(
        subject="Standup",
        start=dt.datetime(2026, 12, 1, 9, tzinfo=PACIFIC),
        end=dt.datetime(2026, 12, 1, 9, 15, tzinfo=PACIFIC),
        time_zone="America/Los_Angeles",
        event_type=EventType.SERIES_MASTER,
        recurrence=recurrence,
    )
    item = _with_id(
        item_for_create("CalendarItem", event_fields(event, include_attendees=False), None)
    )
    item.append(el(t("CalendarItemType"), text="RecurringMaster"))
    deleted = el(t("DeletedOccurrences"))
    deleted.append(el(t("DeletedOccurrence"), None, el(t("Start"), text="2026-12-03T17:00:00Z")))
    item.append(deleted)
    back = event_from_ews(item)
    assert back.event_type is EventType.SERIES_MASTER
    assert back.recurrence is not None
    assert back.recurrence.rrule == recurrence.rrule
    assert back.recurrence.exdates == (dt.datetime(2026, 12, 3, 17, tzinfo=dt.UTC),)


@pytest.mark.parametrize(
    "rrule",
    [
        "FREQ=DAILY;INTERVAL=2;COUNT=3",
        "FREQ=MONTHLY;INTERVAL=1;BYMONTHDAY=15",
        "FREQ=MONTHLY;INTERVAL=1;BYDAY=TU;BYSETPOS=-1;COUNT=4",
        "FREQ=YEARLY;INTERVAL=1;BYMONTH=3;BYMONTHDAY=9",
        "FREQ=YEARLY;INTERVAL=1;BYMONTH=11;BYDAY=TH;BYSETPOS=4",
    ],
)
def test_recurrence_patterns_round_trip(rrule: str) -> None:
    recurrence = Recurrence(rrule=rrule, time_zone="Europe/Berlin", start_date=dt.date(2026, 3, 9))
    node = etree.fromstring(etree.tostring(recurrence_to_ews(recurrence)))
    back = recurrence_from_ews(node, is_all_day=False, time_zone="Europe/Berlin")
    assert back.rrule == rrule
    assert back.start_date == recurrence.start_date


def test_ews_day_groups_and_dated_start() -> None:
    node = etree.fromstring(
        f'<t:Recurrence xmlns:t="{t("x")[1:].split("}")[0]}"><t:RelativeMonthlyRecurrence>'
        "<t:Interval>1</t:Interval><t:DaysOfWeek>Weekday</t:DaysOfWeek>"
        "<t:DayOfWeekIndex>First</t:DayOfWeekIndex></t:RelativeMonthlyRecurrence>"
        "<t:EndDateRecurrence><t:StartDate>2026-01-01-08:00</t:StartDate>"
        "<t:EndDate>2026-06-30-08:00</t:EndDate></t:EndDateRecurrence></t:Recurrence>"
    )
    back = recurrence_from_ews(node, is_all_day=True, time_zone="UTC")
    assert back.rrule.startswith("FREQ=MONTHLY;INTERVAL=1;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=1")
    assert back.rrule.endswith("UNTIL=20260630")
    assert back.start_date == dt.date(2026, 1, 1)
