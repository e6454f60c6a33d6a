"""Pure mapping between Salesforce REST JSON and the shared records (no I/O).

Salesforce datetimes are UTC instants (`2026-03-02T20:00:00.000+0000`); time zones are IANA ids
(User.TimeZoneSidKey, Recurrence2PatternTimeZone). All-day events are date spans: ActivityDate
plus DurationInMinutes = days * 1440, mapped to `start_date`/`end_date` (end exclusive).
Lightning series carry an RFC 5545 RRULE in Recurrence2PatternText; Classic recurrence
(IsRecurrence) is flagged as unsupported (LS-11b). Object Reference "Event", "Contact" (C13).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from syncmodel.kinds import Kind
from syncmodel.records import (
    Account,
    Address,
    Contact,
    Event,
    EventType,
    Lead,
    Recurrence,
    RelatedRecord,
    SalesforceUser,
    Sensitivity,
    ShowAs,
)

Row = dict[str, Any]
SYSTEM_FIELDS = ("Id", "OwnerId", "SystemModstamp", "CreatedDate", "LastModifiedDate")
CONTACT_FIELDS = (
    "FirstName", "LastName", "Email", "AccountId", "Account.Name", "Title", "Department",
    "Phone", "MobilePhone", "HomePhone", "OtherPhone", "Fax", "AssistantName",
    "AssistantPhone", "Birthdate", "Description", "MailingStreet", "MailingCity",
    "MailingState", "MailingPostalCode", "MailingCountry", "OtherStreet", "OtherCity",
    "OtherState", "OtherPostalCode", "OtherCountry",
)  # fmt: skip
EVENT_FIELDS = (
    "Subject", "Location", "Description", "StartDateTime", "EndDateTime", "IsAllDayEvent",
    "ActivityDate", "DurationInMinutes", "IsPrivate", "ShowAs", "WhoId", "WhatId",
    "IsRecurrence", "IsRecurrence2", "Recurrence2PatternText", "Recurrence2PatternStartDate",
    "Recurrence2PatternTimeZone", "IsRecurrence2Exception", "IsRecurrence2Exclusion", "IsChild",
    "IsRecurrence2Series", "RecurrenceActivityId",
)  # fmt: skip
USER_FIELDS = ("Id", "Username", "Email", "Name", "ProfileId", "TimeZoneSidKey", "IsActive",
               "SystemModstamp", "CreatedDate")  # fmt: skip
LEAD_FIELDS = ("FirstName", "LastName", "Email", "Company", "IsConverted")
ACCOUNT_FIELDS = ("Name",)

_SHOW_AS_IN = {"Busy": ShowAs.BUSY, "Free": ShowAs.FREE, "OutOfOffice": ShowAs.OOF}
# Salesforce has no standard tentative / working-elsewhere value: they show as Busy (C13).
_SHOW_AS_OUT = {ShowAs.FREE: "Free", ShowAs.OOF: "OutOfOffice"}
_PREFIX_KIND = {"003": "contact", "00Q": "lead", "001": "account", "006": "opportunity",
                "005": "user"}  # fmt: skip


def soql_fields(kind: Kind, marker_field: str) -> list[str]:
    own = {
        Kind.CONTACT: CONTACT_FIELDS,
        Kind.EVENT: EVENT_FIELDS,
        Kind.LEAD: LEAD_FIELDS,
        Kind.ACCOUNT: ACCOUNT_FIELDS,
    }
    if kind is Kind.USER:
        return list(USER_FIELDS)
    fields = [*SYSTEM_FIELDS, *own[kind]]
    if marker_field and kind in (Kind.CONTACT, Kind.EVENT):
        fields.append(marker_field)
    return fields


def parse_datetime(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    text = value.replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
        text = text[:-2] + ":" + text[-2:]  # `+0000` -> `+00:00`
    return dt.datetime.fromisoformat(text).astimezone(dt.UTC)


def format_datetime(value: dt.datetime) -> str:
    value = value.astimezone(dt.UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def row_version(row: Row) -> str:
    """A record version: its SystemModstamp plus a digest of the fields read.

    SystemModstamp has second precision, so two edits of one record within a second share it;
    the digest tells them apart, or the second edit would look like a replay and be lost. The
    same row read by the same SOQL gives the same version (replays stay recognizable).
    """
    content = {k: v for k, v in row.items() if k != "attributes"}
    digest = hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode())
    return f"{row['SystemModstamp']}#{digest.hexdigest()[:12]}"


def version_stamp(version: str | None) -> dt.datetime | None:
    """The SystemModstamp instant of a version from `row_version` (or of a bare stamp)."""
    return parse_datetime(version.partition("#")[0]) if version else None


def _date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value[:10]) if value else None


def _zone(name: str | None) -> str:
    if not name:
        return "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return "UTC"
    return name


def _address(row: Row, prefix: str) -> Address | None:
    parts = {
        "street": row.get(f"{prefix}Street"),
        "city": row.get(f"{prefix}City"),
        "state": row.get(f"{prefix}State"),
        "postal_code": row.get(f"{prefix}PostalCode"),
        "country": row.get(f"{prefix}Country"),
    }
    return Address(**parts) if any(parts.values()) else None


def soql_quote(value: str) -> str:
    """A SOQL string literal, backslash and quote escaped ("Quoted String Escape Sequences")."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def soql_in(values: list[str]) -> str:
    return "(" + ", ".join(soql_quote(v) for v in values) + ")"


def contact_from_sf(row: Row, marker_field: str = "") -> Contact:
    account = row.get("Account") or {}
    return Contact(
        first_name=row.get("FirstName"),
        last_name=row.get("LastName"),
        email=row.get("Email"),
        company=account.get("Name") if isinstance(account, dict) else None,
        account_id=row.get("AccountId"),
        title=row.get("Title"),
        department=row.get("Department"),
        business_phone=row.get("Phone"),
        mobile_phone=row.get("MobilePhone"),
        home_phone=row.get("HomePhone"),
        other_phone=row.get("OtherPhone"),
        business_fax=row.get("Fax"),
        assistant_name=row.get("AssistantName"),
        assistant_phone=row.get("AssistantPhone"),
        birthday=_date(row.get("Birthdate")),
        notes=row.get("Description"),
        mailing_address=_address(row, "Mailing"),
        other_address=_address(row, "Other"),
        owner_id=row.get("OwnerId"),
        marker=row.get(marker_field) if marker_field else None,
    )


def contact_to_sf(contact: Contact) -> Row:
    """Writable Contact fields; `company` is not written (AccountId links the account)."""
    row: Row = {
        "FirstName": contact.first_name,
        "LastName": contact.last_name,
        "Email": contact.email,
        "Title": contact.title,
        "Department": contact.department,
        "Phone": contact.business_phone,
        "MobilePhone": contact.mobile_phone,
        "HomePhone": contact.home_phone,
        "OtherPhone": contact.other_phone,
        "Fax": contact.business_fax,
        "AssistantName": contact.assistant_name,
        "AssistantPhone": contact.assistant_phone,
        "Birthdate": contact.birthday.isoformat() if contact.birthday else None,
        "Description": contact.notes,
    }
    for prefix, address in (("Mailing", contact.mailing_address), ("Other", contact.other_address)):
        a = address or Address()
        row.update(
            {
                f"{prefix}Street": a.street,
                f"{prefix}City": a.city,
                f"{prefix}State": a.state,
                f"{prefix}PostalCode": a.postal_code,
                f"{prefix}Country": a.country,
            }
        )
    if contact.account_id:
        row["AccountId"] = contact.account_id
    if contact.owner_id:
        row["OwnerId"] = contact.owner_id
    return row


def recurrence_from_sf(row: Row) -> Recurrence | None:
    text = row.get("Recurrence2PatternText")
    if not row.get("IsRecurrence2") or not text:
        return None
    zone = _zone(row.get("Recurrence2PatternTimeZone"))
    start = parse_datetime(row.get("Recurrence2PatternStartDate")) or parse_datetime(
        row.get("StartDateTime")
    )
    assert start is not None
    rule = text.removeprefix("RRULE:")
    return Recurrence(
        rrule=rule, time_zone=zone, start_date=start.astimezone(ZoneInfo(zone)).date()
    )


def recurrence_to_sf(recurrence: Recurrence, first_start: dt.datetime | None) -> Row:
    start = first_start or dt.datetime.combine(
        recurrence.start_date, dt.time(), ZoneInfo(_zone(recurrence.time_zone))
    )
    return {
        "IsRecurrence2": True,
        "Recurrence2PatternText": "RRULE:" + recurrence.rrule.removeprefix("RRULE:"),
        "Recurrence2PatternTimeZone": recurrence.time_zone,
        "Recurrence2PatternStartDate": format_datetime(start),
        "Recurrence2PatternVersion": "1",
    }


def kind_of_id(record_id: str) -> str | None:
    """The object of a Salesforce id, by its key prefix (contact, lead, account, ...)."""
    return _PREFIX_KIND.get(record_id[:3])


def is_series_record(row: Row) -> bool:
    """The series record of a Lightning series (`IsRecurrence2Series`; without that field,
    the occurrence starting at the pattern start)."""
    if not row.get("IsRecurrence2"):
        return False
    if "IsRecurrence2Series" in row:
        return bool(row["IsRecurrence2Series"])
    return row.get("StartDateTime") == row.get("Recurrence2PatternStartDate")


def event_type_of(row: Row) -> EventType:
    if not row.get("IsRecurrence2"):
        return EventType.SINGLE
    if row.get("IsRecurrence2Exception"):
        return EventType.EXCEPTION
    if is_series_record(row):
        return EventType.SERIES_MASTER
    return EventType.OCCURRENCE


def _related(row: Row) -> tuple[RelatedRecord, ...]:
    out = []
    for field, is_who in (("WhoId", True), ("WhatId", False)):
        value = row.get(field)
        kind = _PREFIX_KIND.get(str(value)[:3]) if value else None
        if value and kind:
            out.append(RelatedRecord(id=value, kind=kind, is_who=is_who))
    return tuple(out)


def event_from_sf(
    row: Row,
    owner_time_zone: str | None = None,
    marker_field: str = "",
    series_master_id: str | None = None,
) -> Event:
    """`series_master_id`: the series record an exception belongs to (the caller finds it)."""
    event_type = event_type_of(row)
    common: dict[str, Any] = {
        "subject": row.get("Subject"),
        "location": row.get("Location"),
        "body": row.get("Description"),
        "show_as": _SHOW_AS_IN.get(row.get("ShowAs") or "Busy", ShowAs.BUSY),
        "sensitivity": Sensitivity.PRIVATE if row.get("IsPrivate") else Sensitivity.NORMAL,
        "related": _related(row),
        "event_type": event_type,
        "recurrence": recurrence_from_sf(row) if event_type is EventType.SERIES_MASTER else None,
        "owner_id": row.get("OwnerId"),
        # A Classic series' master has IsRecurrence; its occurrences point at it (LS-11b).
        "classic_recurrence": bool(row.get("IsRecurrence") or row.get("RecurrenceActivityId")),
        "marker": row.get(marker_field) if marker_field else None,
        "time_zone": _zone(row.get("Recurrence2PatternTimeZone") or owner_time_zone),
    }
    if event_type is EventType.EXCEPTION:
        common["original_start"] = parse_datetime(row.get("StartDateTime"))
        common["series_master_id"] = series_master_id
    if row.get("IsAllDayEvent"):
        start_day = _date(row.get("ActivityDate")) or _date(row.get("StartDateTime"))
        assert start_day is not None
        days = max(1, int(row.get("DurationInMinutes") or 1440) // 1440)
        return Event(
            is_all_day=True,
            start_date=start_day,
            end_date=start_day + dt.timedelta(days=days),
            **common,
        )
    return Event(
        start=parse_datetime(row.get("StartDateTime")),
        end=parse_datetime(row.get("EndDateTime")),
        **common,
    )


def event_to_sf(event: Event) -> Row:
    row: Row = {
        "Subject": event.subject,
        "Location": event.location,
        "Description": event.body,
        "IsPrivate": event.is_private,
        "ShowAs": _SHOW_AS_OUT.get(event.show_as, "Busy"),
        "IsAllDayEvent": event.is_all_day,
    }
    if event.is_all_day:
        assert event.start_date is not None
        assert event.end_date is not None
        row["ActivityDate"] = event.start_date.isoformat()
        row["DurationInMinutes"] = (event.end_date - event.start_date).days * 1440
    else:
        assert event.start is not None
        assert event.end is not None
        row["StartDateTime"] = format_datetime(event.start)
        row["EndDateTime"] = format_datetime(event.end)
    for related in event.related:
        if related.is_who and "WhoId" not in row:
            row["WhoId"] = related.id
        elif related.kind in ("account", "opportunity") and "WhatId" not in row:
            row["WhatId"] = related.id
    if event.event_type is EventType.SERIES_MASTER and event.recurrence is not None:
        row.update(recurrence_to_sf(event.recurrence, event.start))
    if event.owner_id:
        row["OwnerId"] = event.owner_id
    return row


def user_from_sf(row: Row) -> SalesforceUser:
    return SalesforceUser(
        username=row["Username"],
        email=row.get("Email") or row["Username"],
        name=row.get("Name"),
        profile_id=row.get("ProfileId"),
        time_zone=row.get("TimeZoneSidKey"),
        is_active=bool(row.get("IsActive", True)),
    )


def lead_from_sf(row: Row) -> Lead:
    return Lead(
        first_name=row.get("FirstName"),
        last_name=row.get("LastName"),
        email=row.get("Email"),
        company=row.get("Company"),
        is_converted=bool(row.get("IsConverted")),
        owner_id=row.get("OwnerId"),
    )


def account_from_sf(row: Row) -> Account:
    return Account(name=row.get("Name") or "", owner_id=row.get("OwnerId"))
