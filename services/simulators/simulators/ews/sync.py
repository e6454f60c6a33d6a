"""SyncFolderItems: SyncState tokens and the changes since one (EWS reference
`syncfolderitems-operation.md`, `maxchangesreturned.md`; protocols.md B6).

A SyncState encodes (server epoch, folder id, mailbox change sequence). The changes since a state
are computed per item from its creation and last-change sequence: created after the state and
alive → `Create`; created before and changed → `Update`; created before and deleted → `Delete`;
created and deleted in between → nothing. At most `MaxChangesReturned` (≤ 512) per call, oldest
change first; `IncludesLastItemInRange` is false while more remain.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from simulators.ews.soap import ItemError
from simulators.ews.store import EwsStore, Folder, Mailbox, StoredItem


@dataclass(frozen=True)
class Change:
    kind: str  # "Create" | "Update" | "Delete"
    item: StoredItem


def encode_state(store: EwsStore, folder: Folder, seq: int) -> str:
    raw = json.dumps({"e": store.epoch, "f": folder.id, "s": seq}).encode()
    return base64.b64encode(b"SYNC" + raw).decode()


def decode_state(store: EwsStore, folder: Folder, state: str | None) -> int:
    """The sequence a state stands for (0 for none); a foreign one → ErrorInvalidSyncStateData."""
    if not state:
        return 0
    try:
        raw = base64.b64decode(state, validate=True)
        if not raw.startswith(b"SYNC"):
            raise ValueError("not a sync state")
        data = json.loads(raw[4:])
        valid = data["e"] == store.epoch and data["f"] == folder.id
        seq = int(data["s"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        valid, seq = False, 0
    if not valid:
        raise ItemError(
            "ErrorInvalidSyncStateData",
            "Synchronization state data is corrupt or otherwise invalid.",
        )
    return seq


def changes_since(
    mailbox: Mailbox, folder: Folder, since: int, limit: int
) -> tuple[list[Change], int, bool]:
    """(changes, the sequence the next state stands for, includes last item in range)."""
    pending: list[Change] = []
    for item in sorted(mailbox.items.values(), key=lambda i: i.changed_seq):
        if item.folder_id != folder.id or item.changed_seq <= since or item.master_id:
            continue
        if item.created_seq > since:
            if not item.deleted:
                pending.append(Change("Create", item))
        elif item.deleted:
            pending.append(Change("Delete", item))
        else:
            pending.append(Change("Update", item))
    if len(pending) <= limit:
        return pending, mailbox.seq, True
    page = pending[:limit]
    return page, page[-1].item.changed_seq, False
