"""The link: one Exchange item paired with one Salesforce record for one user (three-way state).

A `Link` is the row vdirsyncer keeps in its status table, plus what exactly-once needs: per side
the id, the native version, the fingerprint and the canonical content last seen there; the
`snapshot` (the content both sides are being brought to, which is the merge base of the next
change); the writes in flight (at most one per side); and the tombstone of a closed link. It is a
frozen pydantic model so the shell can store it as JSON (a JSONB column) and load it back.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from enum import StrEnum

from syncmodel import Command, Contact, Event, Kind, Side, SyncError
from syncmodel.fastjson import dump_json

from reconcile.frozen import Frozen
from reconcile.normalize import JsonValue


class LinkState(StrEnum):
    PENDING_CREATE = "pending_create"
    """Only one side exists yet; the create on the other side is in flight."""
    LINKED = "linked"
    """Both sides exist and are paired."""
    HELD = "held"
    """A delete was held by the mass-delete guard (suspected logical delete)."""
    CLOSED = "closed"
    """Tombstoned: a side was deleted; nothing is recreated unless the survivor changes again."""
    ERROR = "error"
    """The last write failed for good; the next real change tries again."""


class SideState(Frozen):
    """What the link knows about one side."""

    record_id: str | None = None
    version: str | None = None
    fingerprint: str | None = None
    content: dict[str, JsonValue] | None = None
    changed_ts: dt.datetime | None = None
    version_is_ours: bool = False
    deleted: bool = False


class PendingWrite(Frozen):
    """A command in flight to one side; kept until its outcome (or its echo) comes back."""

    command: Command
    attempts: int = 1
    observed_after: bool = False
    """A change of the target was seen while this write was in flight (so it is newer)."""
    last_outcome_id: str | None = None
    """The failure outcome that caused the last retry (a redelivered one is not a new try)."""


class Link(Frozen):
    link_id: str
    tenant: str
    user: str
    kind: Kind
    state: LinkState = LinkState.LINKED
    exchange: SideState = SideState()
    salesforce: SideState = SideState()
    snapshot: dict[str, JsonValue] | None = None
    pending: tuple[PendingWrite, ...] = ()
    deleted_side: Side | None = None
    tombstoned_ts: dt.datetime | None = None
    attendee_copy: bool = False
    """LS-39(b): the rep only attends; Salesforce edits of this copy don't go back."""
    ical_uid: str | None = None
    last_error: SyncError | None = None

    def side(self, side: Side) -> SideState:
        return self.exchange if side is Side.EXCHANGE else self.salesforce

    def with_side(self, side: Side, state: SideState) -> Link:
        key = "exchange" if side is Side.EXCHANGE else "salesforce"
        return self.model_copy(update={key: state})

    def pending_to(self, side: Side) -> PendingWrite | None:
        for write in self.pending:  # at most one per side; asked several times per decision
            if write.command.side is side:
                return write
        return None

    def pending_by_id(self, command_id: str) -> PendingWrite | None:
        for write in self.pending:
            if write.command.id == command_id:
                return write
        return None

    def without_pending(self, side: Side) -> Link:
        return self.model_copy(
            update={"pending": tuple(p for p in self.pending if p.command.side is not side)}
        )

    def with_pending(self, write: PendingWrite) -> Link:
        if not self.pending:
            return self.model_copy(update={"pending": (write,)})
        kept = tuple(p for p in self.pending if p.command.side is not write.command.side)
        return self.model_copy(update={"pending": (*kept, write)})

    def record_id(self, side: Side) -> str | None:
        return self.side(side).record_id


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def link_id_for(tenant: str, user: str, kind: Kind, side: Side, record_id: str) -> str:
    """Deterministic link id from the record that started the link (replay gives the same id)."""
    return "lnk_" + _digest(tenant, user, kind, side, record_id)  # StrEnums join as their value


def record_digest(record: Contact | Event) -> str:
    """Content key of a record the core built itself (from canonical content, so already in
    canonical form): its JSON as written, hashed. Deterministic like `fingerprint`, without
    normalizing again what `from_canonical` just produced (a third of a create's cost)."""
    return hashlib.sha256(dump_json(record)).hexdigest()


def command_id_for(
    link_id: str, target: Side, action: str, base_version: str | None, content_fingerprint: str
) -> str:
    """Deterministic command id: replaying a decision reissues the very same command."""
    return "cmd_" + _digest(link_id, target, action, base_version or "-", content_fingerprint)
