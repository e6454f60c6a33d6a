"""Who syncs what in this org: the compacted `syncline.roster` topic, followed in memory.

The reconciler decides the roster (ARCHITECTURE.md "Who syncs"); this connector only follows it:
Contact and Event changes are published for active rostered users whose direction for that kind
is not `none`. Users, Leads and Accounts are always published (they feed the roster and
auto-relate). `contact_filter` (LS-24): `my_records` = contacts the user owns; `all_accessible`
= every contact the user can see, approximated by every contact of the org (sharing rules are
not evaluated — the integration user sees the whole org).

Every replica reads the whole topic from the beginning without a consumer group, and `ready` is
set once it has caught up with the end offsets seen at start, so the first capture cycle never
mistakes "not read yet" for "nobody syncs".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, TopicPartition
from syncmodel.codec import InvalidMessage, decode
from syncmodel.kinds import Direction, Kind
from syncmodel.messages import RosterEntry
from syncruntime.settings import KafkaSettings

log = logging.getLogger(__name__)


def syncs(entry: RosterEntry | None, kind: Kind) -> bool:
    if entry is None or not entry.active:
        return False
    if kind is Kind.CONTACT:
        return entry.contacts is not Direction.NONE
    if kind is Kind.EVENT:
        return entry.events is not Direction.NONE
    return True


def signature(entry: RosterEntry | None, kind: Kind) -> str | None:
    """What a user's baseline snapshot of one kind covered; a change means "snapshot again"."""
    if not syncs(entry, kind):
        return None
    assert entry is not None
    return f"contact:{entry.contact_filter}" if kind is Kind.CONTACT else kind.value


@dataclass(frozen=True)
class Audience:
    """A frozen view of the active roster: to whom a record of a given owner is published."""

    entries: dict[str, RosterEntry] = field(default_factory=dict)

    @classmethod
    def of(cls, entries: Iterable[RosterEntry]) -> Audience:
        return cls({e.user: e for e in entries if e.active})

    def users(self) -> list[str]:
        return sorted(self.entries)

    def syncs(self, user: str, kind: Kind) -> bool:
        return syncs(self.entries.get(user), kind)

    def all_accessible(self) -> list[str]:
        """Users syncing contacts with the `all_accessible` filter (LS-24)."""
        return [
            u
            for u, e in sorted(self.entries.items())
            if e.contact_filter == "all_accessible" and syncs(e, Kind.CONTACT)
        ]

    def recipients(self, kind: Kind, owner: str | None) -> list[str]:
        """Users whose partition gets a change of this record (keyed `tenant/user`)."""
        if kind in (Kind.USER, Kind.LEAD, Kind.ACCOUNT):
            return [owner or "-"]
        out: list[str] = []
        if owner and self.syncs(owner, kind):
            entry = self.entries[owner]
            if kind is Kind.EVENT or entry.contact_filter == "my_records":
                out.append(owner)
        if kind is Kind.CONTACT:
            out.extend(u for u in self.all_accessible() if u not in out)
        return out


class Roster:
    """The latest roster entry per user of one tenant, kept current by `follow`."""

    def __init__(self, tenant: str, changed: asyncio.Event | None = None) -> None:
        self.tenant = tenant
        self.entries: dict[str, RosterEntry] = {}
        self.ready = asyncio.Event()
        self.changed = changed or asyncio.Event()  # set whenever this tenant's roster changed

    def audience(self) -> Audience:
        return Audience.of(self.entries.values())

    def apply(self, key: str, value: bytes | None) -> bool:
        """One roster record; returns True when it changed this tenant's roster."""
        tenant, _, user = key.partition("/")
        if tenant != self.tenant:
            return False
        if value is None:  # a tombstone: the user left the roster
            return self.entries.pop(user, None) is not None
        try:
            entry = decode(RosterEntry, value)
        except InvalidMessage as exc:
            log.warning("bad roster entry skipped: %s", exc.reason, extra={"tenant": self.tenant})
            return False
        if entry.tenant != self.tenant:
            return False
        self.entries[entry.user] = entry
        return True

    async def follow(self, settings: KafkaSettings, topic: str, stop: asyncio.Event) -> None:
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=settings.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            ends: dict[TopicPartition, int] = {}
            while not stop.is_set():
                batches = await consumer.getmany(timeout_ms=300)
                changed = False
                for records in batches.values():
                    for record in records:
                        key = record.key.decode(errors="replace") if record.key else ""
                        changed = self.apply(key, record.value) or changed
                if changed:
                    self.changed.set()
                if not self.ready.is_set():
                    assignment = sorted(consumer.assignment())
                    if not assignment:
                        continue
                    if not ends:
                        ends = dict(await consumer.end_offsets(assignment))
                    positions = [await consumer.position(tp) for tp in assignment]
                    if all(
                        p >= ends.get(tp, 0) for tp, p in zip(assignment, positions, strict=True)
                    ):
                        log.info(
                            "roster loaded: %d users",
                            len(self.entries),
                            extra={"tenant": self.tenant},
                        )
                        self.ready.set()
                        self.changed.set()
        finally:
            await consumer.stop()
