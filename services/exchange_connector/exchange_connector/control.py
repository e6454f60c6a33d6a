"""Control requests from the status API (`syncline.control`, keyed by tenant) for this tenant,
the same for both transports: `reset_sync` / `resync` drop the user's cursors (deltaLinks or
SyncStates) so the next pass is a fresh snapshot; `release_claim` clears the mailbox claim
(LS-103, an explicit admin action)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka import AIOKafkaConsumer
from syncmodel.codec import InvalidMessage, decode
from syncmodel.kinds import Kind
from syncmodel.messages import Control, ControlAction, bus_key
from syncmodel.topics import CONTROL
from syncruntime.settings import KafkaSettings

from exchange_connector.errors import ExchangeError
from exchange_connector.service import MailboxConnector

log = logging.getLogger(__name__)


async def handle_control(connector: MailboxConnector[Any, Any], control: Control) -> None:
    if control.tenant != connector.tenant or control.user is None:
        return
    key = bus_key(control.tenant, control.user)
    if control.action in (ControlAction.RESET_SYNC, ControlAction.RESYNC):
        kinds = [control.kind] if control.kind in (Kind.CONTACT, Kind.EVENT) else [None]
        for kind in kinds:
            await connector.cursors.delete(
                control.tenant, connector.cursor_scope(control.user), kind
            )
        schedule = connector.schedules.get(key)
        if schedule is not None:
            schedule.capture.last_capture.clear()
        connector.wake(key)
        return
    if control.action is ControlAction.RELEASE_CLAIM:
        entry = connector.ownership.roster.get(key)
        mailbox = entry.mailbox if entry else None
        if mailbox is None:
            return
        try:
            await connector.release_claim(mailbox)
        except ExchangeError as exc:
            log.warning("release_claim failed: %s", exc.code, extra={"tenant": control.tenant})


async def follow_control(
    connector: MailboxConnector[Any, Any], settings: KafkaSettings, stop: asyncio.Event
) -> None:
    """Every replica sees every control message (no group); each acts on what it owns."""
    consumer = AIOKafkaConsumer(
        CONTROL, bootstrap_servers=settings.bootstrap, group_id=None, auto_offset_reset="latest"
    )
    await consumer.start()
    try:
        while not stop.is_set():
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    try:
                        control = decode(Control, record.value)
                    except InvalidMessage as exc:
                        log.warning("bad control message skipped: %s", exc.reason)
                        continue
                    await handle_control(connector, control)
    finally:
        await consumer.stop()
