"""Graph change notifications (protocols.md A6) as a trigger for an immediate delta pass.

When a public notification URL is configured, each owned mailbox gets two subscriptions (its
default calendar's events and its `Salesforce_Sync` contacts), renewed before they expire. The
receiver answers the validation handshake (the decoded token, text/plain, 200), ignores
notifications whose `clientState` is not ours, and wakes the mailbox's capture. Lifecycle events:
`missed` and `reauthorizationRequired` wake the mailbox (delta catches up); `subscriptionRemoved`
drops the subscription so the next pass recreates it. Polling stays on as the safety net.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request, Response

from exchange_connector.client import GraphClient
from exchange_connector.errors import ExchangeError, ItemNotFound

log = logging.getLogger(__name__)
# Outlook resources: at most 4,230 minutes in older docs (A6); ask a little less.
LIFETIME = dt.timedelta(minutes=4200)
RENEW_BEFORE = dt.timedelta(hours=6)


@dataclass
class MailboxSubscription:
    id: str
    key: str
    mailbox: str
    expiration: dt.datetime


class Subscriptions:
    def __init__(
        self,
        client: GraphClient,
        notification_url: str,
        client_state: str,
        wake: Callable[[str], None],
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.client = client
        self.notification_url = notification_url.rstrip("/")
        self.client_state = client_state
        self.wake = wake
        self.now = now
        self.by_id: dict[str, MailboxSubscription] = {}
        self.by_resource: dict[tuple[str, str], MailboxSubscription] = {}

    async def ensure(self, key: str, mailbox: str, folder_id: str) -> None:
        """Create missing subscriptions for the mailbox and renew those close to expiry."""
        resources = [
            f"/users/{mailbox}/events",
            f"/users/{mailbox}/contactFolders/{folder_id}/contacts",
        ]
        for resource in resources:
            sub = self.by_resource.get((key, resource))
            expiration = self.now() + LIFETIME
            stamp = expiration.strftime("%Y-%m-%dT%H:%M:%SZ")
            if sub is None:
                body = await self._create(resource, stamp)
                sub = MailboxSubscription(body["id"], key, mailbox, expiration)
                self.by_id[sub.id] = sub
                self.by_resource[(key, resource)] = sub
            elif sub.expiration - self.now() < RENEW_BEFORE:
                try:
                    await self.client.request(
                        "PATCH",
                        f"{self.client.base_url}/subscriptions/{quote(sub.id)}",
                        mailbox,
                        json={"expirationDateTime": stamp},
                    )
                    sub.expiration = expiration
                except ItemNotFound:
                    self._forget(sub.id)

    async def _create(self, resource: str, expiration: str) -> dict[str, Any]:
        mailbox = resource.split("/")[2]
        response = await self.client.request(
            "POST",
            f"{self.client.base_url}/subscriptions",
            mailbox,
            json={
                "changeType": "created,updated,deleted",
                "notificationUrl": f"{self.notification_url}/notify",
                "lifecycleNotificationUrl": f"{self.notification_url}/lifecycle",
                "resource": resource,
                "expirationDateTime": expiration,
                "clientState": self.client_state,
            },
        )
        body: dict[str, Any] = response.json()
        return body

    def _forget(self, sub_id: str) -> MailboxSubscription | None:
        sub = self.by_id.pop(sub_id, None)
        if sub is not None:
            self.by_resource = {k: v for k, v in self.by_resource.items() if v.id != sub_id}
        return sub

    async def release(self, key: str) -> None:
        """Delete a mailbox's subscriptions (it moved to another replica)."""
        for sub in [s for s in self.by_id.values() if s.key == key]:
            self._forget(sub.id)
            try:
                await self.client.request(
                    "DELETE", f"{self.client.base_url}/subscriptions/{quote(sub.id)}", sub.mailbox
                )
            except ExchangeError as exc:
                log.info("subscription delete failed: %s", exc.code)

    def _ours(self, note: dict[str, Any]) -> MailboxSubscription | None:
        state = str(note.get("clientState") or "")
        if not hmac.compare_digest(state.encode(), self.client_state.encode()):
            return None  # not from our subscription: ignore (A6 "check clientState")
        return self.by_id.get(str(note.get("subscriptionId")))

    def receive(self, notes: list[dict[str, Any]]) -> int:
        woken = 0
        for note in notes:
            sub = self._ours(note)
            if sub is None:
                continue
            if note.get("lifecycleEvent") == "subscriptionRemoved":
                self._forget(sub.id)
            self.wake(sub.key)
            woken += 1
        return woken

    def receiver_app(self) -> FastAPI:
        app = FastAPI(
            title="syncline exchange-connector notifications", docs_url=None, redoc_url=None
        )

        async def handle(request: Request) -> Response:
            token = request.query_params.get("validationToken")
            if token is not None:
                # Echo the URL-decoded token as plain text within 10 s (A6 handshake).
                return Response(token, media_type="text/plain")
            try:
                body = await request.json()
            except ValueError:
                return Response(status_code=400)
            self.receive(list(body.get("value") or []))
            return Response(status_code=202)

        app.add_api_route("/notify", handle, methods=["POST"])
        app.add_api_route("/lifecycle", handle, methods=["POST"])
        return app
