"""Match keys of a record, used to pre-select matching candidates in SQL.

The keys only narrow the search: the pure core (`reconcile.match`) makes the decision. So every
key is at most as strict as the rule it stands for (LS-71: e-mail, then first + last name +
company; LS-72: iCalUId, then subject + start + end).
"""

from __future__ import annotations

import datetime as dt

from reconcile.normalize import canonical_text
from syncmodel import Contact, Event


def _fold(value: str | None) -> str | None:
    text = canonical_text(value) if value is not None else None
    return text.casefold() if text is not None else None


def match_keys(record: Contact | Event) -> list[str]:
    keys: list[str] = []
    if isinstance(record, Contact):
        if (email := _fold(record.email)) is not None:
            keys.append(f"email:{email}")
        if (last := _fold(record.last_name)) is not None:
            keys.append(f"name:{_fold(record.first_name) or ''}|{last}")
        return keys
    if record.ical_uid and record.ical_uid.strip():
        keys.append(f"uid:{record.ical_uid.strip()}")
    if (subject := _fold(record.subject)) is not None:
        if record.is_all_day and record.start_date is not None:
            keys.append(f"when:{subject}|{record.start_date.isoformat()}")
        elif record.start is not None:
            keys.append(f"when:{subject}|{record.start.astimezone(dt.UTC).isoformat()}")
    return keys
