"""Lightning (Recurrence2) series in the simulator: protocols.md C13 "Recurrence2 details".

A series is its series record plus one occurrence Event record per occurrence, each with the
series' RRULE, `IsRecurrence2` and its own StartDateTime; an occurrence edited on its own is an
exception; deleting an occurrence removes only it, deleting the series record the whole series.
"""

from __future__ import annotations

from typing import Any

from tests.contract.salesforce_sim.conftest import Org

FIELDS = (
    "Id, Subject, Location, StartDateTime, EndDateTime, ActivityDate, IsAllDayEvent,"
    " IsRecurrence2, Recurrence2PatternText, IsRecurrence2Series, IsRecurrence2Exception,"
    " GroupEventType, Syncline_Id__c"
)


def _series(org: Org, subject: str, rule: str, start: str, end: str, **extra: Any) -> str:
    r = org.post(
        "/sobjects/Event",
        {
            "Subject": subject,
            "StartDateTime": start,
            "EndDateTime": end,
            "IsRecurrence2": True,
            "Recurrence2PatternText": rule,
            "Recurrence2PatternStartDate": start,
            "Recurrence2PatternTimeZone": "UTC",
            "Recurrence2PatternVersion": "1",
            **extra,
        },
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _rows(org: Org, subject: str, all_rows: bool = False) -> list[dict[str, Any]]:
    where = f"WHERE Subject = '{subject}' ORDER BY StartDateTime"
    path = "/queryAll" if all_rows else "/query"
    r = org.get(path, params={"q": f"SELECT {FIELDS} FROM Event {where}"})
    assert r.status_code == 200, r.text
    return list(r.json()["records"])


def test_a_counted_pattern_makes_the_series_record_plus_its_occurrences(org: Org) -> None:
    series_id = _series(
        org,
        "Weekly sync",
        "RRULE:FREQ=WEEKLY;INTERVAL=1;BYDAY=TU;WKST=SU;COUNT=4",
        "2026-03-03T15:00:00.000+0000",
        "2026-03-03T15:30:00.000+0000",
        Syncline_Id__c="link-weekly",
    )
    rows = _rows(org, "Weekly sync")
    assert [r["StartDateTime"] for r in rows] == [
        "2026-03-03T15:00:00.000+0000",
        "2026-03-10T15:00:00.000+0000",
        "2026-03-17T15:00:00.000+0000",
        "2026-03-24T15:00:00.000+0000",
    ]
    assert [r["EndDateTime"][11:16] for r in rows] == ["15:30"] * 4
    first, *others = rows
    assert first["Id"] == series_id
    assert (first["IsRecurrence2Series"], first["GroupEventType"]) == (True, "3")
    for row in others:
        assert row["IsRecurrence2"] is True
        assert row["Recurrence2PatternText"] == first["Recurrence2PatternText"]
        assert (row["IsRecurrence2Series"], row["IsRecurrence2Exception"]) == (False, False)
        assert row["Syncline_Id__c"] is None  # the unique external id stays on the series
    # The external id still names one record: upserting by it updates the series record.
    r = org.patch("/sobjects/Event/Syncline_Id__c/link-weekly", {"Location": "Room 2"})
    assert r.status_code == 200, r.text
    assert [r["Location"] for r in _rows(org, "Weekly sync")] == ["Room 2"] * 4


def test_until_bounds_the_pattern_and_wall_clock_time_survives_dst(org: Org) -> None:
    r = org.post(
        "/sobjects/Event",
        {
            "Subject": "NY standup",
            "StartDateTime": "2026-03-05T14:00:00.000+0000",  # 09:00 EST
            "DurationInMinutes": 15,
            "IsRecurrence2": True,
            "Recurrence2PatternText": "RRULE:FREQ=WEEKLY;BYDAY=TH;UNTIL=20260319T235959Z",
            "Recurrence2PatternStartDate": "2026-03-05T14:00:00.000+0000",
            "Recurrence2PatternTimeZone": "America/New_York",
        },
    )
    assert r.status_code == 201, r.text
    starts = [row["StartDateTime"] for row in _rows(org, "NY standup")]
    # DST starts on 2026-03-08: 09:00 New York is 13:00 UTC from then on.
    assert starts == [
        "2026-03-05T14:00:00.000+0000",
        "2026-03-12T13:00:00.000+0000",
        "2026-03-19T13:00:00.000+0000",
    ]


def test_an_open_ended_pattern_stops_at_100_occurrences(org: Org) -> None:
    _series(
        org,
        "Daily",
        "RRULE:FREQ=DAILY;INTERVAL=1",
        "2026-03-02T08:00:00.000+0000",
        "2026-03-02T08:15:00.000+0000",
    )
    rows = _rows(org, "Daily")
    assert len(rows) == 100
    assert rows[-1]["StartDateTime"] == "2026-06-09T08:00:00.000+0000"


def test_an_all_day_series_expands_by_date(org: Org) -> None:
    r = org.post(
        "/sobjects/Event",
        {
            "Subject": "Offsite day",
            "IsAllDayEvent": True,
            "ActivityDate": "2026-03-06",
            "DurationInMinutes": 1440,
            "IsRecurrence2": True,
            "Recurrence2PatternText": "RRULE:FREQ=MONTHLY;BYMONTHDAY=6;COUNT=3",
            "Recurrence2PatternStartDate": "2026-03-06T00:00:00.000+0000",
            "Recurrence2PatternTimeZone": "Europe/Berlin",
        },
    )
    assert r.status_code == 201, r.text
    rows = _rows(org, "Offsite day")
    assert [row["ActivityDate"] for row in rows] == ["2026-03-06", "2026-04-06", "2026-05-06"]
    assert all(row["IsAllDayEvent"] for row in rows)


def test_an_invalid_pattern_is_rejected(org: Org) -> None:
    r = org.post(
        "/sobjects/Event",
        {
            "Subject": "Broken",
            "StartDateTime": "2026-03-02T08:00:00.000+0000",
            "DurationInMinutes": 15,
            "IsRecurrence2": True,
            "Recurrence2PatternText": "RRULE:FREQ=SOMETIMES",
        },
    )
    assert r.status_code == 400, r.text
    assert r.json()[0]["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    assert _rows(org, "Broken") == []


def test_deleting_an_occurrence_removes_only_it_and_reports_it_deleted(org: Org) -> None:
    series_id = _series(
        org,
        "Clinic",
        "RRULE:FREQ=WEEKLY;BYDAY=WE;COUNT=3",
        "2026-03-04T11:00:00.000+0000",
        "2026-03-04T11:30:00.000+0000",
    )
    middle = _rows(org, "Clinic")[1]
    assert org.delete(f"/sobjects/Event/{middle['Id']}").status_code == 204
    starts = [r["StartDateTime"] for r in _rows(org, "Clinic")]
    assert starts == ["2026-03-04T11:00:00.000+0000", "2026-03-18T11:00:00.000+0000"]
    assert org.get(f"/sobjects/Event/{series_id}").status_code == 200
    # A second delete of the same occurrence: ENTITY_IS_DELETED, per record in a collection.
    r = org.delete("/composite/sobjects", params={"ids": middle["Id"], "allOrNone": "false"})
    assert r.status_code == 200, r.text
    [item] = r.json()
    assert item["success"] is False
    assert item["errors"][0]["statusCode"] == "ENTITY_IS_DELETED"


def test_deleting_the_series_record_deletes_every_occurrence(org: Org) -> None:
    series_id = _series(
        org,
        "Gone weekly",
        "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=3",
        "2026-03-02T09:00:00.000+0000",
        "2026-03-02T09:30:00.000+0000",
    )
    ids = {r["Id"] for r in _rows(org, "Gone weekly")}
    assert org.delete(f"/sobjects/Event/{series_id}").status_code == 204
    assert _rows(org, "Gone weekly") == []
    deleted = _rows(org, "Gone weekly", all_rows=True)
    assert {r["Id"] for r in deleted} == ids


def test_editing_an_occurrence_makes_it_an_exception_that_series_edits_skip(org: Org) -> None:
    series_id = _series(
        org,
        "Review",
        "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=3",
        "2026-03-02T09:00:00.000+0000",
        "2026-03-02T09:30:00.000+0000",
    )
    second = _rows(org, "Review")[1]
    r = org.patch(
        f"/sobjects/Event/{second['Id']}",
        {"StartDateTime": "2026-03-09T10:00:00.000+0000", "Location": "Moved room"},
    )
    assert r.status_code == 204, r.text
    assert org.patch(f"/sobjects/Event/{series_id}", {"Location": "Main room"}).status_code == 204
    rows = {r["Id"]: r for r in _rows(org, "Review")}
    assert rows[second["Id"]]["IsRecurrence2Exception"] is True
    assert rows[second["Id"]]["Location"] == "Moved room"
    assert rows[second["Id"]]["StartDateTime"] == "2026-03-09T10:00:00.000+0000"
    others = [r for i, r in rows.items() if i != second["Id"]]
    assert [r["Location"] for r in others] == ["Main room", "Main room"]
    assert [r["IsRecurrence2Exception"] for r in others] == [False, False]


def test_a_new_pattern_rebuilds_the_occurrences(org: Org) -> None:
    series_id = _series(
        org,
        "Rebuilt",
        "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=3",
        "2026-03-02T09:00:00.000+0000",
        "2026-03-02T09:30:00.000+0000",
    )
    edited = _rows(org, "Rebuilt")[2]
    r = org.patch(f"/sobjects/Event/{edited['Id']}", {"Location": "Kept"})
    assert r.status_code == 204, r.text
    r = org.patch(
        f"/sobjects/Event/{series_id}",
        {"Recurrence2PatternText": "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=2"},
    )
    assert r.status_code == 204, r.text
    rows = _rows(org, "Rebuilt")
    assert [(r["StartDateTime"], r["IsRecurrence2Exception"]) for r in rows] == [
        ("2026-03-02T09:00:00.000+0000", False),
        ("2026-03-09T09:00:00.000+0000", False),
        ("2026-03-16T09:00:00.000+0000", True),  # the exception is kept, in the new series
    ]
    assert all(r["Recurrence2PatternText"].endswith("COUNT=2") for r in rows)
    assert rows[0]["Id"] == series_id
    assert rows[2]["Id"] == edited["Id"]


def test_the_seeded_series_has_six_records_and_one_exception(org: Org) -> None:
    rows = _rows(org, "Weekly pipeline review")
    reps = len(org.seeded["reps"])
    assert reps == 2
    assert len(rows) == 6 * reps
    assert sum(r["IsRecurrence2Series"] for r in rows) == reps
    assert sum(r["IsRecurrence2Exception"] for r in rows) == reps
