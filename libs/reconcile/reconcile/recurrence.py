"""Graph `patternedRecurrence` <-> RFC 5545 RRULE (Salesforce `Recurrence2PatternText`).

Both connectors call these pure functions. The translation is exact both ways for every pattern
Graph has (daily, weekly, absolute/relative monthly, absolute/relative yearly; endDate, numbered,
noEnd; firstDayOfWeek), so a series never drifts when it crosses sides:

* `WKST` is always written (Graph's firstDayOfWeek changes which weeks an interval skips).
* `endDate` is inclusive in the series' zone: for a timed series it becomes `UNTIL` at 23:59:59
  local time expressed in UTC (RFC 5545 requires UTC when DTSTART has a zone); for an all-day
  series it is a plain date.
* Outlook's "day 31 of every month" falls on the last day of shorter months; RRULE's
  `BYMONTHDAY=31` would skip them, so days 29-31 become `BYMONTHDAY=28,...,d;BYSETPOS=-1`.
* Relative patterns use `BYDAY` + `BYSETPOS` (`index: last` = `BYSETPOS=-1`); `BYDAY=-1MO` is
  accepted on the way in.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from dateutil.rrule import rrulestr
from syncmodel import Recurrence

from reconcile.errors import RecurrenceError
from reconcile.timezones import local_to_utc, to_iana, to_windows, utc_to_local

DAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
DAY_CODES = dict(zip(DAYS, ("SU", "MO", "TU", "WE", "TH", "FR", "SA"), strict=True))
CODE_DAYS = {code: day for day, code in DAY_CODES.items()}
INDEXES = {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": -1}
POSITIONS = {position: name for name, position in INDEXES.items()}
_FREQ = {
    "daily": "DAILY",
    "weekly": "WEEKLY",
    "absoluteMonthly": "MONTHLY",
    "relativeMonthly": "MONTHLY",
    "absoluteYearly": "YEARLY",
    "relativeYearly": "YEARLY",
}
_SUPPORTED_PARTS = frozenset(
    {"FREQ", "INTERVAL", "BYDAY", "BYMONTHDAY", "BYMONTH", "BYSETPOS", "WKST", "COUNT", "UNTIL"}
)
_ORDINAL_DAY = re.compile(r"^([+-]?\d)?(SU|MO|TU|WE|TH|FR|SA)$")


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise RecurrenceError(message)


def _month_days(day: int) -> str:
    """BYMONTHDAY (+BYSETPOS) for Outlook's day-of-month, which clamps to the month's end."""
    if day <= 28:
        return f"BYMONTHDAY={day}"
    return "BYMONTHDAY=" + ",".join(str(d) for d in range(28, day + 1)) + ";BYSETPOS=-1"


def graph_to_recurrence(patterned: Mapping[str, Any], *, all_day: bool = False) -> Recurrence:
    """Graph `patternedRecurrence` JSON -> `Recurrence` (RRULE in the series' IANA zone)."""
    pattern, range_ = patterned.get("pattern") or {}, patterned.get("range") or {}
    kind = str(pattern.get("type"))
    _require(kind in _FREQ, f"unsupported recurrence pattern type {kind!r}")
    interval = int(pattern.get("interval") or 0)
    _require(interval >= 1, "recurrence interval must be at least 1")
    days = [str(day).lower() for day in pattern.get("daysOfWeek") or []]
    _require(all(day in DAY_CODES for day in days), f"unknown day in daysOfWeek {days}")
    first_day = str(pattern.get("firstDayOfWeek") or "sunday").lower()
    _require(first_day in DAY_CODES, f"unknown firstDayOfWeek {first_day!r}")
    parts = [f"FREQ={_FREQ[kind]}", f"INTERVAL={interval}"]
    if kind == "daily":
        pass  # FREQ and INTERVAL say it all
    elif kind == "weekly":
        _require(bool(days), "a weekly pattern needs daysOfWeek")
        parts.append("BYDAY=" + ",".join(DAY_CODES[day] for day in days))
    elif kind in ("absoluteMonthly", "absoluteYearly"):
        day_of_month = int(pattern.get("dayOfMonth") or 0)
        _require(1 <= day_of_month <= 31, f"dayOfMonth {day_of_month} is not 1-31")
        if kind == "absoluteYearly":
            parts.append(f"BYMONTH={_month(pattern)}")
        parts.append(_month_days(day_of_month))
    else:
        if kind == "relativeYearly":
            parts.append(f"BYMONTH={_month(pattern)}")
        _require(bool(days), f"a {kind} pattern needs daysOfWeek")
        index = str(pattern.get("index") or "first")
        _require(index in INDEXES, f"unknown index {index!r}")
        parts.append("BYDAY=" + ",".join(DAY_CODES[day] for day in days))
        parts.append(f"BYSETPOS={INDEXES[index]}")
    parts.append(f"WKST={DAY_CODES[first_day]}")
    zone_name = to_iana(range_.get("recurrenceTimeZone") or "UTC")
    start_date = _date(range_.get("startDate"), "range.startDate")
    range_type = range_.get("type")
    if range_type == "numbered":
        count = int(range_.get("numberOfOccurrences") or 0)
        _require(count >= 1, "a numbered range needs numberOfOccurrences >= 1")
        parts.append(f"COUNT={count}")
    elif range_type == "endDate":
        end_date = _date(range_.get("endDate"), "range.endDate")
        _require(end_date >= start_date, "range.endDate is before range.startDate")
        parts.append("UNTIL=" + _until(end_date, zone_name, all_day=all_day))
    else:
        _require(range_type == "noEnd", f"unsupported range type {range_type!r}")
    return Recurrence(rrule=";".join(parts), time_zone=zone_name, start_date=start_date)


def _month(pattern: Mapping[str, Any]) -> int:
    month = int(pattern.get("month") or 0)
    _require(1 <= month <= 12, f"month {month} is not 1-12")
    return month


def _date(value: object, where: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as error:
        raise RecurrenceError(f"{where} is not a date: {value!r}") from error


def _until(end_date: dt.date, zone_name: str, *, all_day: bool) -> str:
    if all_day:
        return end_date.strftime("%Y%m%d")
    last_moment = local_to_utc(dt.datetime.combine(end_date, dt.time(23, 59, 59)), zone_name)
    return last_moment.strftime("%Y%m%dT%H%M%SZ")


def parse_rrule(rrule: str) -> dict[str, str]:
    """RRULE text (with or without the `RRULE:` prefix) -> its parts, validated."""
    text = rrule.strip()
    text = text[6:] if text.upper().startswith("RRULE:") else text
    parts: dict[str, str] = {}
    for item in filter(None, text.split(";")):
        name, sep, value = item.partition("=")
        _require(bool(sep) and bool(value), f"malformed RRULE part {item!r}")
        name = name.upper()
        _require(name in _SUPPORTED_PARTS, f"RRULE part {name} has no Exchange equivalent")
        _require(name not in parts, f"RRULE part {name} given twice")
        parts[name] = value.upper()
    _require(
        parts.get("FREQ") in ("DAILY", "WEEKLY", "MONTHLY", "YEARLY"),
        f"unsupported FREQ {parts.get('FREQ')!r}",
    )
    _require(not ("COUNT" in parts and "UNTIL" in parts), "RRULE has both COUNT and UNTIL")
    return parts


def recurrence_to_graph(recurrence: Recurrence) -> dict[str, Any]:
    """`Recurrence` -> Graph `patternedRecurrence` JSON (only the fields the pattern needs)."""
    parts = parse_rrule(recurrence.rrule)
    freq, interval = parts["FREQ"], int(parts.get("INTERVAL", "1"))
    _require(interval >= 1, "INTERVAL must be at least 1")
    wkst = parts.get("WKST", "MO")  # RFC 5545's default week start
    _require(wkst in CODE_DAYS, f"unknown WKST {wkst!r}")
    pattern: dict[str, Any] = {"interval": interval, "firstDayOfWeek": CODE_DAYS[wkst]}
    days, position = _days_and_position(parts)
    month_day = _month_day(parts)
    if freq == "DAILY":
        _require(not days and month_day is None, "a DAILY rule can't have BYDAY/BYMONTHDAY")
        pattern["type"] = "daily"
    elif freq == "WEEKLY":
        pattern["type"] = "weekly"
        pattern["daysOfWeek"] = days or [DAYS[(recurrence.start_date.weekday() + 1) % 7]]
    else:
        yearly = freq == "YEARLY"
        if yearly:
            pattern["month"] = int(parts.get("BYMONTH", recurrence.start_date.month))
        if days:
            pattern["type"] = "relativeYearly" if yearly else "relativeMonthly"
            pattern["daysOfWeek"] = days
            pattern["index"] = POSITIONS[position or 1]
        else:
            pattern["type"] = "absoluteYearly" if yearly else "absoluteMonthly"
            pattern["dayOfMonth"] = month_day or recurrence.start_date.day
    range_: dict[str, Any] = {
        "startDate": recurrence.start_date.isoformat(),
        "recurrenceTimeZone": to_windows(recurrence.time_zone),
    }
    if "COUNT" in parts:
        range_.update(type="numbered", numberOfOccurrences=int(parts["COUNT"]))
    elif "UNTIL" in parts:
        range_.update(type="endDate", endDate=_until_date(parts["UNTIL"], recurrence.time_zone))
    else:
        range_["type"] = "noEnd"
    return {"pattern": pattern, "range": range_}


def _days_and_position(parts: Mapping[str, str]) -> tuple[list[str], int | None]:
    if "BYDAY" not in parts:
        _require("BYSETPOS" not in parts or "BYMONTHDAY" in parts, "BYSETPOS needs BYDAY")
        return [], None
    days: list[str] = []
    ordinals: set[int] = set()
    for item in parts["BYDAY"].split(","):
        found = _ORDINAL_DAY.match(item)
        _require(found is not None, f"unknown BYDAY value {item!r}")
        assert found is not None
        if found.group(1):
            ordinals.add(int(found.group(1)))
        days.append(CODE_DAYS[found.group(2)])
    _require(len(ordinals) <= 1, "BYDAY ordinals must agree (Exchange has one index)")
    position = int(parts["BYSETPOS"]) if "BYSETPOS" in parts else None
    _require(not (ordinals and position is not None), "BYDAY ordinal and BYSETPOS together")
    position = position if position is not None else (ordinals.pop() if ordinals else None)
    _require(position is None or position in POSITIONS, f"position {position} has no index")
    return days, position


def _month_day(parts: Mapping[str, str]) -> int | None:
    if "BYMONTHDAY" not in parts:
        return None
    days = [int(value) for value in parts["BYMONTHDAY"].split(",")]
    if len(days) == 1:
        _require(1 <= days[0] <= 31 and "BYSETPOS" not in parts, "unsupported BYMONTHDAY")
        return days[0]
    clamped = parts.get("BYSETPOS") == "-1" and days == list(range(28, days[-1] + 1))
    _require(clamped, "several BYMONTHDAY values have no Exchange equivalent")
    return days[-1]


def _until_date(until: str, zone_name: str) -> str:
    if "T" not in until:
        return dt.datetime.strptime(until, "%Y%m%d").date().isoformat()
    moment = dt.datetime.strptime(until.rstrip("Z"), "%Y%m%dT%H%M%S")
    if until.endswith("Z"):
        moment = utc_to_local(moment.replace(tzinfo=dt.UTC), zone_name)
    return moment.date().isoformat()


def occurrences(recurrence: Recurrence, start_time: dt.time, limit: int = 100) -> list[dt.datetime]:
    """The first `limit` occurrence instants (UTC) of a timed series starting at `start_time`."""
    first = local_to_utc(
        dt.datetime.combine(recurrence.start_date, start_time), recurrence.time_zone
    )
    local_start = utc_to_local(first, recurrence.time_zone)
    rule = rrulestr(_local_until(recurrence), dtstart=local_start)
    result: list[dt.datetime] = []
    for local in rule:
        result.append(local_to_utc(local, recurrence.time_zone))
        if len(result) >= limit:
            break
    return result


def _local_until(recurrence: Recurrence) -> str:
    """dateutil wants UNTIL in DTSTART's (naive, local) terms."""
    parts = parse_rrule(recurrence.rrule)
    if parts.get("UNTIL", "").endswith("Z"):
        moment = dt.datetime.strptime(parts["UNTIL"], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
        parts["UNTIL"] = utc_to_local(moment, recurrence.time_zone).strftime("%Y%m%dT%H%M%S")
    elif "UNTIL" in parts:
        parts["UNTIL"] += "T235959"
    return ";".join(f"{name}={value}" for name, value in parts.items())
