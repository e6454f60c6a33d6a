"""Change notifications (protocols.md A6): subscriptions with the validation handshake,
`clientState` echo, expiration cap and renewal, notifications POSTed to the subscriber, and
lifecycle notifications (triggered through `/_sim/subscriptions/{id}/lifecycle`).

Notifications carry no resource data (Syncline notifies, then runs delta). Delivery is retried a
few times on non-2xx answers; expired subscriptions deliver nothing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import secrets
import uuid
from dataclasses import dataclass
from typing import Any, Literal

import httpx
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from simulators.graph.errors import GraphError, bad_request, not_found
from simulators.graph.items import json_body
from simulators.graph.store import GraphStore, Item, Mailbox, utc_now

log = logging.getLogger(__name__)
_RESOURCE = re.compile(
    r"^/?users/(?P<user>[^/]+)/(?:(?P<events>events)|contactFolders/(?P<folder>[^/]+)/contacts|(?P<contacts>contacts))$",
    re.IGNORECASE,
)
VALIDATION_TIMEOUT_S = 10.0


@dataclass
class Subscription:
    id: str
    resource: str
    user_id: str
    kind: str
    folder_id: str | None
    change_types: set[str]
    notification_url: str
    lifecycle_url: str | None
    client_state: str | None
    expiration: dt.datetime
    application_id: str

    def to_graph(self) -> dict[str, Any]:
        return {
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#subscriptions/$entity",
            "id": self.id,
            "resource": self.resource,
            "applicationId": self.application_id,
            "changeType": ",".join(sorted(self.change_types)),
            "clientState": self.client_state,
            "notificationUrl": self.notification_url,
            "notificationQueryOptions": None,
            "lifecycleNotificationUrl": self.lifecycle_url,
            "expirationDateTime": _ts(self.expiration),
            "creatorId": self.application_id,
            "includeResourceData": False,
            "latestSupportedTlsVersion": "v1_2",
            "encryptionCertificate": None,
            "encryptionCertificateId": None,
            "notificationUrlAppId": None,
            "notificationContentType": None,
        }

    def matches(self, mailbox: Mailbox, item: Item, change_type: str) -> bool:
        if mailbox.user_id != self.user_id or change_type not in self.change_types:
            return False
        if item.kind != self.kind or self.expiration <= utc_now():
            return False
        return self.folder_id is None or item.data.get("parentFolderId") == self.folder_id


def _ts(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


class LifecycleRequest(BaseModel):
    event: Literal["missed", "subscriptionRemoved", "reauthorizationRequired"]


class Notifier:
    """Subscriptions of one simulator and the delivery of their notifications."""

    def __init__(self, store: GraphStore, verify: Any = False) -> None:
        self.store = store
        self.subscriptions: dict[str, Subscription] = {}
        self.delivered: list[dict[str, Any]] = []
        self._http = httpx.AsyncClient(verify=verify, timeout=VALIDATION_TIMEOUT_S)
        self._tasks: set[asyncio.Task[None]] = set()

    def on_change(self, mailbox: Mailbox, item: Item, change_type: str) -> None:
        for sub in list(self.subscriptions.values()):
            if sub.matches(mailbox, item, change_type):
                self._spawn(self._deliver(sub, item, change_type))

    def _spawn(self, coro: Any) -> None:
        try:
            task = asyncio.get_running_loop().create_task(coro)
        except RuntimeError:  # no loop (start-up seeding): nothing can be subscribed yet
            coro.close()
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _post(self, url: str, body: dict[str, Any]) -> bool:
        for attempt in range(3):
            try:
                response = await self._http.post(url, json=body)
                if response.is_success:
                    return True
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2 * 2**attempt)
        return False

    async def _deliver(self, sub: Subscription, item: Item, change_type: str) -> None:
        kind = "Events" if item.kind == "event" else "Contacts"
        notification = {
            "id": secrets.token_urlsafe(12),
            "subscriptionId": sub.id,
            "subscriptionExpirationDateTime": _ts(sub.expiration),
            "clientState": sub.client_state,
            "changeType": change_type,
            "tenantId": self.store.tenant_id,
            "resource": f"Users/{sub.user_id}/{kind}/{item.id}",
            "resourceData": {
                "@odata.type": f"#Microsoft.Graph.{kind[:-1]}",
                "@odata.id": f"Users/{sub.user_id}/{kind}/{item.id}",
                "@odata.etag": f'W/"{item.change_key}"',
                "id": item.id,
            },
        }
        if await self._post(sub.notification_url, {"value": [notification]}):
            self.delivered.append(notification)

    async def lifecycle(self, sub: Subscription, event: str) -> bool:
        if not sub.lifecycle_url:
            return False
        body = {
            "value": [
                {
                    "subscriptionId": sub.id,
                    "subscriptionExpirationDateTime": _ts(sub.expiration),
                    "tenantId": self.store.tenant_id,
                    "clientState": sub.client_state,
                    "lifecycleEvent": event,
                }
            ]
        }
        if event == "subscriptionRemoved":
            self.subscriptions.pop(sub.id, None)
        return await self._post(sub.lifecycle_url, body)

    async def validate(self, url: str) -> bool:
        """The handshake: the endpoint must echo the decoded token as text/plain within 10 s."""
        token = f"Validation: Testing client application reachability {secrets.token_hex(8)}"
        try:
            response = await self._http.post(
                url,
                params={"validationToken": token},
                headers={"Content-Type": "text/plain; charset=utf-8"},
            )
        except httpx.HTTPError:
            return False
        return response.status_code == 200 and response.text == token

    async def aclose(self) -> None:
        await self._http.aclose()


def _expiration(store: GraphStore, raw: Any) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError as exc:
        raise bad_request("Invalid expirationDateTime.") from exc
    moment = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    limit = store.settings.subscription_max_minutes
    if moment > utc_now() + dt.timedelta(minutes=limit):
        raise bad_request(f"Subscription expiration can only be {limit} minutes in the future.")
    if moment <= utc_now():
        raise bad_request("Subscription expiration must be in the future.")
    return moment


def build_router(notifier: Notifier) -> APIRouter:
    router = APIRouter(tags=["subscriptions"])
    store = notifier.store

    def find(sub_id: str) -> Subscription:
        sub = notifier.subscriptions.get(sub_id)
        if sub is None:
            raise not_found("The object was not found.")
        return sub

    @router.post("/v1.0/subscriptions", status_code=201)
    async def create(request: Request) -> Response:
        body = await json_body(request)
        match = _RESOURCE.match(str(body.get("resource", "")))
        if match is None:
            raise bad_request(f"Resource '{body.get('resource')}' is not supported.")
        user = store.find_user(match["user"])
        if user is None:
            raise GraphError(
                404, "ErrorInvalidUser", f"The requested user '{match['user']}' is invalid."
            )
        expiration = _expiration(store, body.get("expirationDateTime"))
        for url in (body.get("notificationUrl"), body.get("lifecycleNotificationUrl")):
            if url and not await notifier.validate(str(url)):
                raise bad_request(
                    "Subscription validation request failed. Notification endpoint must respond "
                    "with 200 OK to validation request.",
                    code="InvalidRequest",
                )
        if not body.get("notificationUrl"):
            raise bad_request("notificationUrl is required.")
        sub = Subscription(
            id=str(uuid.uuid4()),
            resource=str(body["resource"]),
            user_id=user.id,
            kind="event" if match["events"] else "contact",
            folder_id=match["folder"],
            change_types={
                c.strip() for c in str(body.get("changeType", "")).split(",") if c.strip()
            },
            notification_url=str(body["notificationUrl"]),
            lifecycle_url=body.get("lifecycleNotificationUrl"),
            client_state=body.get("clientState"),
            expiration=expiration,
            application_id=str(getattr(request.state, "client_id", "")),
        )
        notifier.subscriptions[sub.id] = sub
        return JSONResponse(sub.to_graph(), status_code=201)

    @router.get("/v1.0/subscriptions")
    async def list_subscriptions() -> Response:
        return JSONResponse({"value": [s.to_graph() for s in notifier.subscriptions.values()]})

    @router.get("/v1.0/subscriptions/{sub_id}")
    async def get_subscription(sub_id: str) -> Response:
        return JSONResponse(find(sub_id).to_graph())

    @router.patch("/v1.0/subscriptions/{sub_id}")
    async def renew(request: Request, sub_id: str) -> Response:
        sub = find(sub_id)
        body = await json_body(request)
        sub.expiration = _expiration(store, body.get("expirationDateTime"))
        return JSONResponse(sub.to_graph())

    @router.delete("/v1.0/subscriptions/{sub_id}", status_code=204)
    async def delete(sub_id: str) -> Response:
        notifier.subscriptions.pop(find(sub_id).id)
        return Response(status_code=204)

    @router.post("/v1.0/subscriptions/{sub_id}/reauthorize")
    async def reauthorize(sub_id: str) -> Response:
        find(sub_id)
        return Response(status_code=200)

    @router.post("/_sim/subscriptions/{sub_id}/lifecycle")
    async def trigger_lifecycle(sub_id: str, body: LifecycleRequest) -> dict[str, Any]:
        return {"delivered": await notifier.lifecycle(find(sub_id), body.event)}

    @router.get("/_sim/notifications")
    async def delivered() -> dict[str, Any]:
        return {"value": notifier.delivered}

    return router
