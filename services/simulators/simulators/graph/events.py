"""Events on the default calendar (protocols.md A4): CRUD with transactionId idempotency,
occurrences/exceptions, `/instances`, `calendarView`, and the messages Exchange would send."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from simulators.graph import odata
from simulators.graph.calendar import (
    calendar_view,
    occurrence_keys,
    parse_window,
    render_event,
    render_occurrence,
    split_occurrence_id,
)
from simulators.graph.errors import bad_request, not_found
from simulators.graph.items import (
    check_if_match,
    current_user,
    json_body,
    remove_item,
    take_ext,
    writable,
)
from simulators.graph.store import (
    Exception_,
    Item,
    Mailbox,
    SentMessage,
    User,
    graph_timestamp,
    new_id,
    utc_now,
)
from simulators.graph.times import normalize_recurrence, parse_dttz, windows_name

MEETING_FIELDS = {
    "start",
    "end",
    "location",
    "subject",
    "attendees",
    "body",
    "recurrence",
    "isAllDay",
}


def _record_sent(mailbox: Mailbox, kind: str, item_id: str, data: dict[str, Any]) -> None:
    """Exchange mails attendees when the organizer creates/changes/cancels a meeting (A4)."""
    to = [
        a["emailAddress"]["address"] for a in data.get("attendees") or [] if a.get("emailAddress")
    ]
    if to and data.get("isOrganizer", True):
        mailbox.sent.append(
            SentMessage(kind, item_id, data.get("subject"), to, graph_timestamp(utc_now()))
        )


def _normalize_times(data: dict[str, Any]) -> None:
    for side in ("start", "end"):
        if side not in data or data[side] is None:
            raise bad_request(
                f"Property '{side}' is required.", code="ErrorPropertyValidationFailure"
            )
    start, _ = parse_dttz(data["start"])
    end, _ = parse_dttz(data["end"])
    if end < start:
        raise bad_request("The start time must be before the end time.", code="ErrorInvalidRequest")
    if data.get("isAllDay") and (start.time() != end.time() or start.hour or start.minute):
        raise bad_request(
            "Your request can't be completed. All-day events must start and end at midnight.",
            code="ErrorPropertyValidationFailure",
        )
    data["originalStartTimeZone"] = windows_name(data["start"].get("timeZone") or "UTC")
    data["originalEndTimeZone"] = windows_name(data["end"].get("timeZone") or "UTC")


def _attendees(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "type": a.get("type", "required"),
            "status": a.get("status") or {"response": "none", "time": "0001-01-01T00:00:00Z"},
            "emailAddress": a.get("emailAddress") or {},
        }
        for a in raw
    ]


def create_event(user: User, body: dict[str, Any]) -> tuple[Item, bool]:
    """Create (or, for a repeated transactionId, return the first) event. -> (item, created)."""
    mailbox = user.mailbox
    txn = body.get("transactionId")
    if txn and txn in mailbox.transactions and mailbox.transactions[txn] in mailbox.events:
        return mailbox.events[mailbox.transactions[txn]], False
    item = Item(id=new_id(), data={}, kind="event")
    take_ext(item, body)
    data = writable(body)
    _normalize_times(data)
    if data.get("recurrence"):
        data["recurrence"] = normalize_recurrence(data["recurrence"])
        data["type"] = "seriesMaster"
    else:
        data["type"] = "singleInstance"
    data["attendees"] = _attendees(data.get("attendees") or [])
    data["organizer"] = {"emailAddress": {"name": user.display_name, "address": user.mail}}
    data["isOrganizer"] = True
    data["iCalUId"] = "040000008200E00074C5B7101A82E008" + secrets.token_hex(28).upper()
    data["uid"] = data["iCalUId"]
    if isinstance(data.get("location"), dict):
        data["locations"] = [data["location"]] if data["location"].get("displayName") else []
    data["webLink"] = (
        f"https://outlook.office365.com/owa/?itemid={item.id}&exvsurl=1&path=/calendar/item"
    )
    item.data = data
    mailbox.touch(item)
    mailbox.events[item.id] = item
    if txn:
        mailbox.transactions[txn] = item.id
    _record_sent(mailbox, "invitation", item.id, data)
    return item, True


def update_event(mailbox: Mailbox, item: Item, body: dict[str, Any]) -> None:
    take_ext(item, body)
    changes = writable(body)
    changes.pop("transactionId", None)  # cannot be changed later (A4)
    changes.pop("type", None)
    if "attendees" in changes:
        changes["attendees"] = _attendees(changes["attendees"] or [])
    merged = {**item.data, **changes}
    if "recurrence" in changes and item.data.get("type") == "seriesMaster":
        if changes["recurrence"]:
            merged["recurrence"] = normalize_recurrence(changes["recurrence"])
        # Exchange drops a series' exceptions when its pattern changes.
        item.exceptions.clear()
        item.cancelled.clear()
    if {"start", "end", "isAllDay"} & changes.keys():
        _normalize_times(merged)
    item.data = merged
    mailbox.touch(item)
    if MEETING_FIELDS & changes.keys():
        _record_sent(mailbox, "update", item.id, merged)


def _master_and_key(mailbox: Mailbox, event_id: str) -> tuple[Item, str | None]:
    master_id, key = split_occurrence_id(event_id)
    item = mailbox.events.get(master_id)
    if item is None:
        raise not_found()
    if key is not None and (item.data.get("type") != "seriesMaster" or key in item.cancelled):
        raise not_found()
    return item, key


def build_router() -> APIRouter:
    router = APIRouter(prefix="/v1.0/users/{user_id}", tags=["events"])

    def ctx(request: Request, what: str) -> str:
        return odata.context_url(request, f"users('{request.path_params['user_id']}')/{what}")

    @router.get("/calendar")
    async def default_calendar(request: Request) -> Response:
        user = current_user(request)
        return JSONResponse(
            {
                "id": user.mailbox.calendar_id,
                "name": "Calendar",
                "color": "auto",
                "isDefaultCalendar": True,
                "canEdit": True,
                "owner": {"name": user.display_name, "address": user.mail},
            }
        )

    @router.get("/mailboxSettings")
    async def mailbox_settings(request: Request) -> Response:
        user = current_user(request)
        return JSONResponse({"timeZone": user.mailbox.time_zone, "language": {"locale": "en-US"}})

    async def list_events(request: Request) -> Response:
        mailbox = current_user(request).mailbox
        view, flt = odata.view_of(request), odata.parse_filter(request)
        rendered = [render_event(e, view) for e in mailbox.events.values() if flt.matches(e)]
        return odata.page(request, rendered, view, ctx(request, "events"))

    async def post_event(request: Request) -> Response:
        user = current_user(request)
        item, _ = create_event(user, await json_body(request))
        view = odata.view_of(request)
        return JSONResponse(render_event(item, view), status_code=201, headers=view.headers())

    async def get_event(request: Request, event_id: str) -> Response:
        item, key = _master_and_key(current_user(request).mailbox, event_id)
        view = odata.view_of(request)
        body = render_occurrence(item, key, view) if key else render_event(item, view)
        return JSONResponse(body, headers=view.headers())

    async def patch_event(request: Request, event_id: str) -> Response:
        mailbox = current_user(request).mailbox
        item, key = _master_and_key(mailbox, event_id)
        view = odata.view_of(request)
        body = await json_body(request)
        if key is None:
            check_if_match(request, item.change_key)
            update_event(mailbox, item, body)
            return JSONResponse(render_event(item, view), headers=view.headers())
        # Editing an occurrence makes it an exception of its series (A4).
        existing = item.exceptions.get(key)
        check_if_match(request, existing.change_key if existing else item.change_key)
        changes = writable(body)
        for name in ("recurrence", "transactionId", "type"):
            changes.pop(name, None)
        overrides = {**(existing.overrides if existing else {}), **changes}
        item.exceptions[key] = Exception_(overrides=overrides)
        # The master changes too (its exception list), so its occurrences get a new changeKey.
        mailbox.touch(item)
        return JSONResponse(render_occurrence(item, key, view), headers=view.headers())

    async def delete_event(request: Request, event_id: str) -> Response:
        mailbox = current_user(request).mailbox
        item, key = _master_and_key(mailbox, event_id)
        if key is None:
            check_if_match(request, item.change_key)
            remove_item(mailbox, mailbox.events, item.id)
            _record_sent(mailbox, "cancellation", item.id, item.data)
            return Response(status_code=204)
        existing = item.exceptions.pop(key, None)
        check_if_match(request, existing.change_key if existing else item.change_key)
        item.cancelled.add(key)
        mailbox.touch(item)
        return Response(status_code=204)

    for prefix in ("", "/calendar"):
        router.add_api_route(f"{prefix}/events", list_events, methods=["GET"])
        router.add_api_route(f"{prefix}/events", post_event, methods=["POST"], status_code=201)
        router.add_api_route(f"{prefix}/events/{{event_id}}", get_event, methods=["GET"])
        router.add_api_route(f"{prefix}/events/{{event_id}}", patch_event, methods=["PATCH"])
        router.add_api_route(
            f"{prefix}/events/{{event_id}}", delete_event, methods=["DELETE"], status_code=204
        )

    @router.post("/events/{event_id}/cancel", status_code=202)
    async def cancel_event(request: Request, event_id: str) -> Response:
        mailbox = current_user(request).mailbox
        item, _ = _master_and_key(mailbox, event_id)
        remove_item(mailbox, mailbox.events, item.id)
        _record_sent(mailbox, "cancellation", item.id, item.data)
        return Response(status_code=202)

    @router.get("/events/{event_id}/instances")
    async def instances(request: Request, event_id: str) -> Response:
        mailbox = current_user(request).mailbox
        q = odata.query(request)
        lo, hi = parse_window(q.get("startdatetime"), q.get("enddatetime"))
        item, key = _master_and_key(mailbox, event_id)
        view = odata.view_of(request)
        if key is not None or item.data.get("type") != "seriesMaster":
            rendered: list[dict[str, Any]] = []
        else:
            rendered = [render_occurrence(item, k, view) for k in occurrence_keys(item, lo, hi)]
        return odata.page(request, rendered, view, ctx(request, "instances"))

    async def view_range(request: Request) -> Response:
        mailbox = current_user(request).mailbox
        q = odata.query(request)
        lo, hi = parse_window(q.get("startdatetime"), q.get("enddatetime"))
        view = odata.view_of(request)
        return odata.page(
            request, calendar_view(mailbox, lo, hi, view), view, ctx(request, "calendarView")
        )

    for prefix in ("", "/calendar"):
        router.add_api_route(f"{prefix}/calendarView", view_range, methods=["GET"])

    return router
