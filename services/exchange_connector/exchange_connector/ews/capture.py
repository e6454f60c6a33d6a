"""Capture over EWS: SyncFolderItems rounds → normalized change events on `syncline.changes`.

Per mailbox and kind (the `Salesforce_Sync` contact folder, the calendar) a round calls
SyncFolderItems with the stored SyncState and `MaxChangesReturned` ≤ 512 (protocols.md B6) until
`IncludesLastItemInRange` is true. SyncFolderItems cannot return bodies, so each page's created
and updated items are read with a batched GetItem (AllProperties + our marker property).
Every page's change events are acked by the broker before its SyncState is saved in the core
`cursors` table (ARCHITECTURE.md, "Delivery guarantees"); a crash replays at most one page,
which is harmless because change-event ids are deterministic. No state → a snapshot (`op r`);
`ErrorInvalidSyncStateData` → the state is dropped and the folder re-read as a snapshot.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from ewsclient.client import EwsClient, raise_for_message
from ewsclient.soap import Element, el, m, t
from syncmodel.kinds import Kind, Op
from syncmodel.messages import ChangeEvent
from syncmodel.records import Contact, Event

from exchange_connector.errors import ExchangeError, SyncStateGone
from exchange_connector.ews.events import event_from_ews
from exchange_connector.ews.mapping import (
    contact_from_ews,
    item_id_of,
    marker_uri,
    modified_of,
    utc_of,
)
from exchange_connector.offsets import Cursor
from exchange_connector.transport import MailboxStream

log = logging.getLogger(__name__)
MAX_CHANGES = 512  # the SyncFolderItems ceiling (maxchangesreturned.md)
GET_ITEM_BATCH = 64
GET_ITEM_PARALLEL = 4
_ITEM_TAG = {Kind.CONTACT: "Contact", Kind.EVENT: "CalendarItem"}
_OPS = {"Create": Op.CREATE, "Update": Op.UPDATE, "Delete": Op.DELETE}


def cursor_scope(user: str) -> str:
    """SyncStates are kept apart from Graph deltaLinks (same `cursors` table): a mailbox that
    moves between transports (hybrid migration) re-baselines instead of misreading a cursor."""
    return f"ews:{user}"


def item_shape(base: str) -> Element:
    return el(
        m("ItemShape"),
        None,
        el(t("BaseShape"), text=base),
        el(t("AdditionalProperties"), None, marker_uri()),
    )


@dataclass
class EwsMailboxCapture(MailboxStream[EwsClient]):
    """Capture state and collaborators for one rostered mailbox served over EWS."""

    page_size: int = MAX_CHANGES

    @property
    def scope(self) -> str:
        return cursor_scope(self.user)

    def folder(self, kind: Kind) -> Element:
        if kind is Kind.EVENT:
            return el(t("DistinguishedFolderId"), {"Id": "calendar"})
        if self.folder_id is None:
            raise ExchangeError("NoSyncFolder", "the Salesforce_Sync folder is not known yet")
        return el(t("FolderId"), {"Id": self.folder_id})

    async def get_items(self, ids: list[str]) -> dict[str, Element]:
        """Full items by id (AllProperties + marker); ids gone meanwhile are left out.
        Batches run a few at a time: well under the per-user EWSMaxConcurrency budget (B5)."""
        gate = asyncio.Semaphore(GET_ITEM_PARALLEL)

        async def batch(chunk: list[str]) -> dict[str, Element]:
            request = el(
                m("GetItem"),
                None,
                item_shape("AllProperties"),
                el(m("ItemIds"), None, *(el(t("ItemId"), {"Id": i}) for i in chunk)),
            )
            async with gate:
                messages = await self.client.call(request, self.mailbox)
            found: dict[str, Element] = {}
            for item_id, message in zip(chunk, messages, strict=True):
                if message.findtext(m("ResponseCode")) == "ErrorItemNotFound":
                    continue  # deleted since the sync page; its Delete comes next round
                raise_for_message(message)
                items = message.find(m("Items"))
                if items is not None and len(items):
                    found[item_id] = items[0]
            return found

        chunks = [ids[i : i + GET_ITEM_BATCH] for i in range(0, len(ids), GET_ITEM_BATCH)]
        merged: dict[str, Element] = {}
        for part in await asyncio.gather(*(batch(c) for c in chunks)):
            merged.update(part)
        return merged

    def _record(self, kind: Kind, item: Element) -> Contact | Event:
        return contact_from_ews(item) if kind is Kind.CONTACT else event_from_ews(item)

    async def _exceptions(
        self, masters: dict[str, Element], snapshot: bool, cause: str | None
    ) -> list[ChangeEvent]:
        """A series' modified occurrences are items of their own that SyncFolderItems never
        reports (EWS reference `modifiedoccurrences.md`): read them through their master."""
        owner: dict[str, str] = {}
        for master_id, master in masters.items():
            path = f"{t('ModifiedOccurrences')}/{t('Occurrence')}/{t('ItemId')}"
            for node in master.iterfind(path):
                owner[str(node.get("Id"))] = master_id
        found = await self.get_items(list(owner))
        changes = []
        for item_id, item in found.items():
            _, version = item_id_of(item)
            created = utc_of(item.findtext(t("DateTimeCreated")))
            modified = modified_of(item)
            op = Op.READ if snapshot else Op.UPDATE
            if not snapshot and created and modified and (modified - created).total_seconds() < 1:
                op = Op.CREATE
            event = event_from_ews(item, series_master_id=owner[item_id])
            changes.append(self.change(Kind.EVENT, op, item_id, version, event, modified, cause))
        return changes

    async def sync_round(self, kind: Kind, state: str | None, cause: str | None) -> str:
        """Pages of SyncFolderItems until the last item in range; returns the final state."""
        snapshot = state is None
        while True:
            request = el(
                m("SyncFolderItems"),
                None,
                el(m("ItemShape"), None, el(t("BaseShape"), text="IdOnly")),
                el(m("SyncFolderId"), None, self.folder(kind)),
                *([el(m("SyncState"), text=state)] if state else []),
                el(m("MaxChangesReturned"), text=str(self.page_size)),
                el(m("SyncScope"), text="NormalItems"),
            )
            (message,) = await self.client.call(request, self.mailbox)
            raise_for_message(message)
            new_state = message.findtext(m("SyncState"))
            if not new_state:
                raise SyncStateGone("NoSyncState", "SyncFolderItems returned no SyncState")
            pending: list[tuple[Op, str, str | None]] = []
            changes = message.find(m("Changes"))
            for change in changes if changes is not None else []:
                op = _OPS.get(str(change.tag).rsplit("}", 1)[-1])
                node = change.find(t(_ITEM_TAG[kind])) if op is not Op.DELETE else change
                if op is None or node is None:
                    continue  # ReadFlagChange, or another item type (e.g. a distribution list)
                item_id, change_key = item_id_of(node)
                pending.append(
                    (Op.READ if snapshot and op is Op.CREATE else op, item_id, change_key)
                )
            items = await self.get_items([i for op, i, _ in pending if op is not Op.DELETE])
            events = []
            for op, item_id, _ in pending:
                if op is Op.DELETE:
                    events.append(self.change(kind, op, item_id, None, None, None, cause))
                elif item_id in items:
                    item = items[item_id]
                    _, version = item_id_of(item)
                    events.append(
                        self.change(
                            kind,
                            op,
                            item_id,
                            version,
                            self._record(kind, item),
                            modified_of(item),
                            cause,
                        )
                    )
            if kind is Kind.EVENT:
                events += await self._exceptions(items, snapshot, cause)
            await self.publish(events)
            await self.cursors.put(self.tenant, self.scope, kind, Cursor(new_state))
            state = new_state
            if message.findtext(m("IncludesLastItemInRange")) != "false":
                return state


async def ews_capture_pass(capture: EwsMailboxCapture, kind: Kind) -> int:
    """One pass for a mailbox and kind; returns how many change events it published."""
    before = capture.published
    cursor = await capture.cursors.get(capture.tenant, capture.scope, kind)
    try:
        if cursor is None:
            await capture.sync_round(kind, None, "snapshot")
        else:
            await capture.sync_round(kind, cursor.delta_link, None)
    except SyncStateGone:
        log.warning(
            "SyncState invalid; re-baselining",
            extra={"tenant": capture.tenant, "user": capture.user, "kind": kind.value},
        )
        await capture.cursors.delete(capture.tenant, capture.scope, kind)
        await capture.sync_round(kind, None, "rebaseline")
    capture.last_capture[kind] = capture.now()
    return capture.published - before
