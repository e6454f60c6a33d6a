"""Delta queries (protocols.md A5): contacts per folder and `calendarView/delta` in a window.

Like Exchange, the simulator keeps the sync state server-side: a round remembers which items
(id → changeKey) it has reported, and the next round reports the difference: new or changed items
as full objects, vanished ones as `@removed` (reason `deleted`). For calendarView, items changed
or deleted *outside* the window since the last round are also reported as `@removed`, as Graph
does (clients must filter by window). Tokens are opaque; `/_sim/invalidate-delta` evicts them so
the next use answers `410 Gone` `SyncStateNotFound` (or, in `location` mode, a bare 410 with a
`Location` header holding a fresh initial URL).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from simulators.graph import odata
from simulators.graph.calendar import calendar_view, parse_window, span_of
from simulators.graph.contacts import folder_or_404, render_contact
from simulators.graph.errors import GraphError
from simulators.graph.items import current_user
from simulators.graph.store import GraphStore, Mailbox

DeltaKind = Literal["contacts", "events"]
_MAX_STATES = 200_000
DELTA_SUFFIXES = ("delta", "delta()", "microsoft.graph.delta")


@dataclass
class SyncState:
    """What one completed round reported; the deltaLink's server-side half."""

    user_id: str
    kind: DeltaKind
    folder_id: str | None
    window: tuple[dt.datetime, dt.datetime] | None
    known: dict[str, str]
    seq: int
    select: set[str] | None
    initial_path: str


@dataclass
class PendingRound:
    """A round being paged through: the rest of its items, then the state to save."""

    state: SyncState
    items: list[dict[str, Any]] = field(default_factory=list)
    pages_served: int = 0


class DeltaBook:
    def __init__(self) -> None:
        self.states: OrderedDict[str, SyncState | PendingRound] = OrderedDict()
        self.invalidation: Literal["syncStateNotFound", "location"] = "syncStateNotFound"
        self.evicted: dict[str, str] = {}

    def put(self, value: SyncState | PendingRound) -> str:
        token = secrets.token_urlsafe(24)
        self.states[token] = value
        while len(self.states) > _MAX_STATES:
            self.states.popitem(last=False)
        return token

    def invalidate(self, user_id: str | None = None) -> int:
        doomed = [
            token
            for token, value in self.states.items()
            if user_id is None
            or (value.state if isinstance(value, PendingRound) else value).user_id == user_id
        ]
        for token in doomed:
            value = self.states.pop(token)
            # Remembered so the `location` variant can point at a fresh initial request.
            self.evicted[token] = (
                value.state if isinstance(value, PendingRound) else value
            ).initial_path
        return len(doomed)


def _current(mailbox: Mailbox, state: SyncState, view: odata.View) -> dict[str, dict[str, Any]]:
    if state.kind == "contacts":
        view = dataclasses.replace(view, select=None)  # changeKey is needed to diff
        return {
            c.id: render_contact(c, view)
            for c in mailbox.contacts.values()
            if c.data["parentFolderId"] == state.folder_id
        }
    assert state.window is not None
    rendered = calendar_view(mailbox, *state.window, view)
    return {body["id"]: {"@odata.type": "#microsoft.graph.event", **body} for body in rendered}


def _removed(item_id: str) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.event",
        "id": item_id,
        "@removed": {"reason": "deleted"},
    }


def _outside_window(mailbox: Mailbox, prev: SyncState, current: dict[str, Any]) -> list[str]:
    """Masters/singles changed or deleted since the last round that are not in the window."""
    assert prev.window is not None
    ids: list[str] = []
    for item in mailbox.events.values():
        if item.seq <= prev.seq or item.id in current or item.id in prev.known:
            continue
        if item.data.get("type") == "seriesMaster":
            if any(k.startswith(f"{item.id}-") for k in current):
                continue
        elif span_of(item.data).overlaps(*prev.window):
            continue
        ids.append(item.id)
    ids += [
        i for i, seq in mailbox.event_tombstones.items() if seq > prev.seq and i not in prev.known
    ]
    return ids


def run_round(mailbox: Mailbox, prev: SyncState, view: odata.View) -> PendingRound:
    current = _current(mailbox, prev, view)
    changes = [
        body for item_id, body in current.items() if prev.known.get(item_id) != body["changeKey"]
    ]
    if prev.kind == "contacts":
        # Contact delta pages carry only the selected properties plus id (A5).
        changes = [odata.apply_select(body, prev.select) for body in changes]
    changes += [_removed(i) for i in prev.known if i not in current]
    if prev.kind == "events" and prev.seq:
        changes += [_removed(i) for i in _outside_window(mailbox, prev, current)]
    nxt = SyncState(
        prev.user_id,
        prev.kind,
        prev.folder_id,
        prev.window,
        {item_id: body["changeKey"] for item_id, body in current.items()},
        mailbox.next_seq(),
        prev.select,
        prev.initial_path,
    )
    return PendingRound(nxt, changes)


def _initial_path(found: SyncState | PendingRound | None) -> str | None:
    if found is None:
        return None
    return (found.state if isinstance(found, PendingRound) else found).initial_path


def _gone(book: DeltaBook, request: Request, initial_path: str | None) -> GraphError:
    if book.invalidation == "location" and initial_path:
        location = f"{str(request.base_url).rstrip('/')}{initial_path}"
        return GraphError(410, "resyncRequired", "Resync required.", headers={"Location": location})
    return GraphError(
        410,
        "SyncStateNotFound",
        "The sync state generation is not found; generation=149;[highest=157][157][155][156].",
    )


def respond(
    request: Request, book: DeltaBook, store: GraphStore, pending: PendingRound, view: odata.View
) -> Response:
    settings = store.settings
    size = view.page_size or settings.default_page_size
    if pending.pages_served == 0 and settings.delta_replay and pending.items:
        pending.items.append(pending.items[0])
    if pending.pages_served == 0 and settings.delta_empty_first_page:
        chunk: list[dict[str, Any]] = []
    else:
        chunk, pending.items = pending.items[:size], pending.items[size:]
    pending.pages_served += 1
    base = f"{str(request.base_url).rstrip('/')}{request.url.path}"
    body: dict[str, Any] = {
        "@odata.context": odata.context_url(request, "Collection(event)")
        if pending.state.kind == "events"
        else odata.context_url(request, "Collection(contact)"),
        "value": chunk,
    }
    if pending.items or (pending.pages_served == 1 and settings.delta_empty_first_page):
        body["@odata.nextLink"] = f"{base}?{urlencode({'$skiptoken': book.put(pending)}, safe='$')}"
    else:
        body["@odata.deltaLink"] = (
            f"{base}?{urlencode({'$deltatoken': book.put(pending.state)}, safe='$')}"
        )
    headers = view.headers()
    headers["Preference-Applied"] = ", ".join([*view.applied, "odata.track-changes"])
    return JSONResponse(body, headers=headers)


def build_router(book: DeltaBook, store: GraphStore) -> APIRouter:
    router = APIRouter(prefix="/v1.0/users/{user_id}", tags=["delta"])

    async def delta(request: Request, kind: DeltaKind, folder_id: str | None) -> Response:
        user = current_user(request)
        view = odata.view_of(request)
        q = odata.query(request)
        if "$skiptoken" in q:
            found = book.states.pop(q["$skiptoken"], None)
            if not isinstance(found, PendingRound) or found.state.user_id != user.id:
                raise _gone(book, request, _initial_path(found))
            return respond(request, book, store, found, view)
        if q.get("$deltatoken"):
            prev = book.states.get(q["$deltatoken"])
            if not isinstance(prev, SyncState) or prev.user_id != user.id:
                raise _gone(book, request, book.evicted.get(q["$deltatoken"]))
            return respond(request, book, store, run_round(user.mailbox, prev, view), view)
        window = None
        if kind == "events":
            window = parse_window(q.get("startdatetime"), q.get("enddatetime"))
        initial = f"{request.url.path}?{request.url.query}"
        first = SyncState(user.id, kind, folder_id, window, {}, 0, view.select, initial)
        return respond(request, book, store, run_round(user.mailbox, first, view), view)

    async def contacts_default(request: Request) -> Response:
        return await delta(request, "contacts", current_user(request).mailbox.contacts_folder_id)

    async def contacts_in_folder(request: Request, folder_id: str) -> Response:
        return await delta(
            request, "contacts", folder_or_404(current_user(request).mailbox, folder_id)
        )

    async def events_window(request: Request) -> Response:
        return await delta(request, "events", None)

    for suffix in DELTA_SUFFIXES:
        router.add_api_route(f"/contacts/{suffix}", contacts_default, methods=["GET"])
        router.add_api_route(
            f"/contactFolders/{{folder_id}}/contacts/{suffix}", contacts_in_folder, methods=["GET"]
        )
        router.add_api_route(f"/calendarView/{suffix}", events_window, methods=["GET"])
        router.add_api_route(f"/calendar/calendarView/{suffix}", events_window, methods=["GET"])
    return router
