"""sObject definitions the simulator serves: API names, types, lengths, key prefixes, ids.

Field names, types and lengths follow the Object Reference and standard `describe` values
(protocols.md C13). Ids are 15-character case-sensitive ids plus the 3-character case-safe
suffix (18 characters), with the real key prefixes (User 005, Account 001, Contact 003,
Lead 00Q, Event 00U, EventRelation 0RE, Profile 00e).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

FieldType = Literal[
    "id",
    "string",
    "textarea",
    "email",
    "phone",
    "picklist",
    "combobox",
    "boolean",
    "datetime",
    "date",
    "int",
    "reference",
]


@dataclass(frozen=True)
class FieldDef:
    name: str
    type: FieldType
    length: int = 0
    label: str = ""
    createable: bool = True
    updateable: bool = True
    nillable: bool = True
    required: bool = False  # createable, not nillable and no default: REQUIRED_FIELD_MISSING
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    external_id: bool = False
    unique: bool = False
    picklist: tuple[str, ...] = ()


@dataclass(frozen=True)
class ObjectDef:
    name: str
    key_prefix: str
    label: str
    fields: dict[str, FieldDef] = field(default_factory=dict)

    def field_named(self, name: str) -> FieldDef | None:
        """Field names are case-insensitive in SOQL and in JSON bodies."""
        return self._by_lower().get(name.lower())

    def relationship(self, name: str) -> FieldDef | None:
        for f in self.fields.values():
            if f.relationship_name and f.relationship_name.lower() == name.lower():
                return f
        return None

    def _by_lower(self) -> dict[str, FieldDef]:
        return {k.lower(): v for k, v in self.fields.items()}


def _s(name: str, length: int, **kw: Any) -> FieldDef:
    return FieldDef(name, "string", length, **kw)


def _ro(name: str, type_: FieldType, **kw: Any) -> FieldDef:
    return FieldDef(name, type_, createable=False, updateable=False, **kw)


def _ref(name: str, *to: str, rel: str | None = None, **kw: Any) -> FieldDef:
    relationship = rel if rel is not None else name[:-2]
    return FieldDef(name, "reference", 18, reference_to=to, relationship_name=relationship, **kw)


_SYSTEM = [
    _ro("Id", "id", length=18, nillable=False),
    _ro("IsDeleted", "boolean", nillable=False),
    _ro("CreatedDate", "datetime", nillable=False),
    FieldDef(
        "CreatedById",
        "reference",
        18,
        createable=False,
        updateable=False,
        reference_to=("User",),
        relationship_name="CreatedBy",
    ),
    _ro("LastModifiedDate", "datetime", nillable=False),
    FieldDef(
        "LastModifiedById",
        "reference",
        18,
        createable=False,
        updateable=False,
        reference_to=("User",),
        relationship_name="LastModifiedBy",
    ),
    _ro("SystemModstamp", "datetime", nillable=False),
]

_OWNER = _ref("OwnerId", "User")
# A custom external-id field the demo org has, so upsert-by-external-id can be exercised (C5).
_SYNC_ID = _s("Syncline_Id__c", 255, external_id=True, unique=True, label="Syncline Id")

_ADDRESS_PARTS = (("Street", 255), ("City", 40), ("State", 80), ("PostalCode", 20), ("Country", 80))


def _address(prefix: str) -> list[FieldDef]:
    return [
        FieldDef(f"{prefix}{part}", "textarea" if part == "Street" else "string", n)
        for part, n in _ADDRESS_PARTS
    ]


def _obj(name: str, prefix: str, fields: list[FieldDef]) -> ObjectDef:
    return ObjectDef(name, prefix, name, {f.name: f for f in _SYSTEM + fields})


TIME_ZONES = (
    "America/Los_Angeles",
    "America/Denver",
    "America/Chicago",
    "America/New_York",
    "Europe/London",
    "Europe/Berlin",
    "Asia/Tokyo",
    "Australia/Sydney",
    "GMT",
)

OBJECTS: dict[str, ObjectDef] = {
    o.name: o
    for o in [
        _obj(
            "Profile",
            "00e",
            [_s("Name", 255, nillable=False, required=True), _s("Description", 255)],
        ),
        _obj(
            "User",
            "005",
            [
                _s("Username", 80, nillable=False, required=True, unique=True),
                FieldDef("Email", "email", 80, nillable=False, required=True),
                _s("FirstName", 40),
                _s("LastName", 80, nillable=False, required=True),
                _ro("Name", "string", length=121),
                _s("Alias", 8),
                FieldDef("IsActive", "boolean", nillable=False),
                FieldDef("TimeZoneSidKey", "picklist", 40, picklist=TIME_ZONES),
                FieldDef("LocaleSidKey", "picklist", 40),
                FieldDef("LanguageLocaleKey", "picklist", 40),
                _s("FederationIdentifier", 512),
                _ref("ProfileId", "Profile"),
                FieldDef("UserType", "picklist", 40, createable=False, updateable=False),
            ],
        ),
        _obj(
            "Account",
            "001",
            [
                _s("Name", 255, nillable=False, required=True),
                FieldDef("Phone", "phone", 40),
                _s("Website", 255),
                _s("Industry", 255),
                _OWNER,
                _SYNC_ID,
            ],
        ),
        _obj(
            "Contact",
            "003",
            [
                _s("FirstName", 40),
                _s("LastName", 80, nillable=False, required=True),
                _ro("Name", "string", length=121),
                FieldDef("Salutation", "picklist", 40),
                FieldDef("Email", "email", 80),
                *(
                    FieldDef(p, "phone", 40)
                    for p in ("Phone", "MobilePhone", "HomePhone", "OtherPhone", "Fax")
                ),
                FieldDef("AssistantPhone", "phone", 40),
                _s("Title", 128),
                _s("Department", 80),
                _s("AssistantName", 40),
                *_address("Mailing"),
                *_address("Other"),
                FieldDef("Description", "textarea", 32000),
                FieldDef("Birthdate", "date"),
                FieldDef("LeadSource", "picklist", 255),
                _ref("AccountId", "Account"),
                _ref("ReportsToId", "Contact"),
                _OWNER,
                _SYNC_ID,
            ],
        ),
        _obj(
            "Lead",
            "00Q",
            [
                _s("FirstName", 40),
                _s("LastName", 80, nillable=False, required=True),
                _ro("Name", "string", length=121),
                _s("Company", 255, nillable=False, required=True),
                _s("Title", 128),
                FieldDef("Email", "email", 80),
                FieldDef("Phone", "phone", 40),
                FieldDef("MobilePhone", "phone", 40),
                FieldDef("Status", "picklist", 255, nillable=False),
                _ro("IsConverted", "boolean", nillable=False),
                _ref("ConvertedContactId", "Contact", createable=False, updateable=False),
                _ref("ConvertedAccountId", "Account", createable=False, updateable=False),
                *_address(""),
                _OWNER,
                _SYNC_ID,
            ],
        ),
        _obj(
            "Event",
            "00U",
            [
                FieldDef("Subject", "combobox", 255),
                _s("Location", 255),
                FieldDef("Description", "textarea", 32000),
                FieldDef("StartDateTime", "datetime"),
                FieldDef("EndDateTime", "datetime"),
                FieldDef("ActivityDate", "date"),
                FieldDef("ActivityDateTime", "datetime"),
                _ro("EndDate", "date"),
                FieldDef("DurationInMinutes", "int"),
                FieldDef("IsAllDayEvent", "boolean", nillable=False),
                FieldDef("IsPrivate", "boolean", nillable=False),
                FieldDef("ShowAs", "picklist", 40, picklist=("Busy", "Free", "OutOfOffice")),
                FieldDef("Type", "picklist", 40, picklist=("Call", "Email", "Meeting", "Other")),
                _ref("WhoId", "Contact", "Lead"),
                _ref("WhatId", "Account"),
                _ro("AccountId", "reference", length=18, reference_to=("Account",)),
                _OWNER,
                _ro("IsChild", "boolean", nillable=False),
                _ro("IsGroupEvent", "boolean", nillable=False),
                _ro("GroupEventType", "picklist", length=40),
                FieldDef("IsReminderSet", "boolean", nillable=False),
                FieldDef("ReminderDateTime", "datetime"),
                # Classic (legacy) recurrence, LS-11b: recognized, not synced.
                FieldDef("IsRecurrence", "boolean", nillable=False),
                FieldDef("RecurrenceStartDateTime", "datetime"),
                FieldDef("RecurrenceEndDateOnly", "date"),
                FieldDef("RecurrenceType", "picklist", 40),
                FieldDef("RecurrenceInterval", "int"),
                FieldDef("RecurrenceDayOfWeekMask", "int"),
                FieldDef("RecurrenceTimeZoneSidKey", "picklist", 40),
                _ro("RecurrenceActivityId", "reference", length=18, reference_to=("Event",)),
                # Lightning recurrence (Recurrence2): an RFC 5545 RRULE on every occurrence.
                FieldDef("IsRecurrence2", "boolean", nillable=False),
                FieldDef("Recurrence2PatternText", "string", 512),
                FieldDef("Recurrence2PatternStartDate", "datetime"),
                FieldDef("Recurrence2PatternTimeZone", "string", 40),
                FieldDef("Recurrence2PatternVersion", "string", 40),
                _ro("IsRecurrence2Exception", "boolean", nillable=False),
                _ro("IsRecurrence2Exclusion", "boolean", nillable=False),
                _ro("IsRecurrence2Series", "boolean", nillable=False),
                _SYNC_ID,
            ],
        ),
        _obj(
            "EventRelation",
            "0RE",
            [
                _ref("EventId", "Event", nillable=False, required=True, updateable=False),
                _ref(
                    "RelationId",
                    "Contact",
                    "Lead",
                    "User",
                    nillable=False,
                    required=True,
                    updateable=False,
                ),
                FieldDef("IsInvitee", "boolean", nillable=False),
                FieldDef("IsParent", "boolean", nillable=False),
                FieldDef("IsWhat", "boolean", nillable=False),
                FieldDef("Status", "picklist", 40, picklist=("New", "Accepted", "Declined")),
                _s("Response", 255),
                FieldDef("RespondedDate", "datetime"),
                _ro("AccountId", "reference", length=18, reference_to=("Account",)),
            ],
        ),
    ]
}

PREFIX_TO_OBJECT = {o.key_prefix: o.name for o in OBJECTS.values()}
ORG_ID = "00D5g000004SyncAAA"
_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def object_named(name: str) -> ObjectDef | None:
    for o in OBJECTS.values():
        if o.name.lower() == name.lower():
            return o
    return None


def _case_suffix(id15: str) -> str:
    """The 3-character case-safe checksum: one bit per uppercase letter, per 5-char chunk."""
    out = []
    for chunk in range(3):
        bits = 0
        for i, ch in enumerate(id15[chunk * 5 : chunk * 5 + 5]):
            if "A" <= ch <= "Z":
                bits |= 1 << i
        out.append(_SUFFIX_ALPHABET[bits])
    return "".join(out)


def make_id(prefix: str, serial: int) -> str:
    """An 18-character id: key prefix, pod '5g', a base-62 serial and the case-safe suffix."""
    digits = ""
    n = serial
    while len(digits) < 10:
        digits = _BASE62[n % 62] + digits
        n //= 62
    id15 = prefix + "5g" + digits
    return id15 + _case_suffix(id15)


def canonical_id(value: str) -> str | None:
    """Normalize a 15- or 18-character id to its 18-character form, or None if malformed.

    15-character ids are case-sensitive; 18-character ids are case-insensitive (the suffix
    encodes the case of the first 15), as the platform accepts them.
    """
    if not value.isalnum() or not value.isascii():
        return None
    if len(value) == 15:
        return value + _case_suffix(value)
    if len(value) != 18:
        return None
    suffix = value[15:].upper()
    chars = list(value[:15])
    for chunk in range(3):
        pos = _SUFFIX_ALPHABET.find(suffix[chunk])
        if pos < 0:
            return None
        for i in range(5):
            idx = chunk * 5 + i
            upper = bool(pos & (1 << i))
            if upper and not chars[idx].isalpha():
                return None
            chars[idx] = chars[idx].upper() if upper else chars[idx].lower()
    id15 = "".join(chars)
    return id15 + _case_suffix(id15)


def object_of_id(id18: str) -> str | None:
    return PREFIX_TO_OBJECT.get(id18[:3])
