"""Which mailboxes this replica serves: those whose `tenant/user` key hashes to a partition of
`syncline.commands.exchange` assigned to it in the consumer group (ARCHITECTURE.md, "Bus"), as
rostered on the compacted `syncline.roster` topic."""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.partitioner import murmur2
from syncmodel.codec import InvalidMessage, decode
from syncmodel.kinds import Direction
from syncmodel.messages import RosterEntry
from syncmodel.topics import ROSTER
from syncruntime.settings import KafkaSettings

log = logging.getLogger(__name__)


def partition_of(key: str, partitions: int) -> int:
    """Kafka's default partitioner (murmur2, as the Java client and aiokafka do)."""
    return int((murmur2(key.encode()) & 0x7FFFFFFF) % partitions)


class Ownership:
    def __init__(self, partitions: int) -> None:
        self.partitions = partitions
        self.owned: set[int] = set()
        self.roster: dict[str, RosterEntry] = {}
        self.changed = asyncio.Event()

    async def assigned(self, partitions: set[TopicPartition]) -> None:
        self.owned = {tp.partition for tp in partitions}
        self.changed.set()

    async def revoked(self, partitions: set[TopicPartition]) -> None:
        self.owned -= {tp.partition for tp in partitions}
        self.changed.set()

    def owns(self, key: str) -> bool:
        return partition_of(key, self.partitions) in self.owned

    def mailboxes(self) -> list[RosterEntry]:
        """Active rostered users with a mailbox, syncing something, on our partitions."""
        return [
            entry
            for key, entry in self.roster.items()
            if entry.active
            and entry.mailbox
            and (entry.contacts is not Direction.NONE or entry.events is not Direction.NONE)
            and self.owns(key)
        ]

    async def follow_roster(self, settings: KafkaSettings, stop: asyncio.Event) -> None:
        """Read the compacted roster from the beginning and keep the latest entry per key."""
        # No group: every replica reads every roster partition from the beginning.
        consumer = AIOKafkaConsumer(
            ROSTER,
            bootstrap_servers=settings.bootstrap,
            enable_auto_commit=False,
            group_id=None,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            while not stop.is_set():
                batches = await consumer.getmany(timeout_ms=500)
                for records in batches.values():
                    for record in records:
                        key = record.key.decode() if record.key else ""
                        if record.value is None:
                            self.roster.pop(key, None)  # tombstone
                            continue
                        try:
                            self.roster[key] = decode(RosterEntry, record.value)
                        except InvalidMessage as exc:
                            log.warning("bad roster entry skipped: %s", exc.reason)
                if batches:
                    self.changed.set()
        finally:
            await consumer.stop()
