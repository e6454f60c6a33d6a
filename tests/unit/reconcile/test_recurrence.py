"""Graph patternedRecurrence <-> RRULE: exact round trips and no drift across DST."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from reconcile.errors import RecurrenceError
from reconcile.recurrence import graph_to_recurrence, occurrences, recurrence_to_graph
from syncmodel import Recurrence


def _graph(pattern: dict[str, Any], range_: dict[str, Any]) -> dict[str, Any]:
    base_range = {"startDate": "2026-01-05", "recurrenceTimeZone": "Pacific Standard Time"}
    return {
        "pattern": {"interval": 1, "firstDayOfWeek": "sunday", **pattern},
        "range": {**base_range, **range_},
    }


NO_END = {"type": "noEnd"}
PATTERNS = {
    "daily": _graph(
        {"type": "daily", "interval": 2}, {"type": "numbered", "numberOfOccurrences": 10}
    ),
    "weekly": _graph(
        {
            "type": "weekly",
            "interval": 2,
            "daysOfWeek": ["monday", "thursday"],
            "firstDayOfWeek": "monday",
        },
        {"type": "endDate", "endDate": "2026-06-30"},
    ),
    "absoluteMonthly": _graph({"type": "absoluteMonthly", "dayOfMonth": 15}, NO_END),
    "relativeMonthly": _graph(
        {"type": "relativeMonthly", "daysOfWeek": ["friday"], "index": "last"}, NO_END
    ),
    "absoluteYearly": _graph({"type": "absoluteYearly", "dayOfMonth": 29, "month": 2}, NO_END),
    "relativeYearly": _graph(
        {"type": "relativeYearly", "daysOfWeek": ["monday"], "index": "first", "month": 9}, NO_END
    ),
}


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_graph_patterns_round_trip_through_rrule(name: str) -> None:
    graph = PATTERNS[name]
    recurrence = graph_to_recurrence(graph)
    assert recurrence.time_zone == "America/Los_Angeles"
    back = recurrence_to_graph(recurrence)
    expected_pattern = {
        k: v
        for k, v in graph["pattern"].items()
        if k != "index" or "Monthly" in name or "Yearly" in name
    }
    assert back["pattern"] == {"type": name, **expected_pattern}
    assert back["range"] == graph["range"]
    assert graph_to_recurrence(back) == recurrence


def test_weekly_rule_text_matches_salesforce_style() -> None:
    recurrence = graph_to_recurrence(PATTERNS["weekly"])
    assert recurrence.rrule.startswith("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH;WKST=MO;UNTIL=")


def test_rrule_from_salesforce_round_trips_through_graph() -> None:
    rule = Recurrence(
        rrule="FREQ=WEEKLY;INTERVAL=1;BYDAY=MO;WKST=SU;COUNT=13",
        time_zone="America/New_York",
        start_date=dt.date(2026, 3, 2),
    )
    graph = recurrence_to_graph(rule)
    assert graph["pattern"]["daysOfWeek"] == ["monday"]
    assert graph["range"] == {
        "startDate": "2026-03-02",
        "recurrenceTimeZone": "Eastern Standard Time",
        "type": "numbered",
        "numberOfOccurrences": 13,
    }
    assert graph_to_recurrence(graph) == rule


def test_byday_with_ordinal_is_accepted_as_relative_pattern() -> None:
    rule = Recurrence(
        rrule="RRULE:FREQ=MONTHLY;BYDAY=-1FR", time_zone="UTC", start_date=dt.date(2026, 1, 30)
    )
    graph = recurrence_to_graph(rule)
    assert graph["pattern"]["type"] == "relativeMonthly"
    assert graph["pattern"]["index"] == "last"


def test_end_date_is_inclusive_in_the_series_zone() -> None:
    graph = _graph({"type": "daily"}, {"type": "endDate", "endDate": "2026-01-07"})
    recurrence = graph_to_recurrence(graph)
    starts = occurrences(recurrence, dt.time(23, 30))
    assert [s.date() for s in starts] == [
        dt.date(2026, 1, 6),
        dt.date(2026, 1, 7),
        dt.date(2026, 1, 8),
    ]  # 23:30 PST is next day UTC
    assert len(starts) == 3


def test_weekly_series_keeps_its_local_time_across_dst() -> None:
    graph = _graph(
        {"type": "weekly", "daysOfWeek": ["monday"]},
        {"type": "numbered", "numberOfOccurrences": 12, "startDate": "2026-02-16"},
    )
    starts = occurrences(graph_to_recurrence(graph), dt.time(9, 0))
    hours = {s.hour for s in starts}
    assert hours == {17, 16}  # 09:00 PST = 17:00 UTC, 09:00 PDT = 16:00 UTC


def test_day_31_clamps_to_the_end_of_shorter_months_like_outlook() -> None:
    graph = _graph(
        {"type": "absoluteMonthly", "dayOfMonth": 31},
        {"type": "numbered", "numberOfOccurrences": 4, "startDate": "2026-01-31"},
    )
    recurrence = graph_to_recurrence(graph)
    days = [s.date() for s in occurrences(recurrence, dt.time(9, 0))]
    assert days == [
        dt.date(2026, 1, 31),
        dt.date(2026, 2, 28),
        dt.date(2026, 3, 31),
        dt.date(2026, 4, 30),
    ]
    assert recurrence_to_graph(recurrence)["pattern"]["dayOfMonth"] == 31


def test_all_day_series_ends_on_a_date() -> None:
    graph = _graph({"type": "daily"}, {"type": "endDate", "endDate": "2026-01-09"})
    recurrence = graph_to_recurrence(graph, all_day=True)
    assert recurrence.rrule.endswith("UNTIL=20260109")
    assert recurrence_to_graph(recurrence)["range"]["endDate"] == "2026-01-09"


@pytest.mark.parametrize(
    ("pattern", "range_", "message"),
    [
        ({"type": "hourly"}, NO_END, "unsupported recurrence pattern"),
        ({"type": "weekly"}, NO_END, "needs daysOfWeek"),
        ({"type": "daily", "interval": 0}, NO_END, "interval"),
        ({"type": "absoluteMonthly", "dayOfMonth": 32}, NO_END, "dayOfMonth"),
        ({"type": "absoluteYearly", "dayOfMonth": 1, "month": 13}, NO_END, "month"),
        ({"type": "daily"}, {"type": "numbered", "numberOfOccurrences": 0}, "numberOfOccurrences"),
        ({"type": "daily"}, {"type": "endDate", "endDate": "2025-01-01"}, "before"),
    ],
)
def test_invalid_graph_patterns_are_rejected_clearly(
    pattern: dict[str, Any], range_: dict[str, Any], message: str
) -> None:
    with pytest.raises(RecurrenceError, match=message):
        graph_to_recurrence(_graph(pattern, range_))


@pytest.mark.parametrize(
    ("rrule", "message"),
    [
        ("FREQ=HOURLY", "unsupported FREQ"),
        ("FREQ=DAILY;BYHOUR=9", "no Exchange equivalent"),
        ("FREQ=DAILY;COUNT=2;UNTIL=20260101", "both COUNT and UNTIL"),
        ("FREQ=MONTHLY;BYDAY=1MO,-1FR", "ordinals must agree"),
        ("FREQ=MONTHLY;BYMONTHDAY=1,15", "several BYMONTHDAY"),
    ],
)
def test_rrules_exchange_cannot_hold_are_rejected_clearly(rrule: str, message: str) -> None:
    with pytest.raises(RecurrenceError, match=message):
        recurrence_to_graph(
            Recurrence(rrule=rrule, time_zone="UTC", start_date=dt.date(2026, 1, 1))
        )
