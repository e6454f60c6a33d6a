"""The connector as a service: commands consumed from the real broker are applied to the
simulator and their outcomes published (issue 5 "Apply"; ARCHITECTURE.md "Bus")."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import pytest
from salesforce_connector.client import SalesforceClient
from salesforce_connector.main import Connector
from salesforce_connector.offsets import CursorStore
from salesforce_connector.settings import SalesforceSettings
from syncmodel.kinds import Kind, Side
from syncmodel.messages import Command, CommandAction, CommandOutcome, OutcomeStatus, bus_key
from syncmodel.records import Contact
from syncmodel.topics import COMMANDS_SALESFORCE
from syncruntime.kafka import publish
from syncruntime.settings import KafkaSettings

from tests.integration.salesforce_connector.conftest import Published, Sim

pytestmark = pytest.mark.integration


async def test_commands_from_the_bus_become_outcomes(
    sim: Sim,
    sf_settings: SalesforceSettings,
    client: SalesforceClient,
    cursors: CursorStore,
    published: Published,
    kafka_settings: KafkaSettings,
) -> None:
    settings = sf_settings.model_copy(
        update={"consumer_group": f"sf-test-{uuid.uuid4().hex[:8]}", "poll_interval_s": 3600}
    )
    rep = sim.seeded["reps"][0]["id"]
    commands = [
        Command(
            id=f"cmd-{uuid.uuid4().hex}",
            tenant=settings.tenant,
            user=rep,
            side=Side.SALESFORCE,
            kind=Kind.CONTACT,
            action=CommandAction.CREATE,
            link_id=f"link-{n}-{uuid.uuid4().hex}",
            record=Contact(last_name=f"Via Kafka {n}"),
            issued_ts=dt.datetime.now(dt.UTC),
        )
        for n in range(3)
    ]
    for command in commands:
        await publish(
            published.producer, COMMANDS_SALESFORCE, bus_key(command.tenant, rep), command
        )
    connector = Connector(settings, kafka_settings, client, published.producer, cursors)
    connector._publish = published  # type: ignore[method-assign]
    connector._publish_many = published.many  # type: ignore[method-assign]
    stop = asyncio.Event()
    task = asyncio.create_task(connector.run(stop))
    wanted = {c.id for c in commands}
    try:
        for _ in range(300):
            outcomes = [m for _, _, m in published.messages if isinstance(m, CommandOutcome)]
            if wanted <= {o.command_id for o in outcomes}:
                break
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)
    mine = [o for o in outcomes if o.command_id in wanted]
    assert len(mine) == 3
    assert all(o.status is OutcomeStatus.APPLIED for o in mine)
    names = {r["LastName"] for r in sim.live("Contact")}
    assert {"Via Kafka 0", "Via Kafka 1", "Via Kafka 2"} <= names
    keys = {k for _, k, m in published.messages if isinstance(m, CommandOutcome)}
    assert keys == {bus_key(settings.tenant, rep)}
