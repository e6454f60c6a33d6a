"""The EWS connection method's running parts: roster-driven polling with connector statuses,
and commands applied into outcomes on `syncline.changes` (real broker, database, HTTPS)."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from ewsclient.client import EwsClient
from ewsclient.folders import ensure_sync_folder, release_claim
from exchange_connector.control import handle_control
from exchange_connector.errors import ClaimedByOtherTenant
from exchange_connector.ews.capture import cursor_scope
from exchange_connector.ews.service import EwsConnector
from exchange_connector.offsets import CursorStore
from exchange_connector.ownership import Ownership
from syncmodel.codec import decode_changes
from syncmodel.kinds import Direction, Kind, Op, Side
from syncmodel.messages import (
    ChangeEvent,
    ChangesMessage,
    Command,
    CommandAction,
    CommandOutcome,
    ConnectorState,
    ConnectorStatus,
    Control,
    ControlAction,
    OutcomeStatus,
    RosterEntry,
    bus_key,
)
from syncmodel.records import Contact
from syncmodel.topics import CHANGES
from syncruntime.settings import KafkaSettings

from tests.integration.exchange_connector_ews.conftest import Sim

pytestmark = pytest.mark.integration


@pytest.fixture
async def connector(
    client: EwsClient, producer: AIOKafkaProducer, cursors: CursorStore
) -> EwsConnector:
    ownership = Ownership(partitions=1)
    ownership.owned = {0}
    return EwsConnector(
        tenant=f"t-{uuid.uuid4().hex[:8]}",
        client=client,
        producer=producer,
        cursors=cursors,
        ownership=ownership,
    )


@pytest.fixture
async def consumer(kafka_settings: KafkaSettings) -> AsyncIterator[AIOKafkaConsumer]:
    consumer = AIOKafkaConsumer(
        CHANGES, bootstrap_servers=kafka_settings.bootstrap, enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    while not consumer.assignment():  # noqa: ASYNC110 (no event for "assignment ready")
        await asyncio.sleep(0.05)
    parts = list(consumer.assignment())
    await consumer.seek_to_end(*parts)
    for tp in parts:
        await consumer.position(tp)
    yield consumer
    await consumer.stop()


async def _read(consumer: AIOKafkaConsumer, tenant: str, count: int) -> list[ChangesMessage]:
    found: list[ChangesMessage] = []
    deadline = asyncio.get_running_loop().time() + 15
    while len(found) < count and asyncio.get_running_loop().time() < deadline:
        for records in (await consumer.getmany(timeout_ms=200)).values():
            found += [m for r in records if (m := decode_changes(r.value)).tenant == tenant]
    return found


def _entry(connector: EwsConnector, mailbox: str) -> RosterEntry:
    entry = RosterEntry(
        tenant=connector.tenant,
        user=f"005{uuid.uuid4().hex[:12]}",
        email=mailbox,
        mailbox=mailbox,
        active=True,
        contacts=Direction.BOTH,
        events=Direction.BOTH,
        settings_digest="test",
        ts=dt.datetime.now(dt.UTC),
    )
    connector.ownership.roster[bus_key(entry.tenant, entry.user)] = entry
    return entry


async def test_poll_and_apply_through_the_ews_connector(
    sim: Sim, connector: EwsConnector, consumer: AIOKafkaConsumer
) -> None:
    mailbox = await sim.new_mailbox()
    entry = _entry(connector, mailbox)
    command = Command(
        id=f"cmd-{uuid.uuid4().hex[:8]}",
        tenant=connector.tenant,
        user=entry.user,
        side=Side.EXCHANGE,
        kind=Kind.CONTACT,
        action=CommandAction.CREATE,
        link_id="link-1",
        record=Contact(first_name="Linus", last_name="T", email="linus@kernel.example"),
        issued_ts=dt.datetime.now(dt.UTC),
    )
    await connector.apply(command)  # creates the Salesforce_Sync folder on the way
    (outcome,) = await _read(consumer, connector.tenant, 1)
    assert isinstance(outcome, CommandOutcome)
    assert outcome.status is OutcomeStatus.APPLIED
    assert await connector.poll_due() == 1
    messages = await _read(consumer, connector.tenant, 4)
    states = [m.state for m in messages if isinstance(m, ConnectorStatus)]
    assert states == [
        ConnectorState.INITIAL_SYNC_IN_PROGRESS,
        ConnectorState.INITIAL_SYNC_COMPLETED,
        ConnectorState.CONNECTED,
    ]
    (read,) = [m for m in messages if isinstance(m, ChangeEvent)]
    assert (read.op, read.record_id) == (Op.READ, outcome.record_id)
    assert connector.stats()["calls"]["SyncFolderItems"] == 2  # contacts + calendar


async def test_a_mailbox_without_impersonation_right_reports_access_denied(
    sim: Sim, connector: EwsConnector, consumer: AIOKafkaConsumer
) -> None:
    entry = _entry(connector, await sim.new_mailbox(impersonable=False))
    assert await connector.poll_due() == 0
    (status,) = await _read(consumer, connector.tenant, 1)
    assert isinstance(status, ConnectorStatus)
    assert (status.user, status.state, status.detail) == (
        entry.user,
        ConnectorState.ACCESS_DENIED,
        "ErrorImpersonateUserDenied",
    )


async def test_a_mailbox_claimed_by_another_tenant_is_not_synced(
    sim: Sim, connector: EwsConnector, consumer: AIOKafkaConsumer
) -> None:
    """LS-101: the folder carries the claiming tenant; another tenant's connector backs off,
    and releasing the claim (LS-103) lets it in."""
    mailbox = await sim.new_mailbox()
    other = await ensure_sync_folder(connector.client, mailbox, "someone-else")
    entry = _entry(connector, mailbox)
    assert await connector.poll_due() == 0
    (status,) = await _read(consumer, connector.tenant, 1)
    assert isinstance(status, ConnectorStatus)
    assert (status.user, status.state) == (entry.user, ConnectorState.CLAIMED_BY_OTHER_TENANT)
    await release_claim(connector.client, mailbox, other)
    assert await connector.sync_folder(mailbox) == other  # now claimed by this tenant
    with pytest.raises(ClaimedByOtherTenant):
        await ensure_sync_folder(connector.client, mailbox, "someone-else")


async def test_resync_and_release_claim_controls(
    sim: Sim, connector: EwsConnector, consumer: AIOKafkaConsumer
) -> None:
    mailbox = await sim.new_mailbox()
    entry = _entry(connector, mailbox)
    assert await connector.poll_due() == 0  # empty mailbox: statuses only, SyncStates saved
    scope = cursor_scope(entry.user)
    assert await connector.cursors.get(connector.tenant, scope, Kind.CONTACT) is not None
    assert await connector.cursors.get(connector.tenant, entry.user, Kind.CONTACT) is None

    def control(action: ControlAction) -> Control:
        return Control(
            id=f"ctl-{uuid.uuid4().hex[:6]}",
            tenant=connector.tenant,
            action=action,
            user=entry.user,
            requested_ts=dt.datetime.now(dt.UTC),
        )

    await handle_control(connector, control(ControlAction.RESYNC))
    assert await connector.cursors.get(connector.tenant, scope, Kind.CONTACT) is None
    assert connector.schedules[bus_key(connector.tenant, entry.user)].due == 0.0
    await handle_control(connector, control(ControlAction.RELEASE_CLAIM))
    # Released: another tenant may now claim the folder (LS-103).
    assert await ensure_sync_folder(connector.client, mailbox, "next-tenant")


async def test_persistent_server_busy_reports_throttled_with_the_back_off(
    sim: Sim, connector: EwsConnector, consumer: AIOKafkaConsumer
) -> None:
    entry = _entry(connector, await sim.new_mailbox())
    await sim.control.post("/_sim/throttle", json={"count": 1000, "back_off_ms": 40})
    try:
        assert await connector.poll_due() == 0
    finally:
        await sim.control.post("/_sim/throttle", json={"count": 0})
    (status,) = await _read(consumer, connector.tenant, 1)
    assert isinstance(status, ConnectorStatus)
    assert (status.user, status.state, status.detail) == (
        entry.user,
        ConnectorState.THROTTLED,
        "ErrorServerBusy",
    )
    assert status.next_attempt_ts is not None
    assert connector.client.throttled["FindFolder"] == connector.client.max_retries
