"""Change notifications trigger an immediate delta pass (protocols.md A6): subscriptions with
the validation handshake, clientState checked, lifecycle `missed` wakes the mailbox."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import uvicorn
from exchange_connector.notifications import Subscriptions
from exchange_connector.service import Connector
from simulators.common.server import free_port

from tests.integration.exchange_connector.conftest import ChangesReader, Sim, roster_entry

pytestmark = pytest.mark.integration


@pytest.fixture
async def subscriptions(connector: Connector) -> AsyncIterator[Subscriptions]:
    port = free_port()
    subs = Subscriptions(connector.client, f"http://127.0.0.1:{port}", "our-state", connector.wake)
    server = uvicorn.Server(
        uvicorn.Config(
            subs.receiver_app(), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn exposes no event)
        await asyncio.sleep(0.02)
    connector.subscriptions = subs
    yield subs
    server.should_exit = True
    await task


async def _until_due(connector: Connector, key: str) -> None:
    async with asyncio.timeout(10):
        while connector.schedules[key].due != 0.0:  # noqa: ASYNC110 (woken from the receiver)
            await asyncio.sleep(0.05)


async def test_notification_wakes_the_mailbox_and_forged_ones_are_ignored(
    sim: Sim, connector: Connector, subscriptions: Subscriptions, changes: ChangesReader
) -> None:
    connector.poll_min_s = connector.poll_max_s = 3600  # only a notification makes it due
    rep = await sim.new_rep()
    entry = roster_entry(connector, rep["upn"])
    key = f"{connector.tenant}/{entry.user}"
    await connector.poll_mailbox(entry)
    await changes.read()
    assert len(subscriptions.by_id) == 2
    assert await connector.poll_due() == 0
    forged = {"subscriptionId": next(iter(subscriptions.by_id)), "clientState": "guess"}
    assert subscriptions.receive([forged]) == 0
    await sim.graph.post(
        f"/users/{rep['upn']}/contactFolders/{rep['syncFolderId']}/contacts",
        json={"givenName": "Pinged"},
    )
    await _until_due(connector, key)
    assert await connector.poll_due() == 1
    # Lifecycle `missed`: catch up with a delta pass.
    connector.schedules[key].due = float("inf")
    sub_id = next(iter(subscriptions.by_id))
    assert (
        await sim.control.post(f"/_sim/subscriptions/{sub_id}/lifecycle", json={"event": "missed"})
    ).json()["delivered"]
    await _until_due(connector, key)
