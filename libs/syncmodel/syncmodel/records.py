"""Normalized records: one shape for a contact or an event, whichever side it came from.

Connectors map their wire formats to these models (Graph/EWS/Salesforce -> model) and back;
the reconciler only ever sees these. Times are timezone-aware; all-day events carry dates, not
instants (an all-day event is the same calendar days in every zone).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Address(_Record):
    street: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None


class Contact(_Record):
    """A contact (LS-29 field set). `company` is the Salesforce account name."""

    kind: Literal["contact"] = "contact"
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    company: str | None = None
    account_id: str | None = None
    title: str | None = None
    department: str | None = None
    business_phone: str | None = None
    mobile_phone: str | None = None
    home_phone: str | None = None
    other_phone: str | None = None
    business_fax: str | None = None
    assistant_name: str | None = None
    assistant_phone: str | None = None
    birthday: dt.date | None = None
    notes: str | None = None
    mailing_address: Address | None = None
    other_address: Address | None = None
    owner_id: str | None = None
    marker: str | None = Field(
        default=None, description="Syncline's own marker on the item (link id), if we wrote it."
    )


class ShowAs(StrEnum):
    FREE = "free"
    TENTATIVE = "tentative"
    BUSY = "busy"
    OOF = "oof"
    WORKING_ELSEWHERE = "working_elsewhere"
    UNKNOWN = "unknown"


class Sensitivity(StrEnum):
    NORMAL = "normal"
    PERSONAL = "personal"
    PRIVATE = "private"
    CONFIDENTIAL = "confidential"


class EventType(StrEnum):
    SINGLE = "single"
    SERIES_MASTER = "series_master"
    OCCURRENCE = "occurrence"
    EXCEPTION = "exception"


class AttendeeType(StrEnum):
    REQUIRED = "required"
    OPTIONAL = "optional"
    RESOURCE = "resource"


class Response(StrEnum):
    NONE = "none"
    ORGANIZER = "organizer"
    ACCEPTED = "accepted"
    TENTATIVE = "tentative"
    DECLINED = "declined"
    NOT_RESPONDED = "not_responded"


class Attendee(_Record):
    email: str
    name: str | None = None
    type: AttendeeType = AttendeeType.REQUIRED
    response: Response = Response.NONE


class RelatedRecord(_Record):
    """A Salesforce record an event is related to (EventRelation / WhoId / WhatId)."""

    id: str
    kind: Literal["contact", "lead", "account", "opportunity", "user"]
    is_who: bool = False


class Recurrence(_Record):
    """An event series' pattern as an RFC 5545 RRULE (no 'RRULE:' prefix), in `time_zone`.

    Graph's patternedRecurrence and Salesforce's Recurrence2PatternText both map to this.
    `exdates` are cancelled occurrences (original start, local date for all-day series).
    """

    rrule: str
    time_zone: str
    start_date: dt.date
    exdates: tuple[dt.date | dt.datetime, ...] = ()


class Event(_Record):
    """A calendar event: single, series master, or an occurrence exception.

    Timed events: `start`/`end` are aware datetimes and `time_zone` is the IANA zone they were
    authored in. All-day events: `start_date`/`end_date` (end exclusive) and no instants, so
    no zone can shift them by a day.
    """

    kind: Literal["event"] = "event"
    subject: str | None = None
    location: str | None = None
    body: str | None = None
    is_all_day: bool = False
    start: AwareDatetime | None = None
    end: AwareDatetime | None = None
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    time_zone: str = "UTC"
    show_as: ShowAs = ShowAs.BUSY
    sensitivity: Sensitivity = Sensitivity.NORMAL
    reminder_minutes: int | None = None
    categories: tuple[str, ...] = ()
    ical_uid: str | None = None
    organizer: Attendee | None = None
    is_organizer: bool = True
    attendees: tuple[Attendee, ...] = ()
    related: tuple[RelatedRecord, ...] = ()
    event_type: EventType = EventType.SINGLE
    recurrence: Recurrence | None = None
    series_master_id: str | None = None
    original_start: AwareDatetime | dt.date | None = None
    is_cancelled: bool = False
    owner_id: str | None = None
    classic_recurrence: bool = Field(
        default=False, description="A Salesforce Classic recurring event (unsupported, LS-33)."
    )
    marker: str | None = None

    @property
    def is_private(self) -> bool:
        return self.sensitivity in (Sensitivity.PRIVATE, Sensitivity.CONFIDENTIAL)

    @model_validator(mode="after")
    def _times_fit_the_kind(self) -> Event:
        if self.is_all_day:
            if self.start_date is None or self.end_date is None:
                raise ValueError("an all-day event needs start_date and end_date")
            if self.end_date <= self.start_date:
                raise ValueError("an all-day event must end after it starts (end is exclusive)")
        elif self.start is not None and self.end is not None and self.end < self.start:
            raise ValueError("an event cannot end before it starts")
        return self


class SalesforceUser(_Record):
    """A Salesforce user, captured so the reconciler can build the roster."""

    kind: Literal["user"] = "user"
    username: str
    email: str
    name: str | None = None
    profile_id: str | None = None
    time_zone: str | None = None
    is_active: bool = True


class Lead(_Record):
    kind: Literal["lead"] = "lead"
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    company: str | None = None
    is_converted: bool = False
    owner_id: str | None = None


class Account(_Record):
    kind: Literal["account"] = "account"
    name: str
    owner_id: str | None = None


Record = Annotated[Contact | Event | SalesforceUser | Lead | Account, Field(discriminator="kind")]
