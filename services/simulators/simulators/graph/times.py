"""Time handling as Graph does it: Windows zone names, dateTimeTimeZone, patternedRecurrence.

Zones: Graph accepts Windows names and IANA names in `dateTimeTimeZone.timeZone` (protocols.md
A4/A10); the CLDR windowsZones table (shipped in `tzlocal.windows_tz`) maps between them.
Recurrence: a patternedRecurrence is expanded with dateutil's rrule at the series' wall-clock
time in `recurrenceTimeZone`, so occurrences keep their local time across DST.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil import rrule
from tzlocal.windows_tz import tz_win, win_tz

from simulators.graph.errors import bad_request

_DAYS = {
    "monday": rrule.MO,
    "tuesday": rrule.TU,
    "wednesday": rrule.WE,
    "thursday": rrule.TH,
    "friday": rrule.FR,
    "saturday": rrule.SA,
    "sunday": rrule.SU,
}
_INDEX = {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": -1}


def zone(name: str | None) -> ZoneInfo:
    """A Windows or IANA zone name -> ZoneInfo (400 ErrorTimeZoneNotSupported otherwise)."""
    if not name or name.upper() in ("UTC", "ETC/UTC", "COORDINATED UNIVERSAL TIME"):
        return ZoneInfo("UTC")
    iana = win_tz.get(name, name)
    try:
        return ZoneInfo(iana)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise bad_request(
            f"A valid TimeZone value must be specified. The following TimeZone value is not "
            f"supported: '{name}'.",
            code="TimeZoneNotSupportedException",
        ) from exc


def windows_name(name: str) -> str:
    """Normalize a zone name to the Windows name Exchange would store."""
    return name if name in win_tz or name == "UTC" else tz_win.get(name, name)


def parse_dttz(value: Any) -> tuple[dt.datetime, str]:
    """A dateTimeTimeZone object -> (aware datetime, zone name as given)."""
    if not isinstance(value, dict) or "dateTime" not in value:
        raise bad_request("dateTimeTimeZone requires dateTime and timeZone.")
    name = value.get("timeZone") or "UTC"
    text = str(value["dateTime"]).rstrip("Z")
    # Graph sends 7 fractional digits; Python parses at most 6.
    if "." in text:
        head, frac = text.split(".", 1)
        text = f"{head}.{frac[:6]}"
    try:
        naive = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise bad_request(f"Cannot convert the literal '{value['dateTime']}'.") from exc
    if naive.tzinfo is not None:
        return naive, name
    return naive.replace(tzinfo=zone(name)), name


def format_dttz(moment: dt.datetime, zone_name: str) -> dict[str, str]:
    local = moment.astimezone(zone(zone_name))
    return {"dateTime": local.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0", "timeZone": zone_name}


def format_floating(day: dt.date, zone_name: str) -> dict[str, str]:
    """All-day events are floating midnights: the same dates in whichever zone is asked for."""
    return {"dateTime": f"{day.isoformat()}T00:00:00.0000000", "timeZone": zone_name}


def occurrence_key(original_start_utc: dt.datetime) -> str:
    return original_start_utc.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def parse_occurrence_key(key: str) -> dt.datetime:
    return dt.datetime.strptime(key, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)


def normalize_recurrence(rec: dict[str, Any]) -> dict[str, Any]:
    """Fill in the defaults real responses carry (protocols.md A4, 'Responses fill in defaults')."""
    pattern = dict(rec.get("pattern") or {})
    rng = dict(rec.get("range") or {})
    ptype = pattern.get("type")
    if ptype not in (
        "daily",
        "weekly",
        "absoluteMonthly",
        "relativeMonthly",
        "absoluteYearly",
        "relativeYearly",
    ):
        raise bad_request(f"Unsupported recurrence pattern type '{ptype}'.")
    rtype = rng.get("type")
    if rtype not in ("endDate", "noEnd", "numbered") or not rng.get("startDate"):
        raise bad_request("recurrence.range needs type (endDate|noEnd|numbered) and startDate.")
    return {
        "pattern": {
            "type": ptype,
            "interval": int(pattern.get("interval") or 1),
            "month": int(pattern.get("month") or 0),
            "dayOfMonth": int(pattern.get("dayOfMonth") or 0),
            "daysOfWeek": [d.lower() for d in pattern.get("daysOfWeek") or []],
            "firstDayOfWeek": (pattern.get("firstDayOfWeek") or "sunday").lower(),
            "index": (pattern.get("index") or "first").lower(),
        },
        "range": {
            "type": rtype,
            "startDate": rng["startDate"],
            "endDate": rng.get("endDate") or "0001-01-01",
            "recurrenceTimeZone": rng.get("recurrenceTimeZone") or "UTC",
            "numberOfOccurrences": int(rng.get("numberOfOccurrences") or 0),
        },
    }


def _rule(rec: dict[str, Any], dtstart: dt.datetime) -> rrule.rrule:
    p, r = rec["pattern"], rec["range"]
    days = [_DAYS[d] for d in p["daysOfWeek"] if d in _DAYS]
    kwargs: dict[str, Any] = {"dtstart": dtstart, "interval": p["interval"]}
    ptype = p["type"]
    if ptype == "daily":
        freq = rrule.DAILY
    elif ptype == "weekly":
        freq = rrule.WEEKLY
        kwargs["byweekday"] = days or [dtstart.weekday()]
        kwargs["wkst"] = _DAYS[p["firstDayOfWeek"]]
    elif ptype == "absoluteMonthly":
        freq = rrule.MONTHLY
        kwargs["bymonthday"] = p["dayOfMonth"] or dtstart.day
    elif ptype == "relativeMonthly":
        freq = rrule.MONTHLY
        kwargs["byweekday"] = days
        kwargs["bysetpos"] = _INDEX[p["index"]]
    elif ptype == "absoluteYearly":
        freq = rrule.YEARLY
        kwargs["bymonth"] = p["month"] or dtstart.month
        kwargs["bymonthday"] = p["dayOfMonth"] or dtstart.day
    else:
        freq = rrule.YEARLY
        kwargs["bymonth"] = p["month"] or dtstart.month
        kwargs["byweekday"] = days
        kwargs["bysetpos"] = _INDEX[p["index"]]
    if r["type"] == "numbered":
        kwargs["count"] = max(1, r["numberOfOccurrences"])
    elif r["type"] == "endDate":
        end = dt.date.fromisoformat(r["endDate"])
        kwargs["until"] = dt.datetime.combine(end, dt.time(23, 59, 59))
    return rrule.rrule(freq, **kwargs)  # type: ignore[arg-type]


def expand(
    rec: dict[str, Any],
    first_start: dt.datetime,
    window_start: dt.datetime,
    window_end: dt.datetime,
    duration: dt.timedelta,
) -> list[dt.datetime]:
    """Original starts (aware, UTC) of the series' occurrences overlapping the window.

    `first_start` is the master's start; its wall-clock time in recurrenceTimeZone is the time of
    every occurrence (the date part comes from the range's startDate).
    """
    tz = zone(rec["range"]["recurrenceTimeZone"])
    local_first = first_start.astimezone(tz)
    start_day = dt.date.fromisoformat(rec["range"]["startDate"])
    dtstart = dt.datetime.combine(start_day, local_first.time().replace(tzinfo=None))
    rule = _rule(rec, dtstart)
    # Search in naive local time with a day of slack for zone offsets.
    lo = (window_start - duration).astimezone(tz).replace(tzinfo=None) - dt.timedelta(days=1)
    hi = window_end.astimezone(tz).replace(tzinfo=None) + dt.timedelta(days=1)
    starts = []
    for naive in rule.between(lo, hi, inc=True):
        aware = naive.replace(tzinfo=tz).astimezone(dt.UTC)
        if aware < window_end and aware + duration > window_start:
            starts.append(aware)
    return starts
