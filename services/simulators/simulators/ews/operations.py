"""The EWS operations the simulator answers, each following its page of the EWS reference
(learn.microsoft.com/exchange/client-developer/web-service-reference/<operation>-operation):
ConvertId (exchangelib's version probe, B1), FindFolder, GetFolder, CreateFolder, SyncFolderItems,
GetItem, FindItem, CreateItem, UpdateItem, DeleteItem. Per-item failures are ResponseMessages with
ResponseClass="Error"; request-level failures are SOAP faults (soap.py)."""

from __future__ import annotations

from collections.abc import Callable

from lxml import etree

from simulators.ews import items as item_xml
from simulators.ews.context import Context, children, each
from simulators.ews.folders import create_folder, find_folder, get_folder, update_folder
from simulators.ews.soap import (
    Element,
    EwsFault,
    ItemError,
    error_message,
    local,
    m,
    response,
    success,
    t,
)
from simulators.ews.store import StoredItem
from simulators.ews.sync import changes_since, decode_state, encode_state

_INVITES = {"SendToNone", "SendOnlyToAll", "SendToAllAndSaveCopy"}
_UPDATE_INVITES = _INVITES | {"SendOnlyToChanged", "SendToChangedAndSaveCopy"}


def convert_id(ctx: Context, request: Element) -> bytes:
    ids = children(request.find(m("SourceIds")))
    error = ItemError("ErrorInvalidIdMalformed", "Id is malformed.")
    return response("ConvertId", [error_message("ConvertId", error) for _ in ids or [request]])


def sync_folder_items(ctx: Context, request: Element) -> bytes:
    shape = item_xml.Shape.parse(request.find(m("ItemShape")))
    ref = children(request.find(m("SyncFolderId")))
    if not ref:
        raise EwsFault("ErrorSchemaValidation", "SyncFolderItems needs a SyncFolderId.")
    try:
        wanted = int(request.findtext(m("MaxChangesReturned")) or "")
    except ValueError as exc:
        raise EwsFault("ErrorSchemaValidation", "MaxChangesReturned is required.") from exc
    if not 1 <= wanted <= ctx.store.max_changes_cap:
        raise EwsFault("ErrorSchemaValidation", "MaxChangesReturned must be between 1 and 512.")
    try:
        mailbox, folder = ctx.folder(ref[0])
        since = decode_state(ctx.store, folder, request.findtext(m("SyncState")))
    except ItemError as exc:
        msg = error_message("SyncFolderItems", exc)
        etree.SubElement(msg, m("SyncState"))
        etree.SubElement(msg, m("IncludesLastItemInRange")).text = "true"
        return response("SyncFolderItems", [msg])
    changes, seq, last = changes_since(mailbox, folder, since, wanted)
    msg = success("SyncFolderItems")
    etree.SubElement(msg, m("SyncState")).text = encode_state(ctx.store, folder, seq)
    etree.SubElement(msg, m("IncludesLastItemInRange")).text = "true" if last else "false"
    container = etree.SubElement(msg, m("Changes"))
    for change in changes:
        node = etree.SubElement(container, t(change.kind))
        if change.kind == "Delete":
            node.append(item_xml.item_id(change.item))
        else:
            exceptions = ctx.store.exceptions_of(mailbox, change.item)
            node.append(item_xml.render(change.item, shape, exceptions))
    return response("SyncFolderItems", [msg])


def get_item(ctx: Context, request: Element) -> bytes:
    shape = item_xml.Shape.parse(request.find(m("ItemShape")))

    def one(ref: Element) -> Element:
        _, item = ctx.item(ref)
        msg = success("GetItem")
        etree.SubElement(msg, m("Items")).append(
            item_xml.render(item, shape, ctx.store.exceptions_of(ctx.target(), item))
        )
        return msg

    return each("GetItem", children(request.find(m("ItemIds"))), one)


def _matches(item: StoredItem, restriction: Element | None) -> bool:
    """`IsEqualTo` on an extended property or a plain field; other restrictions match all."""
    equal = restriction.find(t("IsEqualTo")) if restriction is not None else None
    if equal is None:
        return True
    constant = equal.find(f"{t('FieldURIOrConstant')}/{t('Constant')}")
    wanted = constant.get("Value") if constant is not None else None
    uri = equal.find(t("ExtendedFieldURI"))
    if uri is not None:
        set_id, name, _ = item_xml.extended_key(uri)
        found = item.extended.get((set_id, name))
        return found is not None and found[1] == wanted
    field = equal.find(t("FieldURI"))
    if field is None:
        return True
    name = str(field.get("FieldURI")).split(":")[-1]
    return item.element.findtext(t(name)) == wanted


def find_item(ctx: Context, request: Element) -> bytes:
    """FindItem (findItem-operation.md): Shallow traversal, IsEqualTo restriction, paging."""
    shape = item_xml.Shape.parse(request.find(m("ItemShape")))
    view = request.find(m("IndexedPageItemView"))
    limit = int(view.get("MaxEntriesReturned") or 1000) if view is not None else 1000
    offset = int(view.get("Offset") or 0) if view is not None else 0
    restriction = request.find(m("Restriction"))

    def one(ref: Element) -> Element:
        mailbox, folder = ctx.folder(ref)
        found = [
            i
            for i in mailbox.items.values()
            if i.folder_id == folder.id
            and not i.deleted
            and not i.master_id
            and _matches(i, restriction)
        ]
        page = found[offset : offset + limit]
        msg = success("FindItem")
        last = offset + len(page) >= len(found)
        root = etree.SubElement(
            msg,
            m("RootFolder"),
            IndexedPagingOffset=str(offset + len(page)),
            TotalItemsInView=str(len(found)),
            IncludesLastItemInRange="true" if last else "false",
        )
        items = etree.SubElement(root, t("Items"))
        for item in page:
            items.append(item_xml.render(item, shape))
        return msg

    return each("FindItem", children(request.find(m("ParentFolderIds"))), one)


def _invitees(element: Element) -> list[str]:
    found = []
    for group in ("RequiredAttendees", "OptionalAttendees", "Resources"):
        for address in element.iterfind(
            f"{t(group)}/{t('Attendee')}/{t('Mailbox')}/{t('EmailAddress')}"
        ):
            found.append(address.text or "")
    return [a for a in found if a]


def create_item(ctx: Context, request: Element) -> bytes:
    invitations = request.get("SendMeetingInvitations")
    given = children(request.find(m("Items")))
    if any(local(g.tag) == "CalendarItem" for g in given) and invitations not in _INVITES:
        raise EwsFault(
            "ErrorSendMeetingInvitationsRequired",
            "The SendMeetingInvitations attribute is required for calendar items.",
        )
    target = children(request.find(m("SavedItemFolderId")))

    def one(element: Element) -> Element:
        kind = local(element.tag)
        if kind not in ("Contact", "CalendarItem"):
            raise ItemError("ErrorInvalidItemForOperationCreateItem", f"{kind} is not supported.")
        if target:
            mailbox, folder = ctx.folder(target[0])
        else:
            mailbox = ctx.target()
            default = mailbox.distinguished("contacts" if kind == "Contact" else "calendar")
            assert default is not None
            folder = default
        body, extended = item_xml.new_body(kind, element)
        item = ctx.store.add_item(mailbox, folder, kind, body)
        item.extended = extended
        if kind == "CalendarItem" and invitations != "SendToNone":
            for address in _invitees(body):
                mailbox.sent.append({"type": "invitation", "to": address, "item": item.id})
        msg = success("CreateItem")
        out = etree.SubElement(etree.SubElement(msg, m("Items")), t(kind))
        out.append(item_xml.item_id(item))
        return msg

    return each("CreateItem", given, one)


def update_item(ctx: Context, request: Element) -> bytes:
    resolution = request.get("ConflictResolution") or "AutoResolve"
    invitations = request.get("SendMeetingInvitationsOrCancellations")

    def one(change: Element) -> Element:
        ref = change.find(t("ItemId"))
        if ref is None:
            raise ItemError("ErrorInvalidIdEmpty", "The ItemId is missing.")
        mailbox, item = ctx.item(ref)
        if item.kind == "CalendarItem" and invitations not in _UPDATE_INVITES:
            raise ItemError(
                "ErrorSendMeetingInvitationsOrCancellationsRequired",
                "SendMeetingInvitationsOrCancellations is required for calendar items.",
            )
        given_key = ref.get("ChangeKey")
        # The simulator treats AutoResolve like NeverOverwrite: a stale ChangeKey is a conflict.
        if given_key and given_key != item.change_key and resolution != "AlwaysOverwrite":
            raise ItemError(
                "ErrorIrresolvableConflict",
                "The send or update operation could not be performed because the change key "
                "passed in the request does not match the current change key for the item.",
            )
        element = ctx.store.copy_element(item.element)
        extended = dict(item.extended)
        try:
            for update in children(change.find(t("Updates"))):
                item_xml.apply_change(item, update)
        except ItemError:
            item.element, item.extended = element, extended  # all or nothing per item
            raise
        ctx.store.touch(mailbox, item)
        master = mailbox.items.get(item.master_id) if item.master_id else None
        if master is not None:  # an exception changed: its series is what SyncFolderItems shows
            ctx.store.touch(mailbox, master)
        if item.kind == "CalendarItem" and invitations not in (None, "SendToNone"):
            for address in _invitees(item.element):
                mailbox.sent.append({"type": "update", "to": address, "item": item.id})
        msg = success("UpdateItem")
        out = etree.SubElement(etree.SubElement(msg, m("Items")), t(item.kind))
        out.append(item_xml.item_id(item))
        etree.SubElement(msg, m("ConflictResults")).append(etree.Element(t("Count")))
        msg[-1][0].text = "0"
        return msg

    return each("UpdateItem", children(request.find(m("ItemChanges"))), one)


def delete_item(ctx: Context, request: Element) -> bytes:
    cancellations = request.get("SendMeetingCancellations")

    def one(ref: Element) -> Element:
        mailbox, item = ctx.item(ref)
        if item.kind == "CalendarItem" and cancellations not in _INVITES:
            raise ItemError(
                "ErrorSendMeetingCancellationsRequired",
                "The SendMeetingCancellations attribute is required for calendar items.",
            )
        ctx.store.delete(mailbox, item)
        if item.kind == "CalendarItem" and cancellations != "SendToNone":
            for address in _invitees(item.element):
                mailbox.sent.append({"type": "cancellation", "to": address, "item": item.id})
        return success("DeleteItem")

    return each("DeleteItem", children(request.find(m("ItemIds"))), one)


OPERATIONS: dict[str, Callable[[Context, Element], bytes]] = {
    "ConvertId": convert_id,
    "GetFolder": get_folder,
    "FindFolder": find_folder,
    "CreateFolder": create_folder,
    "UpdateFolder": update_folder,
    "SyncFolderItems": sync_folder_items,
    "GetItem": get_item,
    "FindItem": find_item,
    "CreateItem": create_item,
    "UpdateItem": update_item,
    "DeleteItem": delete_item,
}
NEEDS_NO_MAILBOX = {"ConvertId"}
