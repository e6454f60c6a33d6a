"""Canonical form and fingerprint of a record: what counts as "the same content" on both sides.

Modelled on vdirsyncer's `IGNORE_PROPS` / `normalize_item` / `hash_item`: volatile fields are
listed with the reason they are ignored, the rest is brought to one canonical JSON form
(trimmed text, lower-case e-mail addresses, sorted categories and attendees, instants in UTC,
HTML bodies as plain text) and hashed. A change counts only if the native version *and* this
fingerprint changed (ARCHITECTURE.md, "Three-way state").
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC as _UTC
from html.parser import HTMLParser
from typing import Any

import orjson
from syncmodel import Contact, Event

JsonValue = Any
"""A JSON value (None, bool, int, float, str, list, dict) as produced by pydantic's json mode."""

VOLATILE_FIELDS: dict[str, str] = {
    "marker": "Syncline's own tag on items it wrote; its presence is bookkeeping, not content.",
    "attendees.response": "Attendee responses change without any edit by the rep and never "
    "sync Salesforce -> Exchange (LS-38); they must not make an event look changed.",
    "organizer.response": "Same as attendee responses: the organizer's own response state.",
}
"""Fields left out of the fingerprint, each with the reason (vdirsyncer's IGNORE_PROPS)."""

_EMAIL_FIELDS = frozenset({"email"})
_COLLECTIONS = ("attendees", "organizer", "categories", "related")
"""Event fields brought to canonical form on their own (sorted, responses dropped)."""
_BLANK_LINES = re.compile(r"\n{3,}")
_HTML_HINT = re.compile(r"<\s*(html|body|div|p|br|span|table)\b", re.IGNORECASE)


class _TextExtractor(HTMLParser):
    """Plain text of an HTML body: Graph returns HTML where Salesforce keeps plain text."""

    _BLOCKS = frozenset({"p", "div", "br", "tr", "li", "h1", "h2", "h3"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "script", "head"):
            self._skip += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script", "head"):
            self._skip = max(0, self._skip - 1)

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(body: str) -> str:
    """Plain text of `body` if it is HTML; otherwise `body` unchanged."""
    if not _HTML_HINT.search(body):
        return body
    extractor = _TextExtractor()
    extractor.feed(body)
    extractor.close()
    lines = [" ".join(line.split()) for line in "".join(extractor.parts).splitlines()]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def canonical_text(value: str) -> str | None:
    """Trimmed text with Unix line ends and no trailing blanks; an empty text is no value."""
    if "\n" not in value and "\r" not in value:
        return value.strip() or None
    lines = value.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    text = "\n".join(line.rstrip() for line in lines).strip()
    return text or None


def _canonical_value(name: str, value: JsonValue) -> JsonValue:
    if value is None:
        return None
    if isinstance(value, str):
        text = canonical_text(html_to_text(value) if name == "body" else value)
        if text is not None and name in _EMAIL_FIELDS:
            return text.lower()
        return text
    if isinstance(value, dict):
        cleaned = {
            key: item if item is None else _canonical_value(key, item)
            for key, item in value.items()
        }
        return None if all(item is None for item in cleaned.values()) else cleaned
    if isinstance(value, list):
        return [_canonical_value(name, item) for item in value]
    return value


_SORT_ENCODER = json.JSONEncoder(sort_keys=True, default=str)
_CANONICAL_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)
"""`json.dumps` with these options builds a new encoder per call; the output is the same."""


def _sort_key(value: JsonValue) -> str:
    return _SORT_ENCODER.encode(value)


_MEMO_SIZE = 512
_memo: dict[int, tuple[Contact | Event, dict[str, JsonValue]]] = {}


def normalize(record: Contact | Event) -> dict[str, JsonValue]:
    """The canonical JSON form of `record`, volatile fields removed.

    Instants are UTC ISO strings (so the zone a side chose to express them in never makes two
    equal events differ); categories are de-duplicated case-insensitively and sorted; attendees
    are sorted by e-mail.

    One decision needs the form of the same record several times (its content, its fingerprint,
    the fingerprint of the command written from it), so the last few results are remembered by
    identity. Records are frozen, and the memo holds the record itself, so an id can't be reused
    while its entry lives. Callers get a copy: the result stays theirs to change.
    """
    return dict(shared_normal_form(record))


def shared_normal_form(record: Contact | Event) -> dict[str, JsonValue]:
    """`normalize`'s result without the caller's copy, for readers that change nothing (the
    dict is the memo's own)."""
    hit = _memo.get(id(record))
    if hit is not None and hit[0] is record:
        return hit[1]
    canonical = _normalize(record)
    if len(_memo) >= _MEMO_SIZE:
        _memo.clear()
    _memo[id(record)] = (record, canonical)
    return canonical


def _normalize(record: Contact | Event) -> dict[str, JsonValue]:
    data: dict[str, JsonValue] = record.model_dump(mode="json", exclude={"marker"})
    if isinstance(record, Event):
        data["start"] = record.start.astimezone(_UTC).isoformat() if record.start else None
        data["end"] = record.end.astimezone(_UTC).isoformat() if record.end else None
        data["categories"] = sorted(
            {category.strip().casefold() for category in record.categories if category.strip()}
        )
        attendees = [_drop_response(a) for a in data["attendees"]]
        data["attendees"] = sorted(
            (_canonical_value("attendee", a) for a in attendees), key=_sort_key
        )
        if data["organizer"] is not None:
            data["organizer"] = _canonical_value("organizer", _drop_response(data["organizer"]))
        data["related"] = sorted(data["related"], key=_sort_key)
    # Most fields of a record are empty: None is canonical as it is (skips a call per field).
    canonical = {
        key: value if value is None else _canonical_value(key, value)
        for key, value in data.items()
        if key not in _COLLECTIONS
    }
    for key in _COLLECTIONS:
        if key in data:
            canonical[key] = data[key]
    return canonical


def _drop_response(attendee: dict[str, JsonValue]) -> dict[str, JsonValue]:
    cleaned = {key: value for key, value in attendee.items() if key != "response"}
    if isinstance(cleaned.get("email"), str):
        cleaned["email"] = cleaned["email"].strip().lower()
    return cleaned


def fingerprint_of(canonical: dict[str, JsonValue]) -> str:
    """SHA-256 of an already canonical JSON object (sorted keys, compact, ASCII)."""
    return hashlib.sha256(canonical_json(canonical)).hexdigest()


def canonical_json(canonical: dict[str, JsonValue]) -> bytes:
    """`canonical` as sorted, compact, ASCII-only JSON: exactly the bytes of
    `json.dumps(canonical, sort_keys=True, separators=(",", ":"), default=str)`, the encoding
    fingerprints have always been taken of (stored links compare against them).

    orjson writes the same bytes about four times faster whenever its output is printable ASCII
    (it escapes neither DEL nor non-ASCII characters as `\\uXXXX`); the rest (accents,
    non-Latin names) takes the standard encoder. Canonical content is JSON-mode data of records
    whose numbers are all integers (orjson's float notation would differ: `2.5e-7`); a unit
    test keeps floats out of the record models."""
    try:
        encoded = orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # a value orjson refuses (an integer over 64 bits, a non-JSON type)
        pass
    else:
        if encoded.isascii() and b"\x7f" not in encoded:  # the standard one escapes DEL too
            return encoded
    return _CANONICAL_ENCODER.encode(canonical).encode()


def fingerprint(record: Contact | Event) -> str:
    """Stable hash of the normalized content of `record` (vdirsyncer's `hash_item`)."""
    return fingerprint_of(shared_normal_form(record))
