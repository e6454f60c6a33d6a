"""EWS `t:Recurrence` ↔ the shared `Recurrence` (RRULE), via the Graph patternedRecurrence form
the connector already converts (exchange_connector.recurrence): EWS and Graph describe the same
Exchange patterns with different spellings (EWS reference `recurrence-recurrencetype.md`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ewsclient.soap import Element, el, t
from syncmodel.records import Recurrence

from exchange_connector.recurrence import (
    UnsupportedRecurrence,
    graph_to_recurrence,
    recurrence_to_graph,
)

_PATTERNS = {
    "DailyRecurrence": "daily",
    "WeeklyRecurrence": "weekly",
    "AbsoluteMonthlyRecurrence": "absoluteMonthly",
    "RelativeMonthlyRecurrence": "relativeMonthly",
    "AbsoluteYearlyRecurrence": "absoluteYearly",
    "RelativeYearlyRecurrence": "relativeYearly",
}
_EWS_PATTERNS = {v: k for k, v in _PATTERNS.items()}
_RANGES = {
    "NoEndRecurrence": "noEnd",
    "EndDateRecurrence": "endDate",
    "NumberedRecurrence": "numbered",
}
_EWS_RANGES = {v: k for k, v in _RANGES.items()}
_MONTHS = [
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
]  # fmt: skip
_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday"]
_DAY_GROUPS = {
    "day": [*_WEEKDAYS, "saturday", "sunday"],
    "weekday": _WEEKDAYS,
    "weekendday": ["saturday", "sunday"],
}


def _local(node: Element) -> str:
    return str(node.tag).rsplit("}", 1)[-1]


def _date(text: str | None) -> str:
    # xs:date may carry an offset ("2026-11-24-08:00"); the calendar date is the first 10 chars.
    return (text or "")[:10]


def _days(text: str | None) -> list[str]:
    days: list[str] = []
    for token in (text or "").split():
        days += _DAY_GROUPS.get(token.lower(), [token.lower()])
    return days


def ews_to_graph(recurrence: Element) -> dict[str, Any]:
    pattern_el = next((c for c in recurrence if _local(c) in _PATTERNS), None)
    range_el = next((c for c in recurrence if _local(c) in _RANGES), None)
    if pattern_el is None or range_el is None:
        raise UnsupportedRecurrence("a recurrence needs a pattern and a range")
    pattern: dict[str, Any] = {"type": _PATTERNS[_local(pattern_el)]}
    pattern["interval"] = int(pattern_el.findtext(t("Interval")) or 1)
    if pattern_el.find(t("DaysOfWeek")) is not None:
        pattern["daysOfWeek"] = _days(pattern_el.findtext(t("DaysOfWeek")))
    if pattern_el.find(t("FirstDayOfWeek")) is not None:
        pattern["firstDayOfWeek"] = (pattern_el.findtext(t("FirstDayOfWeek")) or "Sunday").lower()
    if pattern_el.find(t("DayOfWeekIndex")) is not None:
        pattern["index"] = (pattern_el.findtext(t("DayOfWeekIndex")) or "First").lower()
    if pattern_el.find(t("DayOfMonth")) is not None:
        pattern["dayOfMonth"] = int(pattern_el.findtext(t("DayOfMonth")) or 1)
    if pattern_el.find(t("Month")) is not None:
        pattern["month"] = _MONTHS.index(pattern_el.findtext(t("Month")) or "January") + 1
    rng: dict[str, Any] = {
        "type": _RANGES[_local(range_el)],
        "startDate": _date(range_el.findtext(t("StartDate"))),
    }
    if rng["type"] == "endDate":
        rng["endDate"] = _date(range_el.findtext(t("EndDate")))
    if rng["type"] == "numbered":
        rng["numberOfOccurrences"] = int(range_el.findtext(t("NumberOfOccurrences")) or 1)
    return {"pattern": pattern, "range": rng}


def recurrence_from_ews(
    recurrence: Element,
    *,
    is_all_day: bool,
    time_zone: str,
    exdates: tuple[dt.date | dt.datetime, ...] = (),
) -> Recurrence:
    return graph_to_recurrence(
        ews_to_graph(recurrence), is_all_day=is_all_day, fallback_zone=time_zone, exdates=exdates
    )


def recurrence_to_ews(recurrence: Recurrence) -> Element:
    """A `t:Recurrence` in schema order (pattern children are an xs:sequence)."""
    graph = recurrence_to_graph(recurrence)
    pattern, rng = graph["pattern"], graph["range"]
    kind = pattern["type"]
    node = el(t(_EWS_PATTERNS[kind]))

    def add(name: str, text: str) -> None:
        node.append(el(t(name), text=text))

    days = " ".join(d.capitalize() for d in pattern.get("daysOfWeek") or [])
    if kind in ("daily", "weekly", "absoluteMonthly", "relativeMonthly"):
        add("Interval", str(pattern["interval"]))
    if kind in ("weekly", "relativeMonthly", "relativeYearly"):
        add("DaysOfWeek", days)
    if kind in ("relativeMonthly", "relativeYearly"):
        add("DayOfWeekIndex", str(pattern["index"]).capitalize())
    if kind in ("absoluteMonthly", "absoluteYearly"):
        add("DayOfMonth", str(pattern["dayOfMonth"]))
    if kind in ("absoluteYearly", "relativeYearly"):
        add("Month", _MONTHS[int(pattern["month"]) - 1])
    if kind == "weekly":
        add("FirstDayOfWeek", str(pattern.get("firstDayOfWeek") or "sunday").capitalize())
    range_node = el(t(_EWS_RANGES[rng["type"]]), None, el(t("StartDate"), text=rng["startDate"]))
    if rng["type"] == "endDate":
        range_node.append(el(t("EndDate"), text=rng["endDate"]))
    if rng["type"] == "numbered":
        range_node.append(el(t("NumberOfOccurrences"), text=str(rng["numberOfOccurrences"])))
    return el(t("Recurrence"), None, node, range_node)
