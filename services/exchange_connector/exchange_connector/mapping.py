"""Graph JSON ↔ the shared `Contact` / `Event` records, pure (no I/O, no clock).

Reads assume `Prefer: outlook.timezone="UTC"` (client.py), so `start`/`end` are UTC; the zone an
event was authored in comes from `originalStartTimeZone` (Windows name → IANA). All-day events are
dates (end exclusive). Our own marker is a single-value extended property (A11) whose value is
`<link id>|<command id>`; the record's `marker` is the link id.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

from syncmodel.records import (
    Address,
    Attendee,
    AttendeeType,
    Contact,
    Event,
    EventType,
    Response,
    Sensitivity,
    ShowAs,
)

from exchange_connector.recurrence import graph_to_recurrence, recurrence_to_graph
from exchange_connector.zones import to_iana, to_windows, zone

MARKER_PROPERTY = "String {8ECCC264-6880-4EBE-992F-8888D2EEAA1D} Name SynclineMarker"
TENANT_CLAIM_PROPERTY = "String {8ECCC264-6880-4EBE-992F-8888D2EEAA1D} Name SynclineTenant"

_EVENT_TYPES = {
    "singleInstance": EventType.SINGLE,
    "seriesMaster": EventType.SERIES_MASTER,
    "occurrence": EventType.OCCURRENCE,
    "exception": EventType.EXCEPTION,
}
_RESPONSES = {
    "none": Response.NONE,
    "organizer": Response.ORGANIZER,
    "accepted": Response.ACCEPTED,
    "tentativelyAccepted": Response.TENTATIVE,
    "declined": Response.DECLINED,
    "notResponded": Response.NOT_RESPONDED,
}
_SHOW_AS = {"workingElsewhere": ShowAs.WORKING_ELSEWHERE}
_TAGS = re.compile(r"<[^>]+>")
_BLANK_LINES = re.compile(r"\n\s*\n+")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _first(values: Any) -> str | None:
    return _text(values[0]) if isinstance(values, list) and values else None


def marker_of(item: dict[str, Any]) -> str | None:
    for prop in item.get("singleValueExtendedProperties") or []:
        if str(prop.get("id", "")).lower() == MARKER_PROPERTY.lower():
            value = str(prop.get("value") or "")
            return value.split("|", 1)[0] or None
    return None


def marker_property(link_id: str, command_id: str) -> list[dict[str, str]]:
    return [{"id": MARKER_PROPERTY, "value": f"{link_id}|{command_id}"}]


# --- contacts ---------------------------------------------------------------------------------


def _address_from_graph(value: Any) -> Address | None:
    if not isinstance(value, dict):
        return None
    address = Address(
        street=_text(value.get("street")),
        city=_text(value.get("city")),
        state=_text(value.get("state")),
        postal_code=_text(value.get("postalCode")),
        country=_text(value.get("countryOrRegion")),
    )
    return address if any(address.model_dump().values()) else None


def _address_to_graph(address: Address | None) -> dict[str, Any]:
    if address is None:
        return {}
    return {
        "street": address.street,
        "city": address.city,
        "state": address.state,
        "postalCode": address.postal_code,
        "countryOrRegion": address.country,
    }


def _birthday(value: Any) -> dt.date | None:
    if not value:
        return None
    return dt.date.fromisoformat(str(value)[:10])


def contact_from_graph(item: dict[str, Any]) -> Contact:
    emails = item.get("emailAddresses") or []
    return Contact(
        first_name=_text(item.get("givenName")),
        last_name=_text(item.get("surname")),
        email=_text(emails[0].get("address")) if emails else None,
        company=_text(item.get("companyName")),
        title=_text(item.get("jobTitle")),
        department=_text(item.get("department")),
        business_phone=_first(item.get("businessPhones")),
        mobile_phone=_text(item.get("mobilePhone")),
        home_phone=_first(item.get("homePhones")),
        assistant_name=_text(item.get("assistantName")),
        birthday=_birthday(item.get("birthday")),
        notes=_text(item.get("personalNotes")),
        mailing_address=_address_from_graph(item.get("businessAddress")),
        other_address=_address_from_graph(item.get("otherAddress")),
        marker=marker_of(item),
    )


def contact_to_graph(contact: Contact) -> dict[str, Any]:
    """A full contact body (PATCH with it overwrites every mapped field, LS-29)."""
    name = " ".join(p for p in (contact.first_name, contact.last_name) if p)
    return {
        "givenName": contact.first_name,
        "surname": contact.last_name,
        "emailAddresses": [{"address": contact.email, "name": name or contact.email}]
        if contact.email
        else [],
        "companyName": contact.company,
        "jobTitle": contact.title,
        "department": contact.department,
        "businessPhones": [contact.business_phone] if contact.business_phone else [],
        "mobilePhone": contact.mobile_phone,
        "homePhones": [contact.home_phone] if contact.home_phone else [],
        "assistantName": contact.assistant_name,
        "birthday": f"{contact.birthday.isoformat()}T00:00:00Z" if contact.birthday else None,
        "personalNotes": contact.notes or "",
        "businessAddress": _address_to_graph(contact.mailing_address),
        "otherAddress": _address_to_graph(contact.other_address),
    }


# --- events -----------------------------------------------------------------------------------


def parse_graph_datetime(value: dict[str, Any]) -> dt.datetime:
    """A dateTimeTimeZone -> aware datetime (7 fractional digits, no offset, A2)."""
    text = str(value["dateTime"]).rstrip("Z")
    if "." in text:
        head, frac = text.split(".", 1)
        text = f"{head}.{frac[:6]}"
    naive = dt.datetime.fromisoformat(text)
    return naive if naive.tzinfo else naive.replace(tzinfo=zone(value.get("timeZone")))


def _attendee(raw: dict[str, Any]) -> Attendee | None:
    email = (raw.get("emailAddress") or {}).get("address")
    if not email:
        return None
    status = (raw.get("status") or {}).get("response") or "none"
    return Attendee(
        email=str(email),
        name=_text((raw.get("emailAddress") or {}).get("name")),
        type=AttendeeType(raw.get("type") or "required"),
        response=_RESPONSES.get(status, Response.NONE),
    )


def body_text(body: Any) -> str | None:
    if not isinstance(body, dict):
        return None
    content = str(body.get("content") or "")
    if str(body.get("contentType", "")).lower() == "html":
        content = html.unescape(_TAGS.sub("\n", content))
        content = _BLANK_LINES.sub("\n", content)
    return _text(content)


def event_from_graph(
    item: dict[str, Any], exdates: tuple[dt.date | dt.datetime, ...] = ()
) -> Event:
    """One Graph event (single, series master with its cancelled occurrences, or exception)."""
    tz_name = to_iana(item.get("originalStartTimeZone"))
    all_day = bool(item.get("isAllDay"))
    start, end = parse_graph_datetime(item["start"]), parse_graph_datetime(item["end"])
    organizer_raw = item.get("organizer") or {}
    organizer = (
        _attendee({**organizer_raw, "status": {"response": "organizer"}}) if organizer_raw else None
    )
    show_as = item.get("showAs") or "busy"
    recurrence = None
    if item.get("recurrence"):
        recurrence = graph_to_recurrence(
            item["recurrence"], is_all_day=all_day, fallback_zone=tz_name, exdates=exdates
        )
    original_start: dt.datetime | dt.date | None = None
    if item.get("originalStart"):
        original_start = dt.datetime.fromisoformat(
            str(item["originalStart"]).replace("Z", "+00:00")
        )
        if all_day:
            original_start = original_start.date()
    attendees = tuple(a for a in map(_attendee, item.get("attendees") or []) if a is not None)
    return Event(
        subject=_text(item.get("subject")),
        location=_text((item.get("location") or {}).get("displayName")),
        body=body_text(item.get("body")),
        is_all_day=all_day,
        start=None if all_day else start,
        end=None if all_day else end,
        # All-day times are floating midnights: the date part is the calendar day (A10).
        start_date=start.date() if all_day else None,
        end_date=end.date() if all_day else None,
        time_zone=tz_name,
        show_as=_SHOW_AS.get(show_as) or ShowAs(show_as),
        sensitivity=Sensitivity(item.get("sensitivity") or "normal"),
        reminder_minutes=item.get("reminderMinutesBeforeStart")
        if item.get("isReminderOn")
        else None,
        categories=tuple(item.get("categories") or ()),
        ical_uid=item.get("iCalUId"),
        organizer=organizer,
        is_organizer=bool(item.get("isOrganizer", True)),
        attendees=attendees,
        event_type=_EVENT_TYPES.get(item.get("type") or "singleInstance", EventType.SINGLE),
        recurrence=recurrence,
        series_master_id=item.get("seriesMasterId"),
        original_start=original_start,
        is_cancelled=bool(item.get("isCancelled")),
        marker=marker_of(item),
    )


def _graph_time(event: Event, which: str) -> dict[str, str]:
    windows = to_windows(event.time_zone)
    if event.is_all_day:
        day = event.start_date if which == "start" else event.end_date
        assert day is not None
        return {"dateTime": f"{day.isoformat()}T00:00:00", "timeZone": windows}
    moment = event.start if which == "start" else event.end
    assert moment is not None
    local = moment.astimezone(zone(event.time_zone))
    return {"dateTime": local.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": windows}


def event_to_graph(event: Event, *, include_attendees: bool) -> dict[str, Any]:
    """A Graph event body. Attendees only when invitations may go out: Exchange mails every
    attendee of a created or changed meeting and that cannot be switched off (A4)."""
    show_as = (
        "workingElsewhere" if event.show_as is ShowAs.WORKING_ELSEWHERE else event.show_as.value
    )
    body: dict[str, Any] = {
        "subject": event.subject or "",
        "body": {"contentType": "text", "content": event.body or ""},
        "location": {"displayName": event.location or ""},
        "isAllDay": event.is_all_day,
        "start": _graph_time(event, "start"),
        "end": _graph_time(event, "end"),
        "showAs": show_as,
        "sensitivity": event.sensitivity.value,
        "categories": list(event.categories),
        "isReminderOn": event.reminder_minutes is not None,
    }
    if event.reminder_minutes is not None:
        body["reminderMinutesBeforeStart"] = event.reminder_minutes
    if event.recurrence is not None and event.event_type is EventType.SERIES_MASTER:
        body["recurrence"] = recurrence_to_graph(event.recurrence)
    if include_attendees:
        body["attendees"] = [
            {"type": a.type.value, "emailAddress": {"address": a.email, "name": a.name or a.email}}
            for a in event.attendees
        ]
    return body
