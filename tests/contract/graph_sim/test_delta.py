"""Delta queries: protocols.md A5 (learn.microsoft.com/graph/delta-query-overview,
/graph/api/contact-delta, /graph/delta-query-events, /graph/api/event-delta)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest


def drain(graph: httpx.Client, url: str, **kwargs: Any) -> tuple[list[dict[str, Any]], str, int]:
    """Follow nextLinks to the deltaLink: (items, deltaLink, pages)."""
    items: list[dict[str, Any]] = []
    pages = 0
    while True:
        response = graph.get(url, **kwargs)
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["value"]
        pages += 1
        if "@odata.deltaLink" in body:
            return items, body["@odata.deltaLink"], pages
        url = body["@odata.nextLink"]
        kwargs.pop("params", None)  # links are replayed verbatim


@pytest.mark.parametrize("suffix", ["delta", "delta()", "microsoft.graph.delta"])
def test_a5_contact_delta_accepts_all_function_spellings_and_pages(
    graph: httpx.Client, mailbox: dict[str, Any], suffix: str
) -> None:
    base = f"/users/{mailbox['upn']}/contactFolders/{mailbox['folder']}/contacts"
    ids = {graph.post(base, json={"givenName": f"C{i}"}).json()["id"] for i in range(5)}
    items, link, pages = drain(graph, f"{base}/{suffix}", headers={"Prefer": "odata.maxpagesize=2"})
    assert {i["id"] for i in items} == ids
    assert pages == 3
    assert "$deltatoken=" in link


def test_a5_contact_delta_reports_changes_and_removed(
    graph: httpx.Client, mailbox: dict[str, Any]
) -> None:
    base = f"/users/{mailbox['upn']}/contactFolders/{mailbox['folder']}/contacts"
    a = graph.post(base, json={"givenName": "A"}).json()
    b = graph.post(base, json={"givenName": "B"}).json()
    _, link, _ = drain(graph, f"{base}/delta")
    graph.patch(f"/users/{mailbox['upn']}/contacts/{a['id']}", json={"jobTitle": "VP"})
    graph.delete(f"/users/{mailbox['upn']}/contacts/{b['id']}")
    c = graph.post(base, json={"givenName": "C"}).json()
    items, link2, _ = drain(graph, link)
    by_id = {i["id"]: i for i in items}
    assert by_id[a["id"]]["jobTitle"] == "VP"
    assert by_id[b["id"]]["@removed"] == {"reason": "deleted"}
    assert c["id"] in by_id
    # Nothing changed since: an empty round.
    assert drain(graph, link2)[0] == []


def test_a5_contact_delta_select_returns_selected_properties_plus_id(
    graph: httpx.Client, mailbox: dict[str, Any]
) -> None:
    base = f"/users/{mailbox['upn']}/contactFolders/{mailbox['folder']}/contacts"
    graph.post(base, json={"givenName": "S", "jobTitle": "x"})
    items, _, _ = drain(graph, f"{base}/delta", params={"$select": "givenName"})
    assert set(items[0]) <= {"id", "givenName", "@odata.etag"}


def test_a5_invalidated_delta_token_is_410_sync_state_not_found(
    graph: httpx.Client, sim: httpx.Client, mailbox: dict[str, Any]
) -> None:
    base = f"/users/{mailbox['upn']}/contactFolders/{mailbox['folder']}/contacts"
    _, link, _ = drain(graph, f"{base}/delta")
    assert (
        sim.post("/_sim/invalidate-delta", json={"user": mailbox["upn"]}).json()["invalidated"] >= 1
    )
    response = graph.get(link)
    assert response.status_code == 410
    assert response.json()["error"]["code"].lower() == "syncstatenotfound"


def _iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a5_calendar_view_delta_window_occurrences_and_removed(
    graph: httpx.Client, mailbox: dict[str, Any]
) -> None:
    upn = mailbox["upn"]
    start = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)  # a Monday
    series = graph.post(
        f"/users/{upn}/events",
        json={
            "subject": "Standup",
            "start": {"dateTime": "2026-03-02T09:00:00", "timeZone": "W. Europe Standard Time"},
            "end": {"dateTime": "2026-03-02T09:15:00", "timeZone": "W. Europe Standard Time"},
            "recurrence": {
                "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"]},
                "range": {
                    "type": "numbered",
                    "startDate": "2026-03-02",
                    "numberOfOccurrences": 6,
                    "recurrenceTimeZone": "W. Europe Standard Time",
                },
            },
        },
    ).json()
    assert series["type"] == "seriesMaster"
    assert series["recurrence"]["pattern"]["firstDayOfWeek"] == "sunday"  # defaults filled in
    window = {
        "startDateTime": _iso(start - dt.timedelta(days=1)),
        "endDateTime": _iso(start + dt.timedelta(days=60)),
    }
    items, link, _ = drain(graph, f"/users/{upn}/calendarView/delta", params=window)
    occurrences = [i for i in items if i.get("seriesMasterId") == series["id"]]
    assert len(occurrences) == 6
    assert {o["type"] for o in occurrences} == {"occurrence"}
    # Local 09:00 in Berlin across the DST change on 2026-03-29: 08:00Z before, 07:00Z after.
    assert {o["start"]["dateTime"][11:16] for o in occurrences} == {"08:00", "07:00"}
    third = sorted(occurrences, key=lambda o: o["start"]["dateTime"])[2]
    assert graph.delete(f"/users/{upn}/events/{third['id']}").status_code == 204
    far = graph.post(
        f"/users/{upn}/events",
        json={
            "subject": "Far away",
            "start": {"dateTime": "2027-06-01T10:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2027-06-01T11:00:00", "timeZone": "UTC"},
        },
    ).json()
    changes, _, _ = drain(graph, link)
    removed = {c["id"] for c in changes if "@removed" in c}
    # The cancelled occurrence, and (as Graph does) the out-of-window item, come back @removed.
    assert third["id"] in removed
    assert far["id"] in removed
    instances = graph.get(f"/users/{upn}/events/{series['id']}/instances", params=window).json()[
        "value"
    ]
    assert len(instances) == 5


def test_a2_prefer_outlook_timezone_converts_and_is_echoed(
    graph: httpx.Client, mailbox: dict[str, Any]
) -> None:
    created = graph.post(
        f"/users/{mailbox['upn']}/events",
        json={
            "subject": "TZ",
            "start": {"dateTime": "2026-07-01T15:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2026-07-01T16:00:00", "timeZone": "UTC"},
        },
    ).json()
    response = graph.get(
        f"/users/{mailbox['upn']}/events/{created['id']}",
        headers={"Prefer": 'outlook.timezone="Pacific Standard Time", IdType="ImmutableId"'},
    )
    assert response.json()["start"] == {
        "dateTime": "2026-07-01T08:00:00.0000000",
        "timeZone": "Pacific Standard Time",
    }
    assert 'outlook.timezone="Pacific Standard Time"' in response.headers["Preference-Applied"]


def test_a5_generic_reset_is_410_with_location_of_a_fresh_initial_request(
    graph: httpx.Client, sim: httpx.Client, mailbox: dict[str, Any]
) -> None:
    base = f"/users/{mailbox['upn']}/contactFolders/{mailbox['folder']}/contacts"
    graph.post(base, json={"givenName": "L"})
    _, link, _ = drain(graph, f"{base}/delta")
    sim.post("/_sim/invalidate-delta", json={"user": mailbox["upn"], "mode": "location"})
    try:
        response = graph.get(link)
    finally:
        sim.post(
            "/_sim/invalidate-delta", json={"user": mailbox["upn"], "mode": "syncStateNotFound"}
        )
    assert response.status_code == 410
    restart = response.headers["Location"]
    assert restart.endswith(f"{base}/delta?")
    assert len(drain(graph, restart)[0]) == 1


def test_a5_a12_empty_first_page_with_next_link_and_replayed_items(
    graph: httpx.Client, sim: httpx.Client, mailbox: dict[str, Any]
) -> None:
    base = f"/users/{mailbox['upn']}/contactFolders/{mailbox['folder']}/contacts"
    created = {graph.post(base, json={"givenName": f"R{i}"}).json()["id"] for i in range(3)}
    sim.post("/_sim/config", json={"delta_empty_first_page": True, "delta_replay": True})
    try:
        first = graph.get(f"{base}/delta").json()
        items, _, _ = drain(graph, first["@odata.nextLink"])
    finally:
        sim.post("/_sim/config", json={"delta_empty_first_page": False, "delta_replay": False})
    assert first["value"] == []
    assert len(items) == 4  # one item came twice
    assert {i["id"] for i in items} == created
