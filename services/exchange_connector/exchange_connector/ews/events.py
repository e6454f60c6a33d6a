"""EWS calendar items ↔ the shared `Event` record, pure (EWS reference `calendaritem.md`;
protocols.md B7). Times are UTC on the wire with the authored zone in `StartTimeZone` (a Windows
name); all-day items are midnights of that zone; cancelled occurrences of a recurring master come
from `DeletedOccurrences` as the series' exdates."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from ewsclient.soap import Element, el, t
from syncmodel.records import (
    Attendee,
    AttendeeType,
    Event,
    EventType,
    Response,
    Sensitivity,
    ShowAs,
)

from exchange_connector.ews.mapping import (
    Field,
    body_of,
    field_uri,
    marker_of,
    text_of,
    utc_of,
    value_element,
    z_of,
)
from exchange_connector.ews.recurrence import recurrence_from_ews, recurrence_to_ews
from exchange_connector.zones import to_iana, to_windows, zone

_FREE_BUSY = {
    "Free": ShowAs.FREE,
    "Tentative": ShowAs.TENTATIVE,
    "Busy": ShowAs.BUSY,
    "OOF": ShowAs.OOF,
    "WorkingElsewhere": ShowAs.WORKING_ELSEWHERE,
    "NoData": ShowAs.UNKNOWN,
}
_EWS_FREE_BUSY = {v: k for k, v in _FREE_BUSY.items()}
_ITEM_TYPES = {
    "Single": EventType.SINGLE,
    "RecurringMaster": EventType.SERIES_MASTER,
    "Occurrence": EventType.OCCURRENCE,
    "Exception": EventType.EXCEPTION,
}
_RESPONSES = {
    "Unknown": Response.NONE,
    "Organizer": Response.ORGANIZER,
    "Tentative": Response.TENTATIVE,
    "Accept": Response.ACCEPTED,
    "Decline": Response.DECLINED,
    "NoResponseReceived": Response.NOT_RESPONDED,
}
_ATTENDEE_GROUPS = {
    "RequiredAttendees": AttendeeType.REQUIRED,
    "OptionalAttendees": AttendeeType.OPTIONAL,
    "Resources": AttendeeType.RESOURCE,
}


def _mailbox(node: Element | None) -> tuple[str | None, str | None]:
    if node is None:
        return None, None
    return text_of(node.findtext(f"{t('Mailbox')}/{t('EmailAddress')}")), text_of(
        node.findtext(f"{t('Mailbox')}/{t('Name')}")
    )


def _attendees(item: Element) -> tuple[Attendee, ...]:
    found = []
    for group, kind in _ATTENDEE_GROUPS.items():
        for node in item.iterfind(f"{t(group)}/{t('Attendee')}"):
            email, name = _mailbox(node)
            if email:
                response = _RESPONSES.get(
                    node.findtext(t("ResponseType")) or "Unknown", Response.NONE
                )
                found.append(Attendee(email=email, name=name, type=kind, response=response))
    return tuple(found)


def event_from_ews(item: Element, series_master_id: str | None = None) -> Event:
    """One calendar item: single, recurring master (with its cancelled occurrences), exception."""
    tz_node = item.find(t("StartTimeZone"))
    tz_name = to_iana(tz_node.get("Id") if tz_node is not None else None)
    all_day = (item.findtext(t("IsAllDayEvent")) or "false") == "true"
    start, end = utc_of(item.findtext(t("Start"))), utc_of(item.findtext(t("End")))
    if start is None or end is None:
        raise ValueError("a calendar item without Start/End")
    tz = zone(tz_name)
    exdates: list[dt.date | dt.datetime] = []
    for text in item.iterfind(f"{t('DeletedOccurrences')}/{t('DeletedOccurrence')}/{t('Start')}"):
        moment = utc_of(text.text)
        if moment is not None:
            exdates.append(moment.astimezone(tz).date() if all_day else moment)
    recurrence_node = item.find(t("Recurrence"))
    recurrence = (
        recurrence_from_ews(
            recurrence_node, is_all_day=all_day, time_zone=tz_name, exdates=tuple(exdates)
        )
        if recurrence_node is not None
        else None
    )
    organizer_email, organizer_name = _mailbox(item.find(t("Organizer")))
    organizer = (
        Attendee(email=organizer_email, name=organizer_name, response=Response.ORGANIZER)
        if organizer_email
        else None
    )
    is_organizer_text = item.findtext(t("IsOrganizer"))
    my_response = item.findtext(t("MyResponseType"))
    is_organizer = (
        is_organizer_text == "true"
        if is_organizer_text is not None
        else my_response in (None, "Organizer")
    )
    original = utc_of(item.findtext(t("OriginalStart")))
    reminder = item.findtext(t("ReminderMinutesBeforeStart"))
    return Event(
        subject=text_of(item.findtext(t("Subject"))),
        location=text_of(item.findtext(t("Location"))),
        body=body_of(item),
        is_all_day=all_day,
        start=None if all_day else start,
        end=None if all_day else end,
        start_date=start.astimezone(tz).date() if all_day else None,
        end_date=end.astimezone(tz).date() if all_day else None,
        time_zone=tz_name,
        show_as=_FREE_BUSY.get(item.findtext(t("LegacyFreeBusyStatus")) or "Busy", ShowAs.BUSY),
        sensitivity=Sensitivity((item.findtext(t("Sensitivity")) or "Normal").lower()),
        reminder_minutes=int(reminder)
        if reminder and item.findtext(t("ReminderIsSet")) == "true"
        else None,
        categories=tuple(s.text or "" for s in item.iterfind(f"{t('Categories')}/{t('String')}")),
        ical_uid=text_of(item.findtext(t("UID"))),
        organizer=organizer,
        is_organizer=is_organizer,
        attendees=_attendees(item),
        event_type=_ITEM_TYPES.get(
            item.findtext(t("CalendarItemType")) or "Single", EventType.SINGLE
        ),
        recurrence=recurrence,
        series_master_id=series_master_id,
        original_start=(original.astimezone(tz).date() if all_day else original)
        if original
        else None,
        is_cancelled=(item.findtext(t("IsCancelled")) or "false") == "true",
        marker=marker_of(item),
    )


def _event_times(event: Event) -> tuple[str, str]:
    if event.is_all_day:
        assert event.start_date is not None
        assert event.end_date is not None
        tz = zone(event.time_zone)
        start = dt.datetime.combine(event.start_date, dt.time(), tzinfo=tz)
        end = dt.datetime.combine(event.end_date, dt.time(), tzinfo=tz)
        return z_of(start), z_of(end)
    assert event.start is not None
    assert event.end is not None
    return z_of(event.start), z_of(event.end)


def _attendee_group(attendees: Iterable[Attendee], group: str) -> Element | None:
    nodes = [
        el(
            t("Attendee"),
            None,
            el(
                t("Mailbox"),
                None,
                el(t("Name"), text=a.name or a.email),
                el(t("EmailAddress"), text=a.email),
            ),
        )
        for a in attendees
    ]
    return el(t(group), None, *nodes) if nodes else None


def event_fields(event: Event, *, include_attendees: bool) -> list[Field]:
    """Every mapped calendar-item field in CalendarItem schema order. Attendees only when
    invitations may go out (LS-40), and the request then says SendToAllAndSaveCopy."""
    start, end = _event_times(event)
    windows = to_windows(event.time_zone)
    categories = el(t("Categories"), None, *(el(t("String"), text=c) for c in event.categories))
    fields: list[Field] = [
        (field_uri("item:Subject"), el(t("Subject"), text=event.subject or "")),
        (
            field_uri("item:Sensitivity"),
            el(t("Sensitivity"), text=event.sensitivity.value.capitalize()),
        ),
        (field_uri("item:Body"), el(t("Body"), {"BodyType": "Text"}, text=event.body or "")),
        (field_uri("item:Categories"), categories if event.categories else None),
        (
            field_uri("item:ReminderIsSet"),
            el(t("ReminderIsSet"), text="true" if event.reminder_minutes is not None else "false"),
        ),
    ]
    if event.reminder_minutes is not None:
        fields.append(
            (
                field_uri("item:ReminderMinutesBeforeStart"),
                el(t("ReminderMinutesBeforeStart"), text=str(event.reminder_minutes)),
            )
        )
    fields += [
        (field_uri("calendar:Start"), el(t("Start"), text=start)),
        (field_uri("calendar:End"), el(t("End"), text=end)),
        (
            field_uri("calendar:IsAllDayEvent"),
            el(t("IsAllDayEvent"), text=str(event.is_all_day).lower()),
        ),
        (
            field_uri("calendar:LegacyFreeBusyStatus"),
            el(t("LegacyFreeBusyStatus"), text=_EWS_FREE_BUSY.get(event.show_as, "Busy")),
        ),
        (field_uri("calendar:Location"), value_element("Location", event.location)),
    ]
    if include_attendees:
        for group, kind in _ATTENDEE_GROUPS.items():
            members = [a for a in event.attendees if a.type is kind]
            fields.append((field_uri(f"calendar:{group}"), _attendee_group(members, group)))
    if event.recurrence is not None and event.event_type is EventType.SERIES_MASTER:
        fields.append((field_uri("calendar:Recurrence"), recurrence_to_ews(event.recurrence)))
    fields += [
        (field_uri("calendar:StartTimeZone"), el(t("StartTimeZone"), {"Id": windows})),
        (field_uri("calendar:EndTimeZone"), el(t("EndTimeZone"), {"Id": windows})),
    ]
    return fields
