"""What the Graph and EWS transports share for one mailbox: who it is, where its cursors live,
how a change event is built, and publishing a page with every broker ack awaited before the
caller saves its cursor (ARCHITECTURE.md, "Delivery guarantees"). Each transport's capture
(stream.py, ews/capture.py) adds its own client and rounds on top."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from aiokafka import AIOKafkaProducer
from syncmodel.kinds import Kind, Op, Side
from syncmodel.messages import ChangeEvent, bus_key, change_event_id
from syncmodel.records import Contact, Event
from syncmodel.topics import CHANGES
from syncruntime.kafka.producer import encode

from exchange_connector.offsets import CursorStore


class TransportClient(Protocol):
    """The request counters both clients keep (`Connector.stats`)."""

    @property
    def calls(self) -> dict[str, int]: ...

    @property
    def throttled(self) -> dict[str, int]: ...


ClientT = TypeVar("ClientT", bound=TransportClient)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class MailboxStream(Generic[ClientT]):
    """Capture state and collaborators for one rostered mailbox, whatever the transport."""

    tenant: str
    user: str
    mailbox: str
    client: ClientT
    producer: AIOKafkaProducer
    cursors: CursorStore
    folder_id: str | None = None
    now: Callable[[], dt.datetime] = utc_now
    published: int = 0
    last_capture: dict[Kind, dt.datetime] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return bus_key(self.tenant, self.user)

    @property
    def scope(self) -> str:
        """The `user` column of this mailbox's rows in the `cursors` table."""
        return self.user

    def change(
        self,
        kind: Kind,
        op: Op,
        record_id: str,
        version: str | None,
        after: Contact | Event | None,
        source_ts: dt.datetime | None,
        cause: str | None,
    ) -> ChangeEvent:
        return ChangeEvent(
            id=change_event_id(Side.EXCHANGE, record_id, version),
            tenant=self.tenant,
            user=self.user,
            side=Side.EXCHANGE,
            kind=kind,
            op=op,
            record_id=record_id,
            version=version,
            after=after,
            source_ts=source_ts,
            captured_ts=self.now(),
            cause=cause,
        )

    async def publish(self, events: list[ChangeEvent]) -> None:
        """Send all, then wait for every ack (order per partition is kept by the producer)."""
        futures = [
            await self.producer.send(CHANGES, encode(e), key=self.key.encode()) for e in events
        ]
        if futures:
            await asyncio.gather(*futures)
        self.published += len(events)
