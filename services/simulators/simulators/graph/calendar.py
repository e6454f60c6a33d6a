"""Events as Exchange keeps them: singles and series masters stored, occurrences and exceptions
derived from the master's patternedRecurrence, rendered like Graph's `event` resource (A4)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from simulators.graph import odata
from simulators.graph.errors import bad_request
from simulators.graph.items import etag
from simulators.graph.store import Exception_, Item, Mailbox, graph_timestamp
from simulators.graph.times import (
    expand,
    format_dttz,
    format_floating,
    occurrence_key,
    parse_dttz,
    parse_occurrence_key,
)

# Key order of a captured create response (protocols.md A4); nulls are present, not omitted.
EVENT_DEFAULTS: dict[str, Any] = {
    "categories": [],
    "transactionId": None,
    "originalStartTimeZone": "UTC",
    "originalEndTimeZone": "UTC",
    "iCalUId": None,
    "uid": None,
    "reminderMinutesBeforeStart": 15,
    "isReminderOn": True,
    "hasAttachments": False,
    "subject": "",
    "bodyPreview": "",
    "importance": "normal",
    "sensitivity": "normal",
    "isAllDay": False,
    "isCancelled": False,
    "isOrganizer": True,
    "responseRequested": True,
    "seriesMasterId": None,
    "showAs": "busy",
    "type": "singleInstance",
    "webLink": None,
    "onlineMeetingUrl": None,
    "isOnlineMeeting": False,
    "onlineMeetingProvider": "unknown",
    "allowNewTimeProposals": True,
    "occurrenceId": None,
    "isDraft": False,
    "hideAttendees": False,
    "responseStatus": {"response": "organizer", "time": "0001-01-01T00:00:00Z"},
    "body": {"contentType": "html", "content": ""},
    "start": None,
    "end": None,
    "location": {
        "displayName": "",
        "locationType": "default",
        "uniqueIdType": "unknown",
        "address": {},
        "coordinates": {},
    },
    "locations": [],
    "recurrence": None,
    "attendees": [],
    "organizer": None,
    "onlineMeeting": None,
}
OCCURRENCE_SEPARATOR = "-"


@dataclass(frozen=True)
class Span:
    start: dt.datetime
    end: dt.datetime
    all_day: bool

    @property
    def duration(self) -> dt.timedelta:
        return self.end - self.start

    def overlaps(self, lo: dt.datetime, hi: dt.datetime) -> bool:
        # Zero-length events at the window start still count as inside it.
        return self.start < hi and (self.end > lo or (self.end == self.start == lo))


def span_of(data: dict[str, Any]) -> Span:
    start, _ = parse_dttz(data["start"])
    end, _ = parse_dttz(data["end"])
    return Span(start.astimezone(dt.UTC), end.astimezone(dt.UTC), bool(data.get("isAllDay")))


def _render_times(body: dict[str, Any], data: dict[str, Any], view: odata.View) -> None:
    if data.get("isAllDay"):
        start_local, _ = parse_dttz(data["start"])
        end_local, _ = parse_dttz(data["end"])
        body["start"] = format_floating(start_local.date(), view.time_zone)
        body["end"] = format_floating(end_local.date(), view.time_zone)
        return
    s = span_of(data)
    body["start"] = format_dttz(s.start, view.time_zone)
    body["end"] = format_dttz(s.end, view.time_zone)


def _finish(body: dict[str, Any], ext: Any, view: odata.View) -> dict[str, Any]:
    if ext is not None:
        body["singleValueExtendedProperties"] = ext
    return odata.apply_select(body, view.select)


def render_event(item: Item, view: odata.View) -> dict[str, Any]:
    body: dict[str, Any] = {
        "@odata.etag": etag(item.change_key),
        "id": item.id,
        "createdDateTime": graph_timestamp(item.created),
        "lastModifiedDateTime": graph_timestamp(item.modified),
        "changeKey": item.change_key,
    }
    for key, default in EVENT_DEFAULTS.items():
        body[key] = item.data.get(key, default)
    _render_times(body, item.data, view)
    return _finish(body, odata.render_ext(item.ext, item.ext_ids, view.expand_ext), view)


def occurrence_data(master: Item, key: str) -> dict[str, Any]:
    """The stored fields of one occurrence: the master's, moved to the slot, plus overrides."""
    original = parse_occurrence_key(key)
    s = span_of(master.data)
    data = {k: v for k, v in master.data.items() if k != "recurrence"}
    if master.data.get("isAllDay"):
        zone_name = master.data["start"]["timeZone"]
        local_day = original.astimezone(parse_dttz(master.data["start"])[0].tzinfo).date()
        days = (
            parse_dttz(master.data["end"])[0].date() - parse_dttz(master.data["start"])[0].date()
        ).days
        data["start"] = {"dateTime": f"{local_day}T00:00:00", "timeZone": zone_name}
        end_day = local_day + dt.timedelta(days=days)
        data["end"] = {"dateTime": f"{end_day}T00:00:00", "timeZone": zone_name}
    else:
        data["start"] = format_dttz(original, "UTC")
        data["end"] = format_dttz(original + s.duration, "UTC")
    exception = master.exceptions.get(key)
    if exception is not None:
        data.update(exception.overrides)
    return data


def render_occurrence(master: Item, key: str, view: odata.View) -> dict[str, Any]:
    exception: Exception_ | None = master.exceptions.get(key)
    data = occurrence_data(master, key)
    change_key = exception.change_key if exception else master.change_key
    modified = exception.modified if exception else master.modified
    body: dict[str, Any] = {
        "@odata.etag": etag(change_key),
        "id": f"{master.id}{OCCURRENCE_SEPARATOR}{key}",
        "createdDateTime": graph_timestamp(master.created),
        "lastModifiedDateTime": graph_timestamp(modified),
        "changeKey": change_key,
    }
    for name, default in EVENT_DEFAULTS.items():
        body[name] = data.get(name, default)
    body["type"] = "exception" if exception else "occurrence"
    body["seriesMasterId"] = master.id
    body["recurrence"] = None
    body["transactionId"] = None
    body["originalStart"] = parse_occurrence_key(key).strftime("%Y-%m-%dT%H:%M:%SZ")
    # iCalUId differs per occurrence (A4).
    body["iCalUId"] = f"{master.data.get('iCalUId', '')}{key}"
    _render_times(body, data, view)
    return _finish(body, None, view)


def occurrence_keys(master: Item, lo: dt.datetime, hi: dt.datetime) -> list[str]:
    """Keys of the master's live occurrences whose (possibly moved) time overlaps [lo, hi)."""
    s = span_of(master.data)
    keys = []
    slack = dt.timedelta(days=14)  # exceptions may be moved by up to the series' spacing
    for original in expand(master.data["recurrence"], s.start, lo - slack, hi + slack, s.duration):
        key = occurrence_key(original)
        if key in master.cancelled:
            continue
        if span_of(occurrence_data(master, key)).overlaps(lo, hi):
            keys.append(key)
    return keys


def split_occurrence_id(event_id: str) -> tuple[str, str | None]:
    master_id, sep, key = event_id.partition(OCCURRENCE_SEPARATOR)
    return (master_id, key) if sep else (event_id, None)


def calendar_view(
    mailbox: Mailbox, lo: dt.datetime, hi: dt.datetime, view: odata.View
) -> list[dict[str, Any]]:
    """Singles, occurrences and exceptions in the window, sorted by start (no masters)."""
    rows: list[tuple[dt.datetime, dict[str, Any]]] = []
    for item in mailbox.events.values():
        if item.data.get("type") == "seriesMaster":
            for key in occurrence_keys(item, lo, hi):
                rows.append(
                    (span_of(occurrence_data(item, key)).start, render_occurrence(item, key, view))
                )
        elif span_of(item.data).overlaps(lo, hi):
            rows.append((span_of(item.data).start, render_event(item, view)))
    rows.sort(key=lambda row: row[0])
    return [body for _, body in rows]


def parse_window(start: str | None, end: str | None) -> tuple[dt.datetime, dt.datetime]:
    if not start or not end:
        raise bad_request(
            "This request requires a time window specified by the query string parameters "
            "StartDateTime and EndDateTime.",
            code="ErrorInvalidParameter",
        )
    try:
        lo = dt.datetime.fromisoformat(start.replace("Z", "+00:00"))
        hi = dt.datetime.fromisoformat(end.replace("Z", "+00:00"))
    except ValueError as exc:
        raise bad_request("Invalid StartDateTime or EndDateTime.") from exc
    # Without an offset the window is read as UTC (A5).
    lo = lo if lo.tzinfo else lo.replace(tzinfo=dt.UTC)
    hi = hi if hi.tzinfo else hi.replace(tzinfo=dt.UTC)
    return lo.astimezone(dt.UTC), hi.astimezone(dt.UTC)
