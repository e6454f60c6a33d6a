"""Control requests: reset re-snapshots a user; releasing a claim lets another tenant sync the
mailbox (LS-101..103)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from exchange_connector.control import handle_control
from exchange_connector.mapping import TENANT_CLAIM_PROPERTY
from exchange_connector.service import Connector
from syncmodel.kinds import Kind, Op
from syncmodel.messages import ChangeEvent, Control, ControlAction

from tests.integration.exchange_connector.conftest import ChangesReader, Sim, roster_entry

pytestmark = pytest.mark.integration


def _control(connector: Connector, user: str, action: ControlAction) -> Control:
    return Control(
        id=f"ctl-{action.value}",
        tenant=connector.tenant,
        action=action,
        user=user,
        requested_ts=dt.datetime.now(dt.UTC),
    )


async def test_reset_sync_drops_cursors_and_the_next_pass_is_a_snapshot(
    sim: Sim, connector: Connector, changes: ChangesReader
) -> None:
    rep = await sim.new_rep()
    await sim.graph.post(
        f"/users/{rep['upn']}/contactFolders/{rep['syncFolderId']}/contacts",
        json={"givenName": "R"},
    )
    entry = roster_entry(connector, rep["upn"])
    await connector.poll_mailbox(entry)
    await changes.read()
    await handle_control(connector, _control(connector, entry.user, ControlAction.RESET_SYNC))
    assert await connector.cursors.get(connector.tenant, entry.user, Kind.CONTACT) is None
    await connector.poll_mailbox(entry)
    again = [m for m in await changes.read() if isinstance(m, ChangeEvent)]
    assert [(e.kind, e.op, e.cause) for e in again] == [(Kind.CONTACT, Op.READ, "snapshot")]


async def test_release_claim_clears_the_mailbox_marker(sim: Sim, connector: Connector) -> None:
    rep = await sim.new_rep()
    entry = roster_entry(connector, rep["upn"])
    await connector.poll_mailbox(entry)

    def claims(state: dict[str, Any]) -> list[str]:
        folder = next(f for f in state["contactFolders"] if f["id"] == rep["syncFolderId"])
        return [
            p["value"]
            for p in folder.get("singleValueExtendedProperties", [])
            if p["id"] == TENANT_CLAIM_PROPERTY
        ]

    assert claims(await sim.state(rep["upn"])) == [connector.tenant]
    await handle_control(connector, _control(connector, entry.user, ControlAction.RELEASE_CLAIM))
    assert claims(await sim.state(rep["upn"])) == [""]
