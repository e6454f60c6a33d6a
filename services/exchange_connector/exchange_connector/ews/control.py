"""Control requests (`syncline.control`) for an EWS deployment, with the Graph method's meaning
(exchange_connector.control): `reset_sync` / `resync` drop the user's SyncStates so the next
pass is a fresh snapshot; `release_claim` clears the mailbox claim on the folder (LS-103)."""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer
from syncmodel.codec import InvalidMessage, decode
from syncmodel.kinds import Kind
from syncmodel.messages import Control, ControlAction, bus_key
from syncmodel.topics import CONTROL
from syncruntime.settings import KafkaSettings

from exchange_connector.errors import ExchangeError
from exchange_connector.ews.capture import cursor_scope
from exchange_connector.ews.folders import find_sync_folder, release_claim
from exchange_connector.ews.service import EwsConnector

log = logging.getLogger(__name__)


async def handle_control(connector: EwsConnector, control: Control) -> None:
    if control.tenant != connector.tenant or control.user is None:
        return
    key = bus_key(control.tenant, control.user)
    if control.action in (ControlAction.RESET_SYNC, ControlAction.RESYNC):
        kinds = [control.kind] if control.kind in (Kind.CONTACT, Kind.EVENT) else [None]
        for kind in kinds:
            await connector.cursors.delete(control.tenant, cursor_scope(control.user), kind)
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
            folder_id = connector.folders.pop(mailbox, None)
            if folder_id is None:
                folder_id = await find_sync_folder(connector.client, mailbox)
            if folder_id is not None:
                await release_claim(connector.client, mailbox, folder_id)
        except ExchangeError as exc:
            log.warning("release_claim failed: %s", exc.code, extra={"tenant": control.tenant})


async def follow_control(
    connector: EwsConnector, settings: KafkaSettings, stop: asyncio.Event
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
