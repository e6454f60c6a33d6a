"""Field mappings between the sides (LS-29, LS-41), Salesforce field lengths, and truncation.

The canonical content of a linked record is a JSON object keyed by the *Salesforce-side* field
names of the normalized model. Exchange content is read into and written from that form through
the mappings, so an admin's remapping of a customizable field (per configuration) is a renaming
here and nothing else. Matching fields (name, e-mail, company; subject, start, end) are fixed.
Writes to Salesforce are cut to the field lengths of the `describe` result, and every cut is
reported as a note; values that cannot be represented are per-record mapping errors.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from syncmodel import Contact, Event, EventType, Kind, Side

from reconcile.errors import MappingError, RemappingError
from reconcile.normalize import JsonValue, shared_normal_form

Canonical = dict[str, JsonValue]


class FieldMapping(BaseModel):
    """One synced field: its model name on each side and whether an admin may remap it."""

    model_config = ConfigDict(frozen=True)

    salesforce: str
    exchange: str
    salesforce_label: str
    exchange_label: str
    customizable: bool
    matching: bool = False


def _m(
    name: str, sf_label: str, ex_label: str, *, customizable: bool, matching: bool = False
) -> FieldMapping:
    return FieldMapping(
        salesforce=name,
        exchange=name,
        salesforce_label=sf_label,
        exchange_label=ex_label,
        customizable=customizable,
        matching=matching,
    )


CONTACT_MAPPINGS: tuple[FieldMapping, ...] = (
    # LS-29, verified rows (S15).
    _m("company", "Account Name", "CompanyName", customizable=False, matching=True),
    _m("assistant_name", "Assistant", "AssistantName", customizable=True),
    _m("assistant_phone", "Asst. Phone", "AssistantPhone", customizable=True),
    _m("birthday", "Birthdate", "Birthday", customizable=True),
    _m("department", "Department", "Department", customizable=True),
    _m("notes", "Description", "Body", customizable=True),
    _m("email", "Email", "EmailAddress1", customizable=False, matching=True),
    _m("business_fax", "Fax", "BusinessFax", customizable=True),
    _m("first_name", "First Name", "GivenName", customizable=False, matching=True),
    _m("home_phone", "Home Phone", "HomePhone", customizable=True),
    # LS-29 [R] rows: the rest of the table as recalled.
    _m("last_name", "Last Name", "Surname", customizable=False, matching=True),
    _m("title", "Title", "JobTitle", customizable=True),
    _m("business_phone", "Phone", "BusinessPhone", customizable=True),
    _m("mobile_phone", "Mobile", "MobilePhone", customizable=True),
    _m("other_phone", "Other Phone", "OtherTelephone", customizable=True),
    _m("mailing_address", "Mailing Address", "BusinessAddress", customizable=True),
    _m("other_address", "Other Address", "OtherAddress", customizable=True),
)

EVENT_MAPPINGS: tuple[FieldMapping, ...] = (
    # LS-41: matching fields (subject, date, start and end time) can't be remapped (S14, S56).
    _m("subject", "Subject", "Subject", customizable=False, matching=True),
    _m("start", "StartDateTime", "Start", customizable=False, matching=True),
    _m("end", "EndDateTime", "End", customizable=False, matching=True),
    _m("start_date", "ActivityDate", "Start (all day)", customizable=False, matching=True),
    _m("end_date", "EndDate", "End (all day)", customizable=False, matching=True),
    _m("time_zone", "Recurrence2PatternTimeZone", "StartTimeZone", customizable=False),
    _m("is_all_day", "IsAllDayEvent", "IsAllDayEvent", customizable=False),
    _m("attendees", "Attendees", "RequiredAttendees+OptionalAttendees", customizable=False),
    # LS-41 [R] rows.
    _m("location", "Location", "Location", customizable=True),
    _m("body", "Description", "Body", customizable=True),
    _m("show_as", "ShowAs", "LegacyFreeBusyStatus", customizable=True),
    _m("sensitivity", "IsPrivate", "Sensitivity", customizable=False),
    _m("reminder_minutes", "ReminderDateTime", "ReminderMinutesBeforeStart", customizable=True),
    _m("recurrence", "Recurrence2PatternText", "Recurrence", customizable=False),
    # `original_start` is not synced content: it identifies an exception inside its series, and
    # the core syncs occurrences as records of their own (a side that stores them as single
    # events can't hold it, and comparing it would rewrite them forever).
    _m("is_cancelled", "IsRecurrence2Exclusion", "IsCancelled", customizable=False),
)

DEFAULT_MAPPINGS: dict[Kind, tuple[FieldMapping, ...]] = {
    Kind.CONTACT: CONTACT_MAPPINGS,
    Kind.EVENT: EVENT_MAPPINGS,
}

SALESFORCE_MAX_LENGTH: dict[Kind, dict[str, int]] = {
    # protocols.md, Salesforce Contact/Event describe lengths.
    Kind.CONTACT: {
        "first_name": 40,
        "last_name": 80,
        "email": 80,
        "company": 255,
        "title": 128,
        "department": 80,
        "assistant_name": 40,
        "assistant_phone": 40,
        "business_phone": 40,
        "mobile_phone": 40,
        "home_phone": 40,
        "other_phone": 40,
        "business_fax": 40,
        "notes": 32_000,
    },
    Kind.EVENT: {"subject": 255, "location": 255, "body": 32_000},
}
ADDRESS_MAX_LENGTH = {"street": 255, "city": 40, "state": 80, "postal_code": 20, "country": 80}
UNTRUNCATABLE = frozenset({"email"})
"""A cut e-mail address is a different address: too long is an error, never a truncation."""

SALESFORCE_MAX_EVENT_DAYS = 14
SALESFORCE_RELATION_LIMIT = 50
"""EventRelation contacts per event when Shared Activities is on (LS-48, platform limit)."""

_MODELS: dict[Kind, type[Contact] | type[Event]] = {Kind.CONTACT: Contact, Kind.EVENT: Event}


class TruncationNote(BaseModel):
    """A value cut to fit a Salesforce field; recorded so nobody wonders where text went."""

    model_config = ConfigDict(frozen=True)

    field: str
    max_length: int
    original_length: int


def check_remapping(kind: Kind, remapping: Mapping[str, str | None]) -> None:
    """Reject remapping of fixed fields, unknown fields and type-changing or duplicate targets."""
    mappings = {m.salesforce: m for m in DEFAULT_MAPPINGS.get(kind, ())}
    model = _MODELS.get(kind)
    if model is None:
        raise RemappingError(f"{kind} has no field mappings")
    targets: set[str] = set()
    for source, target in remapping.items():
        mapping = mappings.get(source)
        if mapping is None:
            raise RemappingError(f"{source!r} is not a synced {kind} field")
        if not mapping.customizable:
            raise RemappingError(f"{source!r} is a fixed (matching) {kind} field (LS-29/LS-41)")
        if target is None:
            continue
        target_mapping = next((m for m in mappings.values() if m.exchange == target), None)
        if target_mapping is None or not target_mapping.customizable:
            raise RemappingError(f"{target!r} is not a customizable Exchange {kind} field")
        fields = model.model_fields
        if fields[source].annotation != fields[target].annotation:
            raise RemappingError(f"{source!r} and {target!r} hold different kinds of value")
    for mapping in mappings.values():
        target = remapping.get(mapping.salesforce, mapping.exchange)
        if target is None:
            continue
        if target in targets:
            raise RemappingError(f"two Salesforce fields are mapped to {target!r}")
        targets.add(target)


def effective_mappings(
    kind: Kind, remapping: Mapping[str, str | None] | None = None
) -> tuple[FieldMapping, ...]:
    """The default mappings of `kind` with an admin's remapping applied (None drops a field)."""
    return _effective_mappings(kind, tuple(sorted((remapping or {}).items())))


@functools.lru_cache(maxsize=256)
def _effective_mappings(
    kind: Kind, remapping_items: tuple[tuple[str, str | None], ...]
) -> tuple[FieldMapping, ...]:
    # Every decision asks for these; a tenant has a handful of remappings at most.
    remapping = dict(remapping_items)
    result: list[FieldMapping] = []
    for mapping in DEFAULT_MAPPINGS.get(kind, ()):
        if mapping.salesforce not in remapping:
            result.append(mapping)
            continue
        target = remapping[mapping.salesforce]
        if target is not None:
            result.append(mapping.model_copy(update={"exchange": target}))
    return tuple(result)


_NAMES_MEMO: dict[
    tuple[int, Side],
    tuple[tuple[FieldMapping, ...], tuple[tuple[str, str], ...], frozenset[str]],
] = {}


def _side_names(
    mappings: tuple[FieldMapping, ...], side: Side
) -> tuple[tuple[FieldMapping, ...], tuple[tuple[str, str], ...], frozenset[str]]:
    """The mappings, (the field's name on `side`, its canonical name) per mapping, and the set
    of the names on `side`. Every conversion asks for these; mapping tuples come from a cache,
    so they are kept by identity (with the tuple, so an id is not reused while its entry
    lives)."""
    key = (id(mappings), side)
    hit = _NAMES_MEMO.get(key)
    if hit is not None and hit[0] is mappings:
        return hit
    names = tuple(
        (m.salesforce if side is Side.SALESFORCE else m.exchange, m.salesforce) for m in mappings
    )
    if len(_NAMES_MEMO) >= 1024:
        _NAMES_MEMO.clear()
    entry = _NAMES_MEMO[key] = (mappings, names, frozenset(there for there, _ in names))
    return entry


def to_canonical(
    record: Contact | Event, side: Side, mappings: tuple[FieldMapping, ...]
) -> Canonical:
    """The canonical content of a record read from `side` (normalized, Salesforce field names)."""
    normalized = shared_normal_form(record)  # read only: the result is a new dict
    return {name: normalized.get(there) for there, name in _side_names(mappings, side)[1]}


def from_canonical(
    canonical: Canonical,
    side: Side,
    kind: Kind,
    mappings: tuple[FieldMapping, ...],
    *,
    extra: Mapping[str, Any] | None = None,
) -> Contact | Event:
    """Build the record to write to `side`; raises `MappingError` if it can't be represented."""
    _, names, mapped = _side_names(mappings, side)
    data: dict[str, Any] = {
        there: value for there, name in names if (value := canonical.get(name)) is not None
    }
    if extra:
        # A mapped field wins over an extra of the same name, even when it is empty.
        data.update(
            {key: value for key, value in extra.items() if value is not None and key not in mapped}
        )
    if kind is Kind.EVENT and "recurrence" in data:
        # The canonical form carries no event type; a record with a pattern is a series master
        # (else both sinks would write the series as a single event, dropping its pattern).
        data.setdefault("event_type", EventType.SERIES_MASTER)
    try:
        return _MODELS[kind].model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or kind.value
        raise MappingError("invalid_value", f"{where}: {first['msg']}") from error


def fit_for_salesforce(
    canonical: Canonical, kind: Kind
) -> tuple[Canonical, tuple[TruncationNote, ...]]:
    """Cut text to Salesforce field lengths; return the cut content and one note per cut.

    Content that fits is returned as it is (not copied): canonical content is never changed in
    place, and every decision asks this once or twice per write to Salesforce (what Salesforce
    will hold, then the notes of the write), so the last answer is kept, by identity like
    `normalize`'s memo."""
    last = _last_fit[0]
    if last is not None and last[0] is canonical and last[1] is kind:
        return last[2]
    fitted = _fit(canonical, kind)
    _last_fit[0] = (canonical, kind, fitted)
    return fitted


_last_fit: list[tuple[Canonical, Kind, tuple[Canonical, tuple[TruncationNote, ...]]] | None] = [
    None
]


def _fit(canonical: Canonical, kind: Kind) -> tuple[Canonical, tuple[TruncationNote, ...]]:
    limits = SALESFORCE_MAX_LENGTH.get(kind, {})
    if not _needs_cut(canonical, limits):
        return canonical, ()
    fitted = dict(canonical)
    notes: list[TruncationNote] = []
    for name, limit in limits.items():
        value = fitted.get(name)
        if isinstance(value, str) and len(value) > limit:
            if name in UNTRUNCATABLE:
                raise MappingError("field_too_long", f"{name} is longer than {limit} characters")
            fitted[name] = value[:limit].rstrip()
            notes.append(TruncationNote(field=name, max_length=limit, original_length=len(value)))
    for name in ("mailing_address", "other_address"):
        address = fitted.get(name)
        if isinstance(address, dict):
            cut = dict(address)
            for part, limit in ADDRESS_MAX_LENGTH.items():
                value = cut.get(part)
                if isinstance(value, str) and len(value) > limit:
                    cut[part] = value[:limit].rstrip()
                    notes.append(
                        TruncationNote(
                            field=f"{name}.{part}", max_length=limit, original_length=len(value)
                        )
                    )
            fitted[name] = cut
    return fitted, tuple(notes)


def _needs_cut(canonical: Canonical, limits: Mapping[str, int]) -> bool:
    for name, limit in limits.items():
        value = canonical.get(name)
        if isinstance(value, str) and len(value) > limit:
            return True
    for name in ("mailing_address", "other_address"):
        address = canonical.get(name)
        if isinstance(address, dict):
            for part, limit in ADDRESS_MAX_LENGTH.items():
                value = address.get(part)
                if isinstance(value, str) and len(value) > limit:
                    return True
    return False


def check_salesforce_record(canonical: Canonical, kind: Kind) -> None:
    """Per-record rules Salesforce enforces that no truncation can fix (raises MappingError)."""
    if kind is Kind.CONTACT and not canonical.get("last_name"):
        raise MappingError("missing_required_field", "a Salesforce contact needs a last name")
    if kind is not Kind.EVENT:
        return
    if canonical.get("is_all_day"):
        start, end = canonical.get("start_date"), canonical.get("end_date")
        if isinstance(start, str) and isinstance(end, str):
            days = (dt.date.fromisoformat(end) - dt.date.fromisoformat(start)).days
            _check_days(days)
        return
    start, end = canonical.get("start"), canonical.get("end")
    if not isinstance(start, str) or not isinstance(end, str):
        raise MappingError("missing_required_field", "a Salesforce event needs a start and end")
    span = dt.datetime.fromisoformat(end) - dt.datetime.fromisoformat(start)
    _check_days(span / dt.timedelta(days=1))


def _check_days(days: float) -> None:
    if days > SALESFORCE_MAX_EVENT_DAYS:
        raise MappingError(
            "event_too_long",
            f"Salesforce rejects events longer than {SALESFORCE_MAX_EVENT_DAYS} days",
        )


def unstored_fields(canonical: Canonical, side: Side, kind: Kind) -> frozenset[str]:
    """Canonical fields `side` has no place for in this record, so there is nothing to write or
    overwrite: a Salesforce event outside a series has no zone (Recurrence2PatternTimeZone is a
    series field; read back, its zone is the owner's)."""
    if side is Side.SALESFORCE and kind is Kind.EVENT and not canonical.get("recurrence"):
        return frozenset({"time_zone"})
    return frozenset()


def side_view(canonical: Canonical, side: Side, kind: Kind) -> Canonical:
    """What `side` holds when it holds `canonical`: Salesforce holds the truncated form."""
    if side is Side.EXCHANGE:
        return canonical
    try:
        return fit_for_salesforce(canonical, kind)[0]
    except MappingError:
        return canonical
