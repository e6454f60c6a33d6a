"""Matching before create: find the existing record on the other side instead of duplicating it.

Contacts match by e-mail, then by first name + last name + company (LS-71); events by iCalUId,
then by subject + start + end (LS-72; dates for all-day events). A rule that finds more than one
candidate ends the search as *ambiguous*: it is reported, never guessed, and no later rule is
tried, because a weaker rule can't resolve what a stronger one found twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from enum import StrEnum

from pydantic import BaseModel, ConfigDict
from syncmodel import Contact, Event, Side

from reconcile.normalize import canonical_text


class Candidate(BaseModel):
    """An unlinked record of the other side that a new record may match (loaded by the shell)."""

    model_config = ConfigDict(frozen=True)

    side: Side
    record_id: str
    version: str | None = None
    record: Contact | Event
    modified_ts: dt.datetime | None = None


class MatchRule(StrEnum):
    EMAIL = "email"
    NAME_AND_COMPANY = "first_last_company"
    ICAL_UID = "ical_uid"
    SUBJECT_START_END = "subject_start_end"


class MatchResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    candidate: Candidate | None = None
    rule: MatchRule | None = None
    ambiguous: tuple[str, ...] = ()
    """Record ids that matched equally well under `rule` (two or more: nothing is linked)."""

    @property
    def is_ambiguous(self) -> bool:
        return len(self.ambiguous) > 1


_NO_MATCH = MatchResult()


def _folded(value: str | None) -> str | None:
    text = canonical_text(value) if value is not None else None
    return text.casefold() if text is not None else None


def _contact_email(contact: Contact) -> str | None:
    return _folded(contact.email)


def _contact_name_key(contact: Contact) -> tuple[str | None, ...] | None:
    if _folded(contact.last_name) is None:
        return None
    return (_folded(contact.first_name), _folded(contact.last_name), _folded(contact.company))


def _event_uid(event: Event) -> str | None:
    return event.ical_uid.strip() if event.ical_uid and event.ical_uid.strip() else None


def _event_time_key(event: Event) -> tuple[object, ...] | None:
    subject = _folded(event.subject)
    if subject is None:
        return None
    if event.is_all_day:
        return (subject, True, event.start_date, event.end_date)
    if event.start is None or event.end is None:
        return None
    return (subject, False, event.start.astimezone(dt.UTC), event.end.astimezone(dt.UTC))


def _first_rule_that_finds(
    record: Contact | Event,
    candidates: Sequence[Candidate],
    rules: Sequence[tuple[MatchRule, Callable[[Contact | Event], object | None]]],
) -> MatchResult:
    if not candidates:
        return _NO_MATCH  # the common case: nothing unlinked on the other side
    for rule, key in rules:
        wanted = key(record)
        if wanted is None:
            continue
        found = [
            c for c in candidates if type(c.record) is type(record) and key(c.record) == wanted
        ]
        if len(found) == 1:
            return MatchResult(candidate=found[0], rule=rule)
        if found:
            return MatchResult(rule=rule, ambiguous=tuple(sorted(c.record_id for c in found)))
    return MatchResult()


def _contact_only(key: Callable[[Contact], object | None]) -> Callable[[Contact | Event], object]:
    return lambda record: key(record) if isinstance(record, Contact) else None


def _event_only(key: Callable[[Event], object | None]) -> Callable[[Contact | Event], object]:
    return lambda record: key(record) if isinstance(record, Event) else None


def match_contact(contact: Contact, candidates: Sequence[Candidate]) -> MatchResult:
    """LS-71: e-mail first, then first name + last name + company."""
    return _first_rule_that_finds(
        contact,
        candidates,
        (
            (MatchRule.EMAIL, _contact_only(_contact_email)),
            (MatchRule.NAME_AND_COMPANY, _contact_only(_contact_name_key)),
        ),
    )


def match_event(event: Event, candidates: Sequence[Candidate]) -> MatchResult:
    """LS-72 with the iCalUId rule first (one meeting is one record, whoever captured it)."""
    return _first_rule_that_finds(
        event,
        candidates,
        (
            (MatchRule.ICAL_UID, _event_only(_event_uid)),
            (MatchRule.SUBJECT_START_END, _event_only(_event_time_key)),
        ),
    )


def match_record(record: Contact | Event, candidates: Sequence[Candidate]) -> MatchResult:
    if not candidates:
        return _NO_MATCH  # before building the rules' key functions
    if isinstance(record, Contact):
        return match_contact(record, candidates)
    return match_event(record, candidates)
