"""The simulator's own `/_sim/` API (never used by product code paths, only by tests and tools):
state inspection, seeding, demo credentials, delta invalidation, token revocation, settings."""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from simulators.common.tls import ServerTLS
from simulators.graph import odata
from simulators.graph.auth import TokenBook
from simulators.graph.calendar import render_event
from simulators.graph.contacts import render_contact, render_folder
from simulators.graph.delta import DeltaBook
from simulators.graph.errors import not_found
from simulators.graph.gate import Throttle
from simulators.graph.seed import SYNC_FOLDER, DemoCertificate, add_sync_folder, seed
from simulators.graph.store import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, GraphStore, User


class SeedRequest(BaseModel):
    seed: int = 1
    reps: int = Field(default=3, ge=1, le=6)
    contacts: int = Field(default=10, ge=0, le=5000)
    events: int = Field(default=8, ge=0, le=5000)


class UserRequest(BaseModel):
    upn: str
    given_name: str = "Test"
    surname: str = "Rep"
    time_zone: str = "Pacific Standard Time"
    sync_folder: bool = True
    allowed: bool = True


class ConfigRequest(BaseModel):
    concurrency_limit: int | None = Field(default=None, ge=1)
    budget_per_window: int | None = Field(default=None, ge=1)
    budget_window_s: float | None = Field(default=None, gt=0)
    token_lifetime_s: tuple[int, int] | None = None
    default_page_size: int | None = Field(default=None, ge=1)
    throttle_retry_after_s: int | None = Field(default=None, ge=0)
    request_latency_ms: float | None = Field(default=None, ge=0)
    subscription_max_minutes: int | None = Field(default=None, ge=1)
    delta_empty_first_page: bool | None = None
    delta_replay: bool | None = None
    denied_mailboxes: list[str] | None = Field(
        default=None, description="UPNs the demo app's access policy excludes."
    )


class InvalidateRequest(BaseModel):
    user: str | None = None
    mode: Literal["syncStateNotFound", "location"] = "syncStateNotFound"


def _user_state(user: User) -> dict[str, Any]:
    view = odata.View(expand_ext="*")
    mailbox = user.mailbox
    return {
        "id": user.id,
        "userPrincipalName": user.user_principal_name,
        "contactsFolderId": mailbox.contacts_folder_id,
        "contactFolders": [render_folder(f, view) for f in mailbox.folders.values()],
        "contacts": [render_contact(c, view) for c in mailbox.contacts.values()],
        "events": [
            {
                **render_event(e, view),
                "_cancelledOccurrences": sorted(e.cancelled),
                "_exceptions": sorted(e.exceptions),
            }
            for e in mailbox.events.values()
        ],
        "sentMessages": [dataclasses.asdict(m) for m in mailbox.sent],
    }


def build_router(
    store: GraphStore,
    book: TokenBook,
    deltas: DeltaBook,
    throttle: Throttle,
    certificate: DemoCertificate,
    tls: ServerTLS | None,
) -> APIRouter:
    router = APIRouter(prefix="/_sim", tags=["simulator control"])

    @router.get("/state")
    async def state(user: str | None = None) -> dict[str, Any]:
        if user is not None:
            found = store.find_user(user)
            if found is None:
                raise not_found("no such user")
            return {"users": [_user_state(found)]}
        return {
            "tenantId": store.tenant_id,
            "users": [_user_state(u) for u in store.users.values()],
        }

    @router.get("/contacts")
    async def find_contacts(surname_prefix: str) -> dict[str, Any]:
        """Contacts of every mailbox whose surname starts with the prefix (a cheap probe for
        tools that wait for many contacts at once; `/state` renders whole mailboxes)."""
        found = [
            {"user": user.user_principal_name, "id": item.id, "surname": surname}
            for user in store.users.values()
            for item in user.mailbox.contacts.values()
            if isinstance(surname := item.data.get("surname"), str)
            and surname.startswith(surname_prefix)
        ]
        return {"value": found}

    @router.post("/seed")
    async def post_seed(body: SeedRequest) -> dict[str, Any]:
        deltas.invalidate()
        throttle.reset()
        return seed(store, body.seed, body.reps, body.contacts, body.events)

    @router.post("/users", status_code=201)
    async def add_user(body: UserRequest) -> dict[str, Any]:
        user = store.add_user(body.upn, body.given_name, body.surname, body.time_zone)
        folder = add_sync_folder(user) if body.sync_folder else None
        for app in store.apps.values():
            if app.allowed_mailboxes is not None and body.allowed:
                app.allowed_mailboxes.add(user.id)
        return {
            "id": user.id,
            "upn": user.user_principal_name,
            "syncFolderId": folder.id if folder else None,
        }

    @router.get("/credentials")
    async def credentials(request: Request) -> dict[str, Any]:
        base = str(request.base_url).rstrip("/")
        allowed = store.apps[DEMO_CLIENT_ID].allowed_mailboxes
        return {
            "ca_certificate_pem": tls.ca_pem if tls else None,
            "tenant_id": store.tenant_id,
            "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET,
            "client_certificate_pem": certificate.certificate_pem,
            "client_private_key_pem": certificate.private_key_pem,
            "client_certificate_thumbprint": certificate.thumbprint_sha1,
            "authority": f"{base}/{store.tenant_id}",
            "graph_base_url": f"{base}/v1.0",
            "instance_discovery_url": f"{base}/common/discovery/instance",
            "scope": "https://graph.microsoft.com/.default",
            "sync_folder_name": SYNC_FOLDER,
            "mailboxes": [
                u.user_principal_name
                for u in store.users.values()
                if allowed is None or u.id in allowed
            ],
            "mailboxes_denied_by_policy": [
                u.user_principal_name
                for u in store.users.values()
                if allowed is not None and u.id not in allowed
            ],
        }

    @router.post("/invalidate-delta")
    async def invalidate(body: InvalidateRequest) -> dict[str, Any]:
        deltas.invalidation = body.mode
        user_id = None
        if body.user:
            found = store.find_user(body.user)
            if found is None:
                raise not_found("no such user")
            user_id = found.id
        return {"invalidated": deltas.invalidate(user_id)}

    @router.post("/revoke-tokens")
    async def revoke() -> dict[str, Any]:
        return {"revoked": book.revoke_all()}

    @router.post("/config")
    async def config(body: ConfigRequest) -> dict[str, Any]:
        changes = body.model_dump(exclude_none=True, exclude={"denied_mailboxes"})
        store.settings = dataclasses.replace(store.settings, **changes)
        if body.denied_mailboxes is not None:
            denied = {u.id for u in map(store.find_user, body.denied_mailboxes) if u}
            store.apps[DEMO_CLIENT_ID].allowed_mailboxes = {
                u for u in store.users if u not in denied
            }
        throttle.reset()
        return {**dataclasses.asdict(store.settings), "throttled_total": throttle.throttled}

    return router
