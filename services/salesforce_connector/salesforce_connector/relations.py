"""Event relations and series links: EventRelation read on capture and written on apply.

Capture: an event's `related` is its WhoId/WhatId plus the EventRelation rows with
`IsParent = true` (the contacts or lead it relates to under Shared Activities, protocols.md C13
"EventRelation"); invitee-only rows are attendees, not relations. One SOQL per 200 events, and
only when events are published, so a quiet poll costs nothing extra.

Apply (auto-relate, LS-45..48): the reconciler sends `Event.related`; the first contact (or the
one lead) is `WhoId` (written with the event fields), every other contact becomes an
EventRelation row. A create is one Composite call (REST "Composite", C7): the event, then its
relations referring to it as `@{eN.id}`, ≤ 25 subrequests per call. A retried create upserts
the same event and its relations come back as DUPLICATE_VALUE, which counts as done. Updates
add missing relations after a look-up (never removes what a rep related by hand).

Series (LS-11): occurrences of a Lightning series carry the series' RRULE, start and zone; the
series record is the one with `IsRecurrence2Series`. An exception's `series_master_id` is found
among the rows at hand, else with one SOQL per unknown series.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from syncmodel.messages import Command
from syncmodel.records import Event, RelatedRecord

from salesforce_connector import mapping
from salesforce_connector.client import SalesforceClient

log = logging.getLogger(__name__)
COMPOSITE_SIZE = 25
COLLECTION_SIZE = 200
SeriesKey = tuple[str, str, str]  # owner, pattern start, RRULE
_RELATABLE = ("contact", "lead")


# ------------------------------------------------------------------------------- capture


async def relations_of(
    client: SalesforceClient, event_ids: Sequence[str]
) -> dict[str, list[RelatedRecord]]:
    """Related contacts/leads (IsParent) per event id."""
    out: dict[str, list[RelatedRecord]] = {}
    for i in range(0, len(event_ids), COLLECTION_SIZE):
        chunk = mapping.soql_in(list(event_ids[i : i + COLLECTION_SIZE]))
        soql = (
            "SELECT EventId, RelationId, IsParent, IsWhat FROM EventRelation"  # noqa: S608
            f" WHERE EventId IN {chunk} AND IsParent = true ORDER BY EventId, Id"
        )
        for row in await client.query(soql):
            kind = mapping.kind_of_id(str(row["RelationId"]))
            if row.get("IsWhat") or kind not in _RELATABLE:
                continue
            out.setdefault(str(row["EventId"]), []).append(
                RelatedRecord(
                    id=str(row["RelationId"]), kind="lead" if kind == "lead" else "contact"
                )
            )
    return out


def with_relations(event: Event, extra: Iterable[RelatedRecord]) -> Event:
    known = {r.id for r in event.related}
    more = [r for r in extra if r.id not in known]
    if not more:
        return event
    return event.model_copy(update={"related": (*event.related, *more)})


def series_key(row: dict[str, Any]) -> SeriesKey | None:
    if not row.get("IsRecurrence2") or not row.get("Recurrence2PatternText"):
        return None
    start = mapping.parse_datetime(row.get("Recurrence2PatternStartDate"))
    return (
        str(row.get("OwnerId")),
        start.isoformat() if start else "",
        str(row["Recurrence2PatternText"]),
    )


async def series_masters(
    client: SalesforceClient, rows: Sequence[dict[str, Any]], known: dict[SeriesKey, str]
) -> None:
    """Fill `known` with the series record id of every series an exception in `rows` is of."""
    for row in rows:
        key = series_key(row)
        if key is not None and mapping.is_series_record(row):
            known[key] = str(row["Id"])
    wanted = {
        key
        for row in rows
        if row.get("IsRecurrence2Exception")
        and (key := series_key(row)) is not None
        and key not in known
    }
    for owner, start, _ in sorted(wanted):
        stamp = start.replace("+00:00", "Z")
        soql = (
            "SELECT Id, OwnerId, IsRecurrence2, IsRecurrence2Series, Recurrence2PatternText,"  # noqa: S608
            " Recurrence2PatternStartDate, StartDateTime FROM Event WHERE IsRecurrence2Series"
            f" = true AND OwnerId = {mapping.soql_quote(owner)}"
            f" AND Recurrence2PatternStartDate = {stamp}"
        )
        for found in await client.query(soql):
            found_key = series_key(found)
            if found_key is not None:
                known[found_key] = str(found["Id"])


# ------------------------------------------------------------------------------- apply


def extra_relations(event: Event) -> list[RelatedRecord]:
    """Relations beyond WhoId (which the event row itself carries)."""
    who = next((r.id for r in event.related if r.is_who), None)
    if who is None:  # no explicit who: the first contact/lead becomes WhoId (mapping)
        who = next((r.id for r in event.related if r.kind in _RELATABLE), None)
    seen: set[str] = set()
    out = []
    for related in event.related:
        if related.kind in _RELATABLE and related.id != who and related.id not in seen:
            seen.add(related.id)
            out.append(related)
    return out


def of_command(command: Command) -> list[RelatedRecord]:
    record = command.record
    return extra_relations(record) if isinstance(record, Event) else []


def pack(commands: Sequence[Command], size: int = COMPOSITE_SIZE) -> list[list[Command]]:
    """Group event creates so each Composite call holds ≤ `size` subrequests (an event and
    its relations; an event with more relations than fit gets a call of its own)."""
    groups: list[list[Command]] = []
    used = size
    for command in commands:
        need = min(size, 1 + len(of_command(command)))
        if used + need > size:
            groups.append([])
            used = 0
        groups[-1].append(command)
        used += need
    return groups


def relation_body(event_id: str, related: RelatedRecord) -> dict[str, Any]:
    return {"EventId": event_id, "RelationId": related.id, "IsParent": True, "IsInvitee": False}


def relation_ok(status: int, body: Any) -> bool:
    if status < 300:
        return True
    errors = body if isinstance(body, list) else [body]
    codes = {str(e.get("errorCode") or e.get("statusCode")) for e in errors if isinstance(e, dict)}
    return "DUPLICATE_VALUE" in codes  # already related: a retried create


async def ensure_relations(
    client: SalesforceClient,
    wanted: dict[str, list[RelatedRecord]],
    as_user: str | None = None,
) -> int:
    """Add the relations missing on existing events (one look-up + one collection call per
    200). Returns how many were added."""
    wanted = {event_id: rels for event_id, rels in wanted.items() if rels}
    if not wanted:
        return 0
    present: set[tuple[str, str]] = set()
    ids = sorted(wanted)
    for i in range(0, len(ids), COLLECTION_SIZE):
        chunk = mapping.soql_in(ids[i : i + COLLECTION_SIZE])
        soql = f"SELECT EventId, RelationId FROM EventRelation WHERE EventId IN {chunk}"  # noqa: S608
        rows = await client.query(soql, as_user=as_user)
        present.update((str(r["EventId"]), str(r["RelationId"])) for r in rows)
    records = [
        {"attributes": {"type": "EventRelation"}, **relation_body(event_id, related)}
        for event_id, rels in sorted(wanted.items())
        for related in rels
        if (event_id, related.id) not in present
    ]
    added = 0
    for i in range(0, len(records), COLLECTION_SIZE):
        answer = await client.request(
            "POST",
            f"{client.base}/composite/sobjects",
            json={"allOrNone": False, "records": records[i : i + COLLECTION_SIZE]},
            as_user=as_user,
        )
        for item in answer or []:
            if item.get("success"):
                added += 1
            elif not relation_ok(400, item.get("errors") or []):
                log.warning("event relation not written", extra={"errors": item.get("errors")})
    return added
