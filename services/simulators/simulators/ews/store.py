"""The EWS simulator's state: mailboxes with folders and items, the service account and its
impersonation rights (ApplicationImpersonation scoped per mailbox, protocols.md B4).

Items are kept as the `t:Contact` / `t:CalendarItem` XML the client wrote (minus server-owned
fields), so whatever a client sets is read back unchanged. Every write bumps a per-mailbox change
sequence; SyncFolderItems states are positions in that sequence (sync.py).
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import threading
import uuid
from dataclasses import dataclass, field

from lxml import etree

from simulators.ews.soap import Element

SERVICE_ACCOUNT = "CONTOSO\\svc-syncline"
SERVICE_PASSWORD = "Sync-Sim-2026!"
SYNC_FOLDER = "Salesforce_Sync"
MARKER_SET = "8ECCC264-6880-4EBE-992F-8888D2EEAA1D"


def new_id(prefix: bytes = b"\x00\x00\x00\x1b") -> str:
    """Opaque base64 ids like Exchange's (they contain `+`, `/` and `=`, so clients must escape)."""
    return base64.b64encode(prefix + uuid.uuid4().bytes + b"\xfb\xff").decode()


@dataclass
class Folder:
    id: str
    display_name: str
    folder_class: str
    parent_id: str | None
    distinguished: str | None = None
    change_key: str = field(default_factory=lambda: new_id(b"\x01"))
    extended: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)


@dataclass
class StoredItem:
    id: str
    folder_id: str
    kind: str  # "Contact" | "CalendarItem"
    element: Element
    extended: dict[tuple[str, str], tuple[str, str]]
    """(property set id upper, name) -> (PropertyType, value)."""
    created_seq: int
    changed_seq: int
    change_key: str
    created: dt.datetime
    modified: dt.datetime
    deleted: bool = False
    deleted_occurrences: list[str] = field(default_factory=list)
    """Original starts (UTC, `...Z`) of cancelled occurrences of a recurring master."""
    master_id: str | None = None
    """For a modified occurrence (an exception): its recurring master. Exceptions are not items
    of the folder for SyncFolderItems/FindItem; they surface in the master's ModifiedOccurrences."""


@dataclass
class Mailbox:
    smtp: str
    display_name: str
    folders: dict[str, Folder] = field(default_factory=dict)
    items: dict[str, StoredItem] = field(default_factory=dict)
    seq: int = 0
    sent: list[dict[str, str]] = field(default_factory=list)
    """Meeting mail Exchange would have sent (invitations, cancellations): the LS-40 check."""

    def distinguished(self, name: str) -> Folder | None:
        return next((f for f in self.folders.values() if f.distinguished == name), None)

    def bump(self) -> int:
        self.seq += 1
        return self.seq


@dataclass
class EwsStore:
    username: str = SERVICE_ACCOUNT
    password: str = SERVICE_PASSWORD
    mailboxes: dict[str, Mailbox] = field(default_factory=dict)
    impersonation: set[str] = field(default_factory=set)
    """Mailboxes (lower-case SMTP) the service account may impersonate."""
    epoch: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    """Part of every SyncState; changing it invalidates all states (ErrorInvalidSyncStateData)."""
    throttle_left: int = 0
    throttle_back_off_ms: int = 250
    max_changes_cap: int = 512
    lock: threading.RLock = field(default_factory=threading.RLock)
    _change_keys: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def change_key(self) -> str:
        return base64.b64encode(b"\x16\x00\x00\x00" + next(self._change_keys).to_bytes(8)).decode()

    def find(self, smtp: str) -> Mailbox | None:
        return self.mailboxes.get(smtp.lower())

    def add_mailbox(
        self, smtp: str, display_name: str | None = None, impersonable: bool = True
    ) -> Mailbox:
        key = smtp.lower()
        if key in self.mailboxes:
            return self.mailboxes[key]
        mailbox = Mailbox(smtp=smtp, display_name=display_name or smtp.split("@")[0])
        # `root` is the mailbox's root; `msgfolderroot` ("Top of Information Store") is below it.
        top = Folder(new_id(b"\x02"), "", "IPF.Note", None, "root")
        mailbox.folders[top.id] = top
        root = Folder(
            new_id(b"\x02"), "Top of Information Store", "IPF.Note", top.id, "msgfolderroot"
        )
        mailbox.folders[root.id] = root
        for name, cls, dist in (
            ("Contacts", "IPF.Contact", "contacts"),
            ("Calendar", "IPF.Appointment", "calendar"),
            ("Deleted Items", "IPF.Note", "deleteditems"),
        ):
            folder = Folder(new_id(b"\x02"), name, cls, root.id, dist)
            mailbox.folders[folder.id] = folder
        self.mailboxes[key] = mailbox
        if impersonable:
            self.impersonation.add(key)
        return mailbox

    def add_folder(self, mailbox: Mailbox, parent: Folder, name: str, cls: str) -> Folder:
        folder = Folder(new_id(b"\x02"), name, cls, parent.id)
        mailbox.folders[folder.id] = folder
        return folder

    def add_item(self, mailbox: Mailbox, folder: Folder, kind: str, element: Element) -> StoredItem:
        now = dt.datetime.now(dt.UTC)
        seq = mailbox.bump()
        item = StoredItem(
            id=new_id(),
            folder_id=folder.id,
            kind=kind,
            element=element,
            extended={},
            created_seq=seq,
            changed_seq=seq,
            change_key=self.change_key(),
            created=now,
            modified=now,
        )
        mailbox.items[item.id] = item
        return item

    def touch(self, mailbox: Mailbox, item: StoredItem) -> None:
        item.changed_seq = mailbox.bump()
        item.change_key = self.change_key()
        item.modified = dt.datetime.now(dt.UTC)

    def delete(self, mailbox: Mailbox, item: StoredItem) -> None:
        item.deleted = True
        item.changed_seq = mailbox.bump()
        for other in mailbox.items.values():
            if other.master_id == item.id and not other.deleted:
                other.deleted = True  # a series' exceptions go with it

    def exceptions_of(self, mailbox: Mailbox, master: StoredItem) -> list[StoredItem]:
        return [i for i in mailbox.items.values() if i.master_id == master.id and not i.deleted]

    def copy_element(self, element: Element) -> Element:
        return etree.fromstring(etree.tostring(element))
