"""Change notifications: protocols.md A6 (learn.microsoft.com/graph/change-notifications-
delivery-webhooks, /graph/change-notifications-lifecycle-events)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from simulators.common.server import BackgroundServer


class Receiver:
    """A subscriber endpoint on loopback: echoes validation tokens, records notifications."""

    def __init__(self, echo: bool = True) -> None:
        self.received: list[dict[str, Any]] = []
        self.app = FastAPI()

        @self.app.post("/{path:path}")
        async def hook(request: Request) -> Response:
            token = request.query_params.get("validationToken")
            if token is not None:
                return Response(token if echo else "nope", media_type="text/plain")
            self.received.append({"path": request.url.path, **(await request.json())})
            return Response(status_code=202)


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    rec = Receiver()
    with BackgroundServer(rec.app, tls=None) as server:
        yield rec, server.base_url


def _expiry(minutes: int) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _wait_for(rec: Receiver, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 5
    while len(rec.received) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return rec.received


def test_a6_subscription_handshake_notification_with_client_state_renewal_and_lifecycle(
    graph: httpx.Client, sim: httpx.Client, mailbox: dict[str, Any], receiver: tuple[Receiver, str]
) -> None:
    rec, url = receiver
    body = {
        "changeType": "created,updated,deleted",
        "notificationUrl": f"{url}/graph",
        "lifecycleNotificationUrl": f"{url}/graph/lifecycle",
        "resource": f"/users/{mailbox['upn']}/contactFolders/{mailbox['folder']}/contacts",
        "expirationDateTime": _expiry(60),
        "clientState": "s3cret",
    }
    created = graph.post("/subscriptions", json=body)
    assert created.status_code == 201, created.text
    sub = created.json()
    assert sub["clientState"] == "s3cret"
    contact = graph.post(
        f"/users/{mailbox['upn']}/contactFolders/{mailbox['folder']}/contacts",
        json={"givenName": "N"},
    ).json()
    note = _wait_for(rec, 1)[0]["value"][0]
    assert (note["subscriptionId"], note["clientState"], note["changeType"]) == (
        sub["id"],
        "s3cret",
        "created",
    )
    assert note["resourceData"]["id"] == contact["id"]
    renewed = graph.patch(f"/subscriptions/{sub['id']}", json={"expirationDateTime": _expiry(120)})
    assert renewed.json()["expirationDateTime"] > sub["expirationDateTime"]
    assert sim.post(f"/_sim/subscriptions/{sub['id']}/lifecycle", json={"event": "missed"}).json()[
        "delivered"
    ]
    lifecycle = [r for r in _wait_for(rec, 2) if r["path"] == "/graph/lifecycle"]
    assert lifecycle[0]["value"][0]["lifecycleEvent"] == "missed"
    assert graph.delete(f"/subscriptions/{sub['id']}").status_code == 204


def test_a6_expiration_beyond_cap_and_failed_validation_are_400(
    graph: httpx.Client, mailbox: dict[str, Any]
) -> None:
    silent = Receiver(echo=False)
    with BackgroundServer(silent.app, tls=None) as server:
        base = {
            "changeType": "updated",
            "resource": f"/users/{mailbox['upn']}/events",
            "clientState": "x",
        }
        too_long = graph.post(
            "/subscriptions",
            json={
                **base,
                "notificationUrl": f"{server.base_url}/h",
                "expirationDateTime": _expiry(5000),
            },
        )
        bad_echo = graph.post(
            "/subscriptions",
            json={
                **base,
                "notificationUrl": f"{server.base_url}/h",
                "expirationDateTime": _expiry(60),
            },
        )
    assert bad_echo.status_code == 400
    assert "validation request failed" in bad_echo.json()["error"]["message"]
    assert too_long.status_code == 400
    assert "4230 minutes" in too_long.json()["error"]["message"]
