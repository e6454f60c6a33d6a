"""Events writes (protocols.md A4: transactionId, invitations), JSON batching (A7:
learn.microsoft.com/graph/json-batching), throttling (A8: /graph/throttling-limits, Outlook
service limits) and the `/_sim` fault and counter API."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from simulators.common.tls import ServerTLS

from tests.contract.graph_sim.conftest import ca_context

EVENT = {
    "subject": "Pricing call",
    "start": {"dateTime": "2026-05-04T10:00:00", "timeZone": "Eastern Standard Time"},
    "end": {"dateTime": "2026-05-04T10:30:00", "timeZone": "Eastern Standard Time"},
}


def test_a4_transaction_id_makes_retried_create_return_first_event(
    graph: httpx.Client, sim: httpx.Client, mailbox: dict[str, Any]
) -> None:
    body = {**EVENT, "transactionId": "cmd-7f3a"}
    first = graph.post(f"/users/{mailbox['upn']}/events", json=body)
    second = graph.post(f"/users/{mailbox['upn']}/events", json=body)
    assert first.status_code == 201
    assert second.json()["id"] == first.json()["id"]
    assert first.json()["transactionId"] == "cmd-7f3a"
    assert first.json()["originalStartTimeZone"] == "Eastern Standard Time"
    state = sim.get("/_sim/state", params={"user": mailbox["upn"]}).json()["users"][0]
    assert len(state["events"]) == 1


def test_a4_attendees_imply_invitations_and_none_without(
    graph: httpx.Client, sim: httpx.Client, mailbox: dict[str, Any]
) -> None:
    graph.post(f"/users/{mailbox['upn']}/events", json=EVENT)
    graph.post(
        f"/users/{mailbox['upn']}/events",
        json={
            **EVENT,
            "attendees": [{"type": "required", "emailAddress": {"address": "x@fabrikam.example"}}],
        },
    )
    sent = sim.get("/_sim/state", params={"user": mailbox["upn"]}).json()["users"][0][
        "sentMessages"
    ]
    assert [(m["kind"], m["to"]) for m in sent] == [("invitation", ["x@fabrikam.example"])]


def test_a7_batch_runs_requests_with_depends_on_and_424(
    graph: httpx.Client, mailbox: dict[str, Any]
) -> None:
    upn = mailbox["upn"]
    requests = [
        {
            "id": "1",
            "method": "POST",
            "url": f"/users/{upn}/events",
            "headers": {"Content-Type": "application/json"},
            "body": EVENT,
        },
        {"id": "2", "method": "GET", "url": f"/users/{upn}/events/does-not-exist"},
        {"id": "3", "dependsOn": ["2"], "method": "GET", "url": f"/users/{upn}/events"},
        {"id": "4", "dependsOn": ["1"], "method": "GET", "url": f"/users/{upn}/events?$top=5"},
    ]
    response = graph.post("/$batch", json={"requests": requests})
    assert response.status_code == 200
    by_id = {r["id"]: r for r in response.json()["responses"]}
    assert by_id["1"]["status"] == 201
    assert by_id["2"]["status"] == 404
    assert by_id["2"]["body"]["error"]["code"] == "ErrorItemNotFound"
    assert by_id["3"]["status"] == 424
    assert [e["id"] for e in by_id["4"]["body"]["value"]] == [by_id["1"]["body"]["id"]]


def test_a7_batch_over_20_or_duplicate_ids_is_400(
    graph: httpx.Client, mailbox: dict[str, Any]
) -> None:
    one = {"method": "GET", "url": f"/users/{mailbox['upn']}/events"}
    too_many = [{"id": str(i), **one} for i in range(21)]
    assert graph.post("/$batch", json={"requests": too_many}).status_code == 400
    dupes = [{"id": "a", **one}, {"id": "A", **one}]
    assert graph.post("/$batch", json={"requests": dupes}).status_code == 400


async def test_a8_more_than_4_concurrent_requests_per_mailbox_get_429_with_retry_after(
    graph: httpx.Client, sim: httpx.Client, mailbox: dict[str, Any], graph_tls: ServerTLS
) -> None:
    sim.post("/_sim/config", json={"request_latency_ms": 300, "throttle_retry_after_s": 2})  # noqa: ASYNC212
    async with httpx.AsyncClient(
        base_url=str(graph.base_url), headers=dict(graph.headers), verify=ca_context(graph_tls)
    ) as client:
        responses = await asyncio.gather(
            *(client.get(f"/users/{mailbox['upn']}/contacts") for _ in range(8))
        )
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) == 4
    assert statuses.count(429) == 4
    throttled = next(r for r in responses if r.status_code == 429)
    assert throttled.headers["Retry-After"] == "2"
    assert throttled.json()["error"]["code"] == "ApplicationThrottled"
    assert "MailboxConcurrency" in throttled.json()["error"]["message"]


def test_a8_per_mailbox_budget_exhaustion_is_429_and_other_mailboxes_unaffected(
    graph: httpx.Client, sim: httpx.Client, mailbox: dict[str, Any], credentials: dict[str, Any]
) -> None:
    sim.post("/_sim/config", json={"budget_per_window": 3, "budget_window_s": 60})
    statuses = [graph.get(f"/users/{mailbox['upn']}/contacts").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert int(graph.get(f"/users/{mailbox['upn']}/contacts").headers["Retry-After"]) > 0
    assert graph.get(f"/users/{credentials['mailboxes'][0]}/contacts").status_code == 200


def test_sim_faults_burst_and_counters(
    graph: httpx.Client, sim: httpx.Client, mailbox: dict[str, Any]
) -> None:
    sim.delete("/_sim/counters")
    sim.post(
        "/_sim/faults",
        json={"burst": {"status": 503, "count": 2, "retry_after": 3}, "subject": mailbox["upn"]},
    )
    url = f"/users/{mailbox['upn']}/contacts"
    first, second, third = (graph.get(url) for _ in range(3))
    assert (first.status_code, second.status_code, third.status_code) == (503, 503, 200)
    assert first.headers["Retry-After"] == "3"
    assert "error" in first.json()
    counters = sim.get("/_sim/counters").json()
    assert counters["by_subject"][mailbox["upn"]] == 3
    assert counters["by_endpoint"]["GET /v1.0/users/{user_id}/contacts"] >= 1
