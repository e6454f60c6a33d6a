"""Apply over EWS: `syncline.commands.exchange` → CreateItem / UpdateItem / DeleteItem → one
`CommandOutcome` per command (EWS reference `createitem-operation-calendar-item.md`,
`updateitem-operation.md`, `deleteitem-operation.md`; protocols.md B7).

- Invitations: calendar writes say `SendToNone` (create, update) and deletes
  `SendMeetingCancellations=SendToNone`, and attendees are written only when the command allows
  Exchange to mail them (`notify_attendees`, LS-40); then `SendToAllAndSaveCopy`.
- Conditional writes: an update carries the ChangeKey the reconciler saw with
  `ConflictResolution=NeverOverwrite`; `ErrorIrresolvableConflict` is the outcome `conflict`,
  never a blind overwrite. A conditional delete first compares the ChangeKey (DeleteItem itself
  does not check it).
- Idempotent creates: every item we write carries our marker property (`link|command`), like
  the Graph transport; a redelivered create (per `exchange_create_attempts`) first looks for its
  first write with FindItem on that property, so a retry never makes a duplicate.
"""

from __future__ import annotations

import contextlib
from copy import deepcopy

from ewsclient.client import EwsClient, raise_for_message
from ewsclient.soap import Element, el, m, t
from syncmodel.kinds import Kind
from syncmodel.messages import Command, CommandAction
from syncmodel.records import Contact, Event

from exchange_connector.errors import (
    InvalidRequest,
    ItemNotFound,
    PreconditionFailed,
)
from exchange_connector.ews.capture import item_shape
from exchange_connector.ews.events import event_fields, event_from_ews
from exchange_connector.ews.mapping import (
    Field,
    contact_fields,
    contact_from_ews,
    item_for_create,
    item_id_of,
    marker_field,
    marker_uri,
    updates_for,
)
from exchange_connector.sink import CommandSink


def _item_tag(kind: Kind) -> str:
    return "Contact" if kind is Kind.CONTACT else "CalendarItem"


class EwsCommandSink(CommandSink[EwsClient]):
    """Commands as EWS CreateItem / UpdateItem / DeleteItem."""

    def _fields(self, command: Command) -> list[Field]:
        record = command.record
        if command.kind is Kind.CONTACT:
            if not isinstance(record, Contact):
                raise InvalidRequest("MissingRecord", "contact command without a contact")
            return contact_fields(record)
        if not isinstance(record, Event):
            raise InvalidRequest("MissingRecord", "event command without an event")
        return event_fields(record, include_attendees=command.notify_attendees)

    async def _apply(
        self, command: Command, mailbox: str, folder_id: str | None
    ) -> tuple[str | None, str | None, Contact | Event | None]:
        if command.kind not in (Kind.CONTACT, Kind.EVENT):
            raise InvalidRequest("UnsupportedKind", f"Exchange does not hold {command.kind.value}")
        if command.action is CommandAction.DELETE:
            return await self._delete(command, mailbox)
        fields = self._fields(command)
        marker = marker_field(command.link_id, command.id)
        if command.action is CommandAction.CREATE:
            item_id = await self._create(command, mailbox, folder_id, fields, marker)
        else:
            item_id = await self._update(command, mailbox, fields, marker)
        item = await self._read(item_id, mailbox)
        _, version = item_id_of(item)
        record: Contact | Event = (
            contact_from_ews(item) if command.kind is Kind.CONTACT else event_from_ews(item)
        )
        return item_id, version, record

    def _invitations(self, command: Command) -> str:
        return "SendToAllAndSaveCopy" if command.notify_attendees else "SendToNone"

    async def _single(self, request: Element, mailbox: str) -> Element:
        (message,) = await self.client.call(request, mailbox)
        raise_for_message(message)
        return message

    async def _create(
        self,
        command: Command,
        mailbox: str,
        folder_id: str | None,
        fields: list[Field],
        marker: Field,
    ) -> str:
        attrs = {"MessageDisposition": "SaveOnly"}
        if command.kind is Kind.EVENT:
            attrs["SendMeetingInvitations"] = self._invitations(command)
            folder = el(t("DistinguishedFolderId"), {"Id": "calendar"})
        else:
            if folder_id is None:
                raise InvalidRequest("NoSyncFolder", "the Salesforce_Sync folder is not known yet")
            folder = el(t("FolderId"), {"Id": folder_id})
        first = self.attempts is not None and await self.attempts.first_attempt(command.id)
        if not first:
            found = await self._find_marked(folder, f"{command.link_id}|{command.id}", mailbox)
            if found is not None:
                return found
        request = el(
            m("CreateItem"),
            attrs,
            el(m("SavedItemFolderId"), None, folder),
            el(m("Items"), None, item_for_create(_item_tag(command.kind), fields, marker)),
        )
        message = await self._single(request, mailbox)
        node = message.find(f"{m('Items')}/*/{t('ItemId')}")
        if node is None:
            raise InvalidRequest("NoItemId", "CreateItem answered without an ItemId")
        return str(node.get("Id"))

    async def _update(
        self, command: Command, mailbox: str, fields: list[Field], marker: Field
    ) -> str:
        if not command.record_id:
            raise InvalidRequest("MissingRecordId", "update without a target id")
        item_ref = {"Id": command.record_id}
        attrs = {"MessageDisposition": "SaveOnly", "ConflictResolution": "AlwaysOverwrite"}
        if command.if_version:
            item_ref["ChangeKey"] = command.if_version
            attrs["ConflictResolution"] = "NeverOverwrite"
        if command.kind is Kind.EVENT:
            attrs["SendMeetingInvitationsOrCancellations"] = self._invitations(command)
        tag = _item_tag(command.kind)
        change = el(
            t("ItemChange"), None, el(t("ItemId"), item_ref), updates_for(tag, [*fields, marker])
        )
        request = el(m("UpdateItem"), attrs, el(m("ItemChanges"), None, change))
        await self._single(request, mailbox)
        return command.record_id

    async def _find_marked(self, folder: Element, marker: str, mailbox: str) -> str | None:
        """The item in `folder` carrying exactly this marker value, if any (FindItem)."""
        restriction = el(
            m("Restriction"),
            None,
            el(
                t("IsEqualTo"),
                None,
                marker_uri(),
                el(t("FieldURIOrConstant"), None, el(t("Constant"), {"Value": marker})),
            ),
        )
        request = el(
            m("FindItem"),
            {"Traversal": "Shallow"},
            el(m("ItemShape"), None, el(t("BaseShape"), text="IdOnly")),
            el(
                m("IndexedPageItemView"),
                {"MaxEntriesReturned": "1", "Offset": "0", "BasePoint": "Beginning"},
            ),
            restriction,
            el(m("ParentFolderIds"), None, deepcopy(folder)),
        )
        message = await self._single(request, mailbox)
        node = message.find(f".//{t('Items')}/*/{t('ItemId')}")
        return str(node.get("Id")) if node is not None else None

    async def _read(self, item_id: str, mailbox: str) -> Element:
        request = el(
            m("GetItem"),
            None,
            item_shape("AllProperties"),
            el(m("ItemIds"), None, el(t("ItemId"), {"Id": item_id})),
        )
        message = await self._single(request, mailbox)
        items = message.find(m("Items"))
        if items is None or not len(items):
            raise ItemNotFound("ErrorItemNotFound", "GetItem answered without the item")
        return items[0]

    async def _delete(self, command: Command, mailbox: str) -> tuple[str | None, None, None]:
        if not command.record_id:
            raise InvalidRequest("MissingRecordId", "delete without a target id")
        with contextlib.suppress(ItemNotFound):  # already gone: the delete's goal holds
            if command.if_version:
                _, current = item_id_of(await self._read(command.record_id, mailbox))
                if current != command.if_version:
                    raise PreconditionFailed(
                        "ErrorIrresolvableConflict", "the item changed since the command's version"
                    )
            attrs = {
                "DeleteType": "MoveToDeletedItems",
                "AffectedTaskOccurrences": "AllOccurrences",
            }
            if command.kind is Kind.EVENT:
                attrs["SendMeetingCancellations"] = self._invitations(command)
            request = el(
                m("DeleteItem"),
                attrs,
                el(m("ItemIds"), None, el(t("ItemId"), {"Id": command.record_id})),
            )
            await self._single(request, mailbox)
        return command.record_id, None, None
