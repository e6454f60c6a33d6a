"""Record writes with the platform's validation and derived fields (C5, C13).

Every create/update/delete/upsert the REST routes, sObject Collections and Composite perform
goes through here, so the same request gives the same error whichever resource carried it.
"""

from __future__ import annotations

import datetime as dt
import re
from email.utils import parsedate_to_datetime
from typing import Any

from simulators.salesforce import series
from simulators.salesforce.errors import ApiError, malformed_id
from simulators.salesforce.schema import OBJECTS, FieldDef, canonical_id, object_of_id
from simulators.salesforce.store import Record, Store

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_MAX_EVENT_MINUTES = 14 * 24 * 60  # events longer than 14 days are rejected


def _json_error(f: FieldDef, value: Any) -> ApiError:
    wanted = {"int": "int", "boolean": "boolean", "date": "date", "datetime": "datetime"}
    return ApiError(
        400,
        "JSON_PARSER_ERROR",
        f"Cannot deserialize instance of {wanted.get(f.type, 'string')} from "
        f"{type(value).__name__.upper()} value {value} or request may be missing a required "
        f"field at [line:1, column:1]",
    )


def parse_datetime(value: str) -> dt.datetime:
    text = value.strip().replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", text):
        text = text[:-2] + ":" + text[-2:]
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC).replace(microsecond=0)


def _coerce(store: Store, f: FieldDef, value: Any) -> Any:
    if value is None:
        return None
    if f.type == "boolean":
        if not isinstance(value, bool):
            raise _json_error(f, value)
        return value
    if f.type == "int":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _json_error(f, value)
        return int(value)
    if not isinstance(value, str):
        raise _json_error(f, value)
    try:
        if f.type == "datetime":
            return parse_datetime(value)
        if f.type == "date":
            return dt.date.fromisoformat(value[:10])
    except ValueError as exc:
        raise _json_error(f, value) from exc
    if f.type == "reference":
        return _reference(store, f, value)
    if f.length and len(value) > f.length:
        raise ApiError(
            400,
            "STRING_TOO_LONG",
            f"{f.label or f.name}: data value too large: {value[:40]} (max length={f.length})",
            [f.name],
        )
    if f.type == "email" and value and not _EMAIL.match(value):
        raise ApiError(
            400, "INVALID_EMAIL_ADDRESS", f"{f.name}: invalid email address: {value}", [f.name]
        )
    return value


def _reference(store: Store, f: FieldDef, value: str) -> str | None:
    if value == "":
        return None
    id18 = canonical_id(value)
    if id18 is None or object_of_id(id18) not in f.reference_to:
        raise ApiError(
            400,
            "MALFORMED_ID",
            f"{f.relationship_name} ID: id value of incorrect type: {value}",
            [f.name],
        )
    target = store.find(id18)
    if target is None or target["IsDeleted"]:
        raise ApiError(400, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [f.name])
    return id18


def _values(store: Store, object_name: str, body: dict[str, Any], create: bool) -> Record:
    obj = OBJECTS[object_name]
    out: Record = {}
    not_writable: list[str] = []
    for key, raw in body.items():
        if key == "attributes":
            continue
        f = obj.field_named(key)
        if f is None:
            raise ApiError(
                400,
                "INVALID_FIELD",
                f"No such column '{key}' on sobject of type {object_name}",
                [key],
            )
        if (create and not f.createable) or (not create and not f.updateable):
            if f.name != "Id":
                not_writable.append(f.name)
            continue
        out[f.name] = _coerce(store, f, raw)
    if not_writable:
        raise ApiError(
            400,
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            f"Unable to create/update fields: {', '.join(not_writable)}. Please check the "
            "security settings of this field and verify that it is read/write for your "
            "profile or permission set.",
            not_writable,
        )
    return out


def _check_required(object_name: str, rec: Record) -> None:
    missing = [
        f.name
        for f in OBJECTS[object_name].fields.values()
        if f.required and rec.get(f.name) in (None, "")
    ]
    if missing:
        raise ApiError(
            400,
            "REQUIRED_FIELD_MISSING",
            f"Required fields are missing: [{', '.join(missing)}]",
            missing,
        )


def _check_unique(store: Store, object_name: str, rec: Record, own_id: str | None) -> None:
    for f in OBJECTS[object_name].fields.values():
        value = rec.get(f.name)
        if not f.unique or value is None:
            continue
        for other in store.rows(object_name):
            if other["Id"] != own_id and str(other.get(f.name)).lower() == str(value).lower():
                raise ApiError(
                    400,
                    "DUPLICATE_VALUE",
                    f"duplicate value found: {f.name} duplicates value on record with id: "
                    f"{other['Id']}",
                    [f.name],
                )


def _check_relation_unique(store: Store, rec: Record) -> None:
    """One EventRelation per (event, person): a second one is DUPLICATE_VALUE."""
    for other in store.rows("EventRelation"):
        if (
            not other.get("IsDeleted")
            and other["EventId"] == rec["EventId"]
            and other["RelationId"] == rec["RelationId"]
        ):
            raise ApiError(
                400,
                "DUPLICATE_VALUE",
                f"duplicate value found: RelationId duplicates value on record with id: "
                f"{other['Id']}",
                ["RelationId"],
            )


def _derive(store: Store, object_name: str, rec: Record, changed: Record) -> None:
    """Fields the platform computes: Name, Event times and durations, AccountId."""
    if "LastName" in OBJECTS[object_name].fields and "Name" in OBJECTS[object_name].fields:
        rec["Name"] = " ".join(p for p in (rec.get("FirstName"), rec.get("LastName")) if p)
    if object_name == "Lead" and not rec.get("Status"):
        rec["Status"] = "Open - Not Contacted"
    if object_name == "Event":
        _derive_event(rec, changed)
        rec["AccountId"] = _event_account(store, rec)
        rec["GroupEventType"] = rec.get("GroupEventType") or "0"


def _derive_event(rec: Record, changed: Record) -> None:
    day = dt.timedelta(days=1)
    if rec["IsAllDayEvent"]:
        start_day = rec.get("ActivityDate") or (
            rec["StartDateTime"].date() if rec.get("StartDateTime") else None
        )
        if start_day is None:
            raise ApiError(
                400,
                "REQUIRED_FIELD_MISSING",
                "Required fields are missing: [ActivityDate]",
                ["ActivityDate"],
            )
        if "EndDateTime" in changed and rec.get("EndDateTime"):
            days = (rec["EndDateTime"].date() - start_day).days + 1
        elif "DurationInMinutes" in changed and rec.get("DurationInMinutes"):
            days = max(1, rec["DurationInMinutes"] // 1440)
        else:
            days = max(1, (rec.get("DurationInMinutes") or 1440) // 1440)
        midnight = dt.datetime.combine(start_day, dt.time(), dt.UTC)
        rec.update(
            ActivityDate=start_day,
            StartDateTime=midnight,
            EndDateTime=midnight + (days - 1) * day,
            EndDate=start_day + (days - 1) * day,
            DurationInMinutes=days * 1440,
            ActivityDateTime=None,
        )
        return
    start: dt.datetime | None = rec.get("StartDateTime") or rec.get("ActivityDateTime")
    if start is None:
        raise ApiError(
            400,
            "REQUIRED_FIELD_MISSING",
            "Required fields are missing: [StartDateTime]",
            ["StartDateTime"],
        )
    end = rec.get("EndDateTime")
    if "EndDateTime" not in changed and (
        "DurationInMinutes" in changed or "StartDateTime" in changed
    ):
        end = None  # a moved start or a new duration keeps/sets the duration, not the end
    if end is None and rec.get("DurationInMinutes") is not None:
        end = start + dt.timedelta(minutes=rec["DurationInMinutes"])
    if end is None:
        raise ApiError(
            400,
            "REQUIRED_FIELD_MISSING",
            "Required fields are missing: [DurationInMinutes]",
            ["DurationInMinutes"],
        )
    if end < start:
        raise ApiError(
            400,
            "FIELD_INTEGRITY_EXCEPTION",
            "End Date Time: End time can't be before start time",
            ["EndDateTime"],
        )
    minutes = int((end - start).total_seconds() // 60)
    if minutes > _MAX_EVENT_MINUTES:
        raise ApiError(
            400,
            "FIELD_INTEGRITY_EXCEPTION",
            "Event duration cannot exceed 14 days",
            ["DurationInMinutes"],
        )
    rec.update(
        StartDateTime=start,
        ActivityDateTime=start,
        ActivityDate=start.date(),
        EndDateTime=end,
        EndDate=end.date(),
        DurationInMinutes=minutes,
    )


def _event_account(store: Store, rec: Record) -> str | None:
    what = rec.get("WhatId")
    if what and object_of_id(what) == "Account":
        return str(what)
    who = store.find(rec["WhoId"]) if rec.get("WhoId") else None
    return who.get("AccountId") if who else None


def create(store: Store, object_name: str, body: dict[str, Any], actor: str | None) -> Record:
    if object_name in ("User", "Profile"):
        raise ApiError(
            400, "INSUFFICIENT_ACCESS_OR_READONLY", "insufficient access rights on object id"
        )
    with store.lock:
        values = _values(store, object_name, body, create=True)
        if "OwnerId" in OBJECTS[object_name].fields and not values.get("OwnerId"):
            values["OwnerId"] = actor
        draft: Record = {
            f.name: (False if f.type == "boolean" else None)
            for f in OBJECTS[object_name].fields.values()
        }
        draft.update(values)
        _check_required(object_name, draft)
        _derive(store, object_name, draft, values)
        is_series = (
            object_name == "Event" and draft["IsRecurrence2"] and draft["Recurrence2PatternText"]
        )
        if is_series:
            # Inserting a Lightning pattern creates the series record (C13 "Recurrence2").
            draft.update(IsRecurrence2Series=True, GroupEventType="3")
            _check_pattern(draft)
        _check_unique(store, object_name, draft, None)
        if object_name == "EventRelation":
            _check_relation_unique(store, draft)
        rec = store.insert(object_name, draft, actor)
        if is_series:  # ... plus one occurrence record per further occurrence
            series.expand(store, rec, actor)
        return rec


def _check_pattern(draft: Record) -> None:
    try:
        series.occurrence_starts(draft)
    except (ValueError, TypeError) as exc:
        raise ApiError(
            400,
            "FIELD_INTEGRITY_EXCEPTION",
            f"Recurrence2PatternText: invalid recurrence pattern: {exc}",
            ["Recurrence2PatternText"],
        ) from exc


def check_unmodified_since(rec: Record, header: str | None) -> None:
    """`If-Unmodified-Since` (RFC 1123): 412 if the record changed after that instant (C3)."""
    if not header:
        return
    try:
        since = parsedate_to_datetime(header)
    except (TypeError, ValueError) as exc:
        raise ApiError(400, "INVALID_HEADER", f"Invalid If-Unmodified-Since: {header}") from exc
    if rec["LastModifiedDate"] > since:
        raise ApiError(
            412,
            "PRECONDITION_FAILED",
            "The requested resource has been modified since the If-Unmodified-Since date",
        )


def update(
    store: Store,
    object_name: str,
    raw_id: str,
    body: dict[str, Any],
    actor: str | None,
    if_unmodified_since: str | None = None,
) -> Record:
    with store.lock:
        id18 = store.resolve(raw_id, object_name)
        rec = store.live(object_name, id18)
        check_unmodified_since(rec, if_unmodified_since)
        values = _values(store, object_name, body, create=False)
        draft = {**rec, **values}
        _check_required(object_name, draft)
        _derive(store, object_name, draft, values)
        _check_unique(store, object_name, draft, id18)
        before = dict(rec)
        if object_name == "Event" and series.is_series(draft) and draft["Recurrence2PatternText"]:
            _check_pattern(draft)
        store.touch(
            rec, {k: v for k, v in draft.items() if k in OBJECTS[object_name].fields}, actor
        )
        if object_name == "Event" and series.is_series(before):
            series.after_update(store, before, rec, actor)
        elif object_name == "Event" and any(before.get(k) != rec.get(k) for k in values):
            # An occurrence edited on its own becomes an exception (C13 "Recurrence2").
            rec["IsRecurrence2Exception"] = bool(rec["IsRecurrence2"])
        return rec


def delete(store: Store, object_name: str, raw_id: str) -> None:
    with store.lock:
        id18 = store.resolve(raw_id, object_name)
        rec = store.live(object_name, id18)
        if object_name in ("User", "Profile"):
            raise ApiError(400, "DELETE_FAILED", "You can't delete this record.")
        store.soft_delete(object_name, rec)
        if object_name != "Event":
            return
        # Deleting the series record deletes the series; an occurrence goes alone.
        events = [rec, *(series.after_delete(store, rec) if series.is_series(rec) else [])]
        ids = {e["Id"] for e in events}
        for rel in store.rows("EventRelation"):  # relations go with their event
            if rel["EventId"] in ids:
                store.soft_delete("EventRelation", rel)


def find_by_external_id(
    store: Store, object_name: str, field_name: str, value: str
) -> list[Record]:
    f = OBJECTS[object_name].field_named(field_name)
    if f is None or not (f.external_id or f.name == "Id"):
        raise ApiError(
            404,
            "NOT_FOUND",
            f"Provided external ID field does not exist or is not accessible: {field_name}",
        )
    if f.name == "Id":
        id18 = canonical_id(value)
        if id18 is None:
            raise malformed_id(value)
        return [r for r in store.rows(object_name) if r["Id"] == id18]
    return [r for r in store.rows(object_name) if str(r.get(f.name) or "").lower() == value.lower()]


def upsert(
    store: Store,
    object_name: str,
    field_name: str,
    value: str,
    body: dict[str, Any],
    actor: str | None,
    update_only: bool = False,
) -> tuple[Record, bool]:
    """Upsert by external id: (record, created). 300 when several records match (C5)."""
    with store.lock:
        found = find_by_external_id(store, object_name, field_name, value)
        if len(found) > 1:
            raise ApiError(
                300,
                "MULTIPLE_CHOICES",
                f"More than one record found for external id field {field_name}",
            )
        if found:
            return update(store, object_name, found[0]["Id"], body, actor), False
        if update_only:
            raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
        f = OBJECTS[object_name].field_named(field_name)
        assert f is not None
        fields = dict(body)
        if f.name != "Id":
            fields[f.name] = value
        return create(store, object_name, fields, actor), True
