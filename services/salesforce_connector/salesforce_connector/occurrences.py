"""Occurrence records of the series written to Salesforce (LS-33, LS-11).

A Lightning series is its series record plus one occurrence Event record per occurrence
(protocols.md C13 "Recurrence2 details"): deleting an occurrence record removes that occurrence
from the series, and an occurrence edited on its own is an exception.

- Cancelled occurrences: an Outlook series' cancelled occurrences arrive as
  `Recurrence.exdates` (original starts; local dates for all-day series), so after each series
  write the occurrence records at those starts are deleted: one SOQL per series to find them,
  then one `DELETE /composite/sobjects` per 200 with allOrNone=false and per-record results
  (C6). Idempotent: an occurrence already gone is not found (or answers ENTITY_IS_DELETED).
  Only plain occurrences are deleted: the series record is the first occurrence itself
  (deleting it would delete the series), and an exception has left its original slot.
- Exceptions: an Outlook exception (`original_start` set) becomes the occurrence record at its
  original start, edited (one SOQL per rep to find the slots), instead of a second record
  beside an occurrence that Outlook no longer has there.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

from syncmodel.messages import Command, SyncError
from syncmodel.records import Event, EventType

from salesforce_connector import mapping
from salesforce_connector.client import SalesforceClient
from salesforce_connector.errors import classify

log = logging.getLogger(__name__)
COLLECTION_SIZE = 200
Exdate = dt.date | dt.datetime
_GONE = ("ENTITY_IS_DELETED", "NOT_FOUND", "INVALID_CROSS_REFERENCE_KEY")


def _slot(row: dict[str, Any]) -> Exdate | None:
    """An occurrence's start as an exdate is written: a date for all-day, else a UTC instant."""
    if row.get("IsAllDayEvent"):
        value = row.get("ActivityDate")
        return dt.date.fromisoformat(str(value)[:10]) if value else None
    return mapping.parse_datetime(row.get("StartDateTime"))


def _normal(exdate: Exdate) -> Exdate:
    if isinstance(exdate, dt.datetime):
        return exdate.astimezone(dt.UTC).replace(microsecond=0)
    return exdate


async def occurrences_to_remove(
    client: SalesforceClient,
    wanted: dict[str, Sequence[Exdate]],
    as_user: str | None = None,
) -> dict[str, list[str]]:
    """Per series record id: the ids of its live plain occurrences at a cancelled start."""
    ids = sorted(series_id for series_id, exdates in wanted.items() if exdates)
    series_rows: list[dict[str, Any]] = []
    for i in range(0, len(ids), COLLECTION_SIZE):
        chunk = mapping.soql_in(ids[i : i + COLLECTION_SIZE])
        soql = (
            "SELECT Id, OwnerId, StartDateTime, Recurrence2PatternStartDate,"  # noqa: S608
            f" Recurrence2PatternText FROM Event WHERE Id IN {chunk}"
        )
        series_rows += await client.query(soql, as_user=as_user)
    out: dict[str, list[str]] = {}
    for series in series_rows:
        series_id = str(series["Id"])
        cancelled = {_normal(d) for d in wanted[series_id]}
        own = mapping.parse_datetime(series.get("StartDateTime"))
        if own is not None and own in cancelled:
            # The first occurrence is the series record: deleting it deletes the series.
            log.warning("a cancelled first occurrence stays in Salesforce", extra={"id": series_id})
        pattern_start = mapping.parse_datetime(series.get("Recurrence2PatternStartDate"))
        if pattern_start is None:
            continue
        stamp = pattern_start.strftime("%Y-%m-%dT%H:%M:%SZ")
        soql = (
            "SELECT Id, StartDateTime, ActivityDate, IsAllDayEvent, Recurrence2PatternText"  # noqa: S608
            " FROM Event WHERE IsRecurrence2 = true AND IsRecurrence2Series = false"
            " AND IsRecurrence2Exception = false"
            f" AND OwnerId = {mapping.soql_quote(str(series['OwnerId']))}"
            f" AND Recurrence2PatternStartDate = {stamp}"
        )
        rows = await client.query(soql, as_user=as_user)
        out[series_id] = [
            str(row["Id"])
            for row in rows
            if row.get("Recurrence2PatternText") == series.get("Recurrence2PatternText")
            and _slot(row) in cancelled
        ]
    return out


async def remove_cancelled(
    client: SalesforceClient,
    wanted: dict[str, Sequence[Exdate]],
    as_user: str | None = None,
) -> dict[str, SyncError]:
    """Delete the occurrence records at each series' exdates; the errors per series id."""
    found = await occurrences_to_remove(client, wanted, as_user)
    owner = {occurrence: series for series, ids in found.items() for occurrence in ids}
    todo = sorted(owner)
    errors: dict[str, SyncError] = {}
    for i in range(0, len(todo), COLLECTION_SIZE):
        chunk = todo[i : i + COLLECTION_SIZE]
        answer = await client.request(
            "DELETE",
            f"{client.base}/composite/sobjects",
            params={"ids": ",".join(chunk), "allOrNone": "false"},
            as_user=as_user,
        )
        for occurrence, item in zip(chunk, answer or [], strict=False):
            if item.get("success"):
                continue
            first = (item.get("errors") or [{}])[0]
            code = str(first.get("statusCode") or first.get("errorCode"))
            if code in _GONE:  # deleted meanwhile: what we wanted
                continue
            errors[owner[occurrence]] = classify(code, str(first.get("message")))
    removed = len(todo)
    if removed:
        log.info("cancelled occurrences removed", extra={"count": removed, "failed": len(errors)})
    return errors


async def after_series_writes(
    client: SalesforceClient,
    written: Sequence[tuple[Command, str]],
    as_user: str | None = None,
) -> dict[str, SyncError]:
    """For each applied (command, record id) that wrote a series with exdates, remove its
    cancelled occurrences; the error per command id whose removal failed (it is retried)."""
    wanted: dict[str, Sequence[Exdate]] = {}
    commands: dict[str, list[str]] = {}
    for command, record_id in written:
        record = command.record
        if (
            isinstance(record, Event)
            and record.event_type is EventType.SERIES_MASTER
            and record.recurrence is not None
            and record.recurrence.exdates
        ):
            wanted[record_id] = record.recurrence.exdates
            commands.setdefault(record_id, []).append(command.id)
    if not wanted:
        return {}
    errors = await remove_cancelled(client, wanted, as_user)
    return {c: error for series, error in errors.items() for c in commands[series]}


def is_exception(command: Command) -> bool:
    record = command.record
    return (
        isinstance(record, Event)
        and record.event_type is EventType.EXCEPTION
        and record.original_start is not None
    )


async def exception_slots(
    client: SalesforceClient, commands: Sequence[Command], as_user: str | None = None
) -> dict[str, str]:
    """Per exception-create command id: the plain occurrence record at its original start
    (left out when no occurrence, or several of different series, are there)."""
    wanted: dict[str, dict[str, Exdate]] = {}  # owner -> command id -> original start
    for command in commands:
        record = command.record
        if isinstance(record, Event) and record.original_start is not None:
            owner = record.owner_id or command.user
            wanted.setdefault(owner, {})[command.id] = _normal(record.original_start)
    out: dict[str, str] = {}
    for owner, slots in sorted(wanted.items()):
        instants = [_as_instant(s) for s in slots.values()]
        lo = (min(instants) - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        hi = (max(instants) + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        soql = (
            "SELECT Id, StartDateTime, ActivityDate, IsAllDayEvent FROM Event"  # noqa: S608
            " WHERE IsRecurrence2 = true AND IsRecurrence2Series = false"
            f" AND IsRecurrence2Exception = false AND OwnerId = {mapping.soql_quote(owner)}"
            f" AND StartDateTime >= {lo} AND StartDateTime <= {hi}"
        )
        rows = await client.query(soql, as_user=as_user)
        for command_id, slot in slots.items():
            found = [str(r["Id"]) for r in rows if _slot(r) == slot]
            if len(found) == 1:
                out[command_id] = found[0]
            elif found:
                log.warning("several occurrences at an exception's original start")
    return out


def _as_instant(slot: Exdate) -> dt.datetime:
    if isinstance(slot, dt.datetime):
        return slot
    return dt.datetime.combine(slot, dt.time(), dt.UTC)


async def edit_into_exceptions(
    client: SalesforceClient,
    rows: Sequence[dict[str, Any]],
    as_user: str | None = None,
) -> Any:
    """Write exceptions over their occurrence records (rows carry `id`): one collection call
    per 200, allOrNone=false; the per-record answers in order."""
    answers: list[Any] = []
    for i in range(0, len(rows), COLLECTION_SIZE):
        records = [{"attributes": {"type": "Event"}, **r} for r in rows[i : i + COLLECTION_SIZE]]
        answer = await client.request(
            "PATCH",
            f"{client.base}/composite/sobjects",
            json={"allOrNone": False, "records": records},
            as_user=as_user,
        )
        answers += answer if isinstance(answer, list) else [answer]
    return answers
