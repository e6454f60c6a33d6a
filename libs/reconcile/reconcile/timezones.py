"""Time zones between the sides: Windows names (Exchange) <-> IANA ids (Salesforce), DST-correct.

The Windows <-> IANA table is CLDR's windowsZones.xml as shipped by `tzlocal.windows_tz`
(protocols.md A10); conversions go through `zoneinfo` with the tzdata package. Local times that
don't exist (spring-forward gap) move forward by the gap and ambiguous ones (fall-back) take the
first occurrence, as RFC 5545 §3.3.5 prescribes. All-day events are dates on both sides: they are
never converted through an instant, so no zone can move them by a day (pain points #10-#13).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tzlocal.windows_tz import tz_win, win_tz

from reconcile.errors import UnknownTimeZone

_UTC_NAMES = frozenset({"utc", "etc/utc", "gmt", "etc/gmt", "z", "coordinated universal time"})
_GRAPH_FORMAT = "%Y-%m-%dT%H:%M:%S.0000000"
_IANA_ALIASES = {"Asia/Calcutta": "Asia/Kolkata", "Asia/Katmandu": "Asia/Kathmandu"}


@lru_cache(maxsize=512)
def to_iana(name: str) -> str:
    """The IANA id of a Windows or IANA zone name (Graph sends either, A10)."""
    cleaned = name.strip()
    if cleaned.lower() in _UTC_NAMES:
        return "UTC"
    if cleaned in win_tz:
        iana: str = win_tz[cleaned]
        return _IANA_ALIASES.get(iana, iana)
    try:
        ZoneInfo(cleaned)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise UnknownTimeZone(f"unknown time zone {name!r}") from error
    return _IANA_ALIASES.get(cleaned, cleaned)


@lru_cache(maxsize=512)
def to_windows(iana: str) -> str:
    """The Windows name Exchange uses for an IANA zone (CLDR's territory-001 mapping first)."""
    cleaned = iana.strip()
    if cleaned.lower() in _UTC_NAMES:
        return "UTC"
    if cleaned in win_tz:
        return cleaned  # already a Windows name
    for candidate in (cleaned, *(k for k, v in _IANA_ALIASES.items() if v == cleaned)):
        if candidate in tz_win:
            windows: str = tz_win[candidate]
            return windows
    raise UnknownTimeZone(f"no Windows zone for {iana!r}")


def zone(name: str) -> ZoneInfo:
    return ZoneInfo(to_iana(name))


def local_to_utc(local: dt.datetime, zone_name: str) -> dt.datetime:
    """An instant from a wall-clock time in a zone (RFC 5545 rules for gaps and overlaps)."""
    if local.tzinfo is not None:
        raise ValueError("local_to_utc expects a naive wall-clock time")
    tz = zone(zone_name)
    first = local.replace(tzinfo=tz, fold=0)
    instant = first.astimezone(dt.UTC)
    if instant.astimezone(tz).replace(tzinfo=None) != local:
        # In the spring-forward gap: the pre-transition offset pushes it past the gap.
        instant = local.replace(tzinfo=tz, fold=1).astimezone(dt.UTC)
        if instant.astimezone(tz).replace(tzinfo=None) < local:
            instant = first.astimezone(dt.UTC)
    return instant


def utc_to_local(instant: dt.datetime, zone_name: str) -> dt.datetime:
    """The naive wall-clock time of an aware instant in a zone."""
    if instant.tzinfo is None:
        raise ValueError("utc_to_local expects an aware datetime")
    return instant.astimezone(zone(zone_name)).replace(tzinfo=None)


def from_graph_datetime(value: dict[str, str]) -> dt.datetime:
    """Graph `dateTimeTimeZone` (`{"dateTime": ..., "timeZone": ...}`) -> aware UTC instant."""
    text = value["dateTime"].rstrip("Z")
    if "." in text:
        head, fraction = text.split(".", 1)
        text = f"{head}.{fraction[:6]}"
    return local_to_utc(dt.datetime.fromisoformat(text), value.get("timeZone") or "UTC")


def to_graph_datetime(instant: dt.datetime, zone_name: str) -> dict[str, str]:
    """An aware instant as Graph `dateTimeTimeZone` in the event's zone (Windows name)."""
    local = utc_to_local(instant, zone_name)
    return {"dateTime": local.strftime(_GRAPH_FORMAT), "timeZone": to_windows(zone_name)}


def all_day_dates(start: dt.datetime, end: dt.datetime, zone_name: str) -> tuple[dt.date, dt.date]:
    """Dates of an all-day event whose midnights Graph reported (end exclusive).

    Naive values are already wall-clock midnights in the event's zone; aware values (read with
    `Prefer: outlook.timezone="UTC"`) are converted to the event's own zone first (A10).
    """
    if start.tzinfo is not None:
        start = utc_to_local(start, zone_name)
    if end.tzinfo is not None:
        end = utc_to_local(end, zone_name)
    start_date, end_date = start.date(), end.date()
    if end_date <= start_date:
        end_date = start_date + dt.timedelta(days=1)
    return start_date, end_date


def all_day_to_graph(
    start_date: dt.date, end_date: dt.date, zone_name: str
) -> tuple[dict[str, str], dict[str, str]]:
    """Graph start/end of an all-day event: midnight to midnight in the event's zone."""
    windows = to_windows(zone_name)
    midnight = dt.time()
    return (
        {
            "dateTime": dt.datetime.combine(start_date, midnight).strftime(_GRAPH_FORMAT),
            "timeZone": windows,
        },
        {
            "dateTime": dt.datetime.combine(end_date, midnight).strftime(_GRAPH_FORMAT),
            "timeZone": windows,
        },
    )


def to_salesforce_all_day(start_date: dt.date, end_date: dt.date) -> tuple[dt.date, int]:
    """Salesforce all-day: `ActivityDate` and `DurationInMinutes` (24 h per day, LS-41)."""
    return start_date, (end_date - start_date).days * 1440


def from_salesforce_all_day(
    activity_date: dt.date, duration_minutes: int
) -> tuple[dt.date, dt.date]:
    days = max(1, -(-duration_minutes // 1440))
    return activity_date, activity_date + dt.timedelta(days=days)
