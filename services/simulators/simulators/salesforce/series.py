"""Lightning (Recurrence2) series: the occurrence Event records behind a series record.

protocols.md C13 "Recurrence2 details": a series is an event series record plus one occurrence
Event record per occurrence; each occurrence carries the series' RRULE, `IsRecurrence2` and its
own StartDateTime. The series record is the first occurrence itself (`IsRecurrence2Series`,
GroupEventType 3). An occurrence edited on its own becomes an exception
(`IsRecurrence2Exception`); deleting an occurrence record removes only it from the series.

Occurrences belong to their series by (OwnerId, Recurrence2PatternStartDate,
Recurrence2PatternText), the fields every occurrence copies from the series record.

Simulator choices where protocols.md says nothing:
- The pattern is expanded at wall-clock time in Recurrence2PatternTimeZone (DST-stable, as
  RFC 5545 does) with dateutil's rrule. COUNT/UNTIL bound it; every pattern, open-ended or not,
  stops at `MAX_OCCURRENCES` occurrences and `HORIZON` after the first start.
- Changing the series record's pattern, times or owner rebuilds its plain occurrences (the old
  records are deleted, new ones made); exceptions are kept and follow the new pattern fields
  (no edit is lost). Other field changes are copied to the occurrences that are not
  exceptions. Turning the pattern off deletes the occurrences.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil import rrule as du_rrule
from simulators.salesforce.schema import OBJECTS
from simulators.salesforce.store import Record, Store

MAX_OCCURRENCES = 100
HORIZON = dt.timedelta(days=365)
# Fields that define where the occurrences are: a change rebuilds them.
PATTERN_FIELDS = (
    "OwnerId",
    "IsRecurrence2",
    "Recurrence2PatternText",
    "Recurrence2PatternStartDate",
    "Recurrence2PatternTimeZone",
    "StartDateTime",
    "EndDateTime",
    "IsAllDayEvent",
    "ActivityDate",
    "DurationInMinutes",
)
# Fields an occurrence has of its own (times) or that the platform keeps per record.
_OWN_FIELDS = frozenset(
    {
        "Id",
        "IsDeleted",
        "CreatedDate",
        "CreatedById",
        "LastModifiedDate",
        "LastModifiedById",
        "SystemModstamp",
        "StartDateTime",
        "EndDateTime",
        "ActivityDate",
        "ActivityDateTime",
        "EndDate",
        "IsRecurrence2Series",
        "IsRecurrence2Exception",
        "IsRecurrence2Exclusion",
        "GroupEventType",
    }
)
# Unique external ids (the sync marker) stay on the series record: a copy would be a duplicate.
_SERIES_ONLY = frozenset(f.name for f in OBJECTS["Event"].fields.values() if f.unique)


def is_series(rec: Record) -> bool:
    return bool(rec.get("IsRecurrence2")) and bool(rec.get("IsRecurrence2Series"))


_KEY_FIELDS = (
    "OwnerId",
    "Recurrence2PatternStartDate",
    "Recurrence2PatternText",
    "Recurrence2PatternTimeZone",
)


def _key(rec: Record) -> tuple[object, object, object]:
    return (
        rec.get("OwnerId"),
        rec.get("Recurrence2PatternStartDate"),
        rec.get("Recurrence2PatternText"),
    )


def occurrences_of(store: Store, series: Record) -> list[Record]:
    """The live occurrence records of a series record (itself excluded), by start."""
    key = _key(series)
    rows = [
        r
        for r in store.rows("Event")
        if r["Id"] != series["Id"]
        and r.get("IsRecurrence2")
        and not r.get("IsRecurrence2Series")
        and _key(r) == key
    ]
    return sorted(rows, key=lambda r: (r["StartDateTime"], r["Id"]))


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def occurrence_starts(series: Record) -> list[dt.datetime]:
    """UTC starts of every occurrence of the series record's pattern, its own start first."""
    first: dt.datetime = series["StartDateTime"]
    text = str(series.get("Recurrence2PatternText") or "")
    # All-day series are date-only spans (midnight UTC); timed ones run at the zone's wall time.
    all_day = bool(series.get("IsAllDayEvent"))
    tz = dt.UTC if all_day else _zone(series.get("Recurrence2PatternTimeZone"))
    if all_day:
        local_first = dt.datetime.combine(series["ActivityDate"], dt.time())
    else:
        local_first = first.astimezone(tz).replace(tzinfo=None)

    def to_utc(local: dt.datetime) -> dt.datetime:
        return local.replace(tzinfo=tz).astimezone(dt.UTC)

    rule = du_rrule.rrulestr(text, dtstart=local_first, ignoretz=True)
    starts = [first]
    end = local_first + HORIZON
    for local in rule:
        if local > end or len(starts) >= MAX_OCCURRENCES:
            break
        start = to_utc(local)
        if start != first:
            starts.append(start)
    return starts


def expand(store: Store, series: Record, actor: str | None) -> list[Record]:
    """Insert the occurrence records of a just-written series record."""
    duration = series["EndDateTime"] - series["StartDateTime"]
    common = {k: v for k, v in series.items() if k not in _OWN_FIELDS | _SERIES_ONLY}
    made = []
    for start in occurrence_starts(series)[1:]:
        rec = {
            **common,
            "StartDateTime": start,
            "EndDateTime": start + duration,
            "ActivityDate": start.date(),
            "EndDate": (start + duration).date(),
            "ActivityDateTime": None if series.get("IsAllDayEvent") else start,
            "IsRecurrence2Series": False,
            "GroupEventType": "0",
        }
        made.append(store.insert("Event", rec, actor))
    return made


def after_update(store: Store, before: Record, series: Record, actor: str | None) -> None:
    """Keep the occurrences in step with an updated series record (see module docstring)."""
    if any(before.get(f) != series.get(f) for f in PATTERN_FIELDS):
        still = bool(series.get("IsRecurrence2") and series.get("Recurrence2PatternText"))
        for rec in occurrences_of(store, before):
            if rec.get("IsRecurrence2Exception") and still:
                store.touch(rec, {f: series.get(f) for f in _KEY_FIELDS}, actor)
            else:
                store.soft_delete("Event", rec)
        if still:
            expand(store, series, actor)
        else:
            series["IsRecurrence2Series"] = False
            series["GroupEventType"] = "0"
        return
    changed = {
        k: v
        for k, v in series.items()
        if k not in _OWN_FIELDS | _SERIES_ONLY and before.get(k) != v
    }
    if not changed:
        return
    for rec in occurrences_of(store, series):
        if not rec.get("IsRecurrence2Exception"):
            store.touch(rec, changed, actor)


def after_delete(store: Store, series: Record) -> list[Record]:
    """Deleting the series record deletes the whole series; returns what went with it."""
    gone = occurrences_of(store, series)
    for rec in gone:
        store.soft_delete("Event", rec)
    return gone
