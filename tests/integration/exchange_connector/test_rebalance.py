"""Mailbox ownership follows partition ownership of `syncline.commands.exchange` in the
consumer group (ARCHITECTURE.md, "Bus"): two replicas split the mailboxes; when one leaves,
the other takes all of them over."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import pytest
from exchange_connector.ownership import Ownership
from exchange_connector.service import Connector, command_decoder
from syncmodel.topics import COMMANDS_EXCHANGE
from syncruntime.kafka import ConsumerLoop
from syncruntime.settings import KafkaSettings

from tests.integration.exchange_connector.conftest import roster_entry

pytestmark = pytest.mark.integration


async def _until(condition: Callable[[], object]) -> None:
    async with asyncio.timeout(40):
        while not condition():  # noqa: ASYNC110 (state of two replicas, polled)
            await asyncio.sleep(0.2)


async def test_two_replicas_split_mailboxes_and_one_takes_over_when_the_other_leaves(
    connector: Connector, kafka_settings: KafkaSettings
) -> None:
    partitions = len(await connector.producer.partitions_for(COMMANDS_EXCHANGE))
    replicas = [Ownership(partitions), Ownership(partitions)]
    entries = [roster_entry(connector, f"rep{i}@contoso-sim.example") for i in range(12)]
    for ownership in replicas:
        ownership.roster = dict(connector.ownership.roster)
    group = f"xc-rebalance-{uuid.uuid4().hex[:6]}"
    stops = [asyncio.Event(), asyncio.Event()]

    async def ignore(_: object) -> None:
        return None

    loops = [
        ConsumerLoop(
            kafka_settings,
            topics=[COMMANDS_EXCHANGE],
            group_id=group,
            handler=ignore,
            decoder=command_decoder,
            on_assigned=o.assigned,
            on_revoked=o.revoked,
        )
        for o in replicas
    ]
    tasks = [asyncio.create_task(loop.run(stop)) for loop, stop in zip(loops, stops, strict=True)]
    try:
        await _until(
            lambda: (
                replicas[0].owned
                and replicas[1].owned
                and len(replicas[0].owned | replicas[1].owned) == partitions
            )
        )
        assert not replicas[0].owned & replicas[1].owned
        first = {e.mailbox for e in replicas[0].mailboxes()}
        second = {e.mailbox for e in replicas[1].mailboxes()}
        assert not first & second
        assert first | second == {e.mailbox for e in entries}
        stops[1].set()
        await tasks[1]
        await _until(lambda: len(replicas[0].owned) == partitions)
        assert {e.mailbox for e in replicas[0].mailboxes()} == {e.mailbox for e in entries}
    finally:
        for stop in stops:
            stop.set()
        await asyncio.gather(*tasks)
