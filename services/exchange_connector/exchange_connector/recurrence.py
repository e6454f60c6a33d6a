"""Graph `patternedRecurrence` ↔ RFC 5545 RRULE (protocols.md A4), pure.

The RRULE carries no DTSTART; `Recurrence.start_date` is the range's startDate and
`Recurrence.time_zone` (IANA) the zone in which the series' wall-clock time is kept.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from syncmodel.records import Recurrence

from exchange_connector.zones import to_iana, to_windows, zone

_DAY_CODES = {
    "monday": "MO",
    "tuesday": "TU",
    "wednesday": "WE",
    "thursday": "TH",
    "friday": "FR",
    "saturday": "SA",
    "sunday": "SU",
}
_CODE_DAYS = {code: day for day, code in _DAY_CODES.items()}
_INDEX = {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": -1}
_POS_INDEX = {pos: name for name, pos in _INDEX.items()}


class UnsupportedRecurrence(ValueError):
    """A pattern one side can express and the other cannot (e.g. FREQ=HOURLY)."""


def graph_to_recurrence(
    rec: dict[str, Any],
    *,
    is_all_day: bool,
    fallback_zone: str | None,
    exdates: tuple[dt.date | dt.datetime, ...] = (),
) -> Recurrence:
    pattern, rng = rec["pattern"], rec["range"]
    ptype = pattern["type"]
    parts = [f"FREQ={_freq(ptype)}", f"INTERVAL={int(pattern.get('interval') or 1)}"]
    days = ",".join(_DAY_CODES[d.lower()] for d in pattern.get("daysOfWeek") or [])
    if ptype in ("absoluteYearly", "relativeYearly"):
        parts.append(f"BYMONTH={int(pattern['month'])}")
    if ptype in ("absoluteMonthly", "absoluteYearly"):
        parts.append(f"BYMONTHDAY={int(pattern['dayOfMonth'])}")
    if ptype == "weekly":
        parts.append(f"BYDAY={days}")
        parts.append(f"WKST={_DAY_CODES[(pattern.get('firstDayOfWeek') or 'sunday').lower()]}")
    if ptype in ("relativeMonthly", "relativeYearly"):
        parts.append(f"BYDAY={days}")
        parts.append(f"BYSETPOS={_INDEX[(pattern.get('index') or 'first').lower()]}")
    tz_name = to_iana(rng.get("recurrenceTimeZone") or fallback_zone)
    if rng["type"] == "numbered":
        parts.append(f"COUNT={int(rng['numberOfOccurrences'])}")
    elif rng["type"] == "endDate":
        end = dt.date.fromisoformat(rng["endDate"])
        if is_all_day:
            parts.append(f"UNTIL={end:%Y%m%d}")
        else:
            # UNTIL is UTC for timed series (RFC 5545 3.3.10): the end date's last second, local.
            last = dt.datetime.combine(end, dt.time(23, 59, 59), tzinfo=zone(tz_name))
            parts.append(f"UNTIL={last.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}")
    return Recurrence(
        rrule=";".join(parts),
        time_zone=tz_name,
        start_date=dt.date.fromisoformat(rng["startDate"]),
        exdates=exdates,
    )


def _freq(ptype: str) -> str:
    if ptype == "daily":
        return "DAILY"
    if ptype == "weekly":
        return "WEEKLY"
    if ptype in ("absoluteMonthly", "relativeMonthly"):
        return "MONTHLY"
    if ptype in ("absoluteYearly", "relativeYearly"):
        return "YEARLY"
    raise UnsupportedRecurrence(f"unknown Graph pattern type {ptype!r}")


def _parse_rrule(rrule: str) -> dict[str, str]:
    parts: dict[str, str] = {}
    for piece in rrule.removeprefix("RRULE:").split(";"):
        if not piece:
            continue
        key, _, value = piece.partition("=")
        parts[key.upper()] = value.upper()
    return parts


def _split_byday(value: str) -> tuple[list[str], int | None]:
    """`MO,WE` -> (days, None); `2TU` / `-1FR` -> (days, position)."""
    days, position = [], None
    for token in value.split(","):
        code = token[-2:]
        if code not in _CODE_DAYS:
            raise UnsupportedRecurrence(f"bad BYDAY {token!r}")
        prefix = token[:-2]
        if prefix:
            position = int(prefix)
        days.append(_CODE_DAYS[code])
    return days, position


def recurrence_to_graph(recurrence: Recurrence) -> dict[str, Any]:
    rule = _parse_rrule(recurrence.rrule)
    allowed = {
        "FREQ",
        "INTERVAL",
        "BYDAY",
        "BYMONTHDAY",
        "BYMONTH",
        "BYSETPOS",
        "COUNT",
        "UNTIL",
        "WKST",
    }
    if set(rule) - allowed:
        raise UnsupportedRecurrence(f"RRULE parts {sorted(set(rule) - allowed)} have no Graph form")
    freq = rule.get("FREQ")
    days, position = _split_byday(rule["BYDAY"]) if "BYDAY" in rule else ([], None)
    if "BYSETPOS" in rule:
        position = int(rule["BYSETPOS"])
    pattern: dict[str, Any] = {"interval": int(rule.get("INTERVAL", "1"))}
    if freq == "DAILY":
        pattern["type"] = "daily"
    elif freq == "WEEKLY":
        pattern["type"] = "weekly"
        pattern["daysOfWeek"] = days or [_weekday(recurrence.start_date)]
        pattern["firstDayOfWeek"] = _CODE_DAYS[rule.get("WKST", "SU")]
    elif freq in ("MONTHLY", "YEARLY"):
        yearly = freq == "YEARLY"
        if yearly:
            pattern["month"] = int(rule.get("BYMONTH", recurrence.start_date.month))
        if days:
            if position not in _POS_INDEX:
                raise UnsupportedRecurrence(f"position {position} has no Graph index")
            pattern.update(
                type="relativeYearly" if yearly else "relativeMonthly",
                daysOfWeek=days,
                index=_POS_INDEX[position],
            )
        else:
            pattern.update(
                type="absoluteYearly" if yearly else "absoluteMonthly",
                dayOfMonth=int(rule.get("BYMONTHDAY", recurrence.start_date.day)),
            )
    else:
        raise UnsupportedRecurrence(f"FREQ={freq} has no Graph form")
    rng: dict[str, Any] = {
        "startDate": recurrence.start_date.isoformat(),
        "recurrenceTimeZone": to_windows(recurrence.time_zone),
    }
    if "COUNT" in rule:
        rng.update(type="numbered", numberOfOccurrences=int(rule["COUNT"]))
    elif "UNTIL" in rule:
        rng.update(
            type="endDate", endDate=_until_date(rule["UNTIL"], recurrence.time_zone).isoformat()
        )
    else:
        rng["type"] = "noEnd"
    return {"pattern": pattern, "range": rng}


def _weekday(day: dt.date) -> str:
    return list(_DAY_CODES)[day.weekday()]


def _until_date(until: str, tz_name: str) -> dt.date:
    if "T" not in until:
        return dt.datetime.strptime(until[:8], "%Y%m%d").date()
    moment = dt.datetime.strptime(until.rstrip("Z"), "%Y%m%dT%H%M%S")
    if until.endswith("Z"):
        return moment.replace(tzinfo=dt.UTC).astimezone(zone(tz_name)).date()
    return moment.date()
