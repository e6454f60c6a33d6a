"""What contacts and events share: If-Match, extended properties in bodies, deletion bookkeeping."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from simulators.graph.errors import GraphError, bad_request
from simulators.graph.store import Item, Mailbox, User

READ_ONLY = {
    "id",
    "changeKey",
    "@odata.etag",
    "@odata.context",
    "@odata.type",
    "createdDateTime",
    "lastModifiedDateTime",
    "parentFolderId",
}


def etag(change_key: str) -> str:
    return f'W/"{change_key}"'


def current_user(request: Request) -> User:
    user: User = request.state.user
    return user


def check_if_match(request: Request, change_key: str) -> None:
    """`If-Match: W/"<changeKey>"` → 412 `ErrorIrresolvableConflict` on mismatch (A2)."""
    wanted = request.headers.get("if-match")
    if wanted is None or wanted.strip() == "*":
        return
    tag = wanted.strip().removeprefix("W/").strip('"')
    if tag != change_key:
        raise GraphError(
            412,
            "ErrorIrresolvableConflict",
            "The send or update operation could not be performed because the change key passed "
            "in the request does not match the current change key for the item.",
        )


async def json_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as exc:
        raise bad_request("Empty Payload. JSON content expected.", code="BadRequest") from exc
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.", code="BadRequest")
    return body


def take_ext(item_ext: Item, body: dict[str, Any]) -> None:
    """Move `singleValueExtendedProperties` from a request body onto the item (A11)."""
    props = body.pop("singleValueExtendedProperties", None) or []
    body.pop("multiValueExtendedProperties", None)
    for prop in props:
        if not isinstance(prop, dict) or "id" not in prop:
            raise bad_request("singleValueExtendedProperties entries need id and value.")
        item_ext.set_ext(str(prop["id"]), str(prop.get("value", "")))


def writable(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in READ_ONLY}


def remove_item(mailbox: Mailbox, store: dict[str, Item], item_id: str) -> None:
    item = store.pop(item_id)
    mailbox.changed(item, "deleted")
    if store is mailbox.events:
        mailbox.event_tombstones[item_id] = mailbox.next_seq()
