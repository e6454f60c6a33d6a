"""`syncline exchange-connector` with `SYNCLINE_EXCHANGE_METHOD=service_account_ews`: the same
process shape as the Graph method (roster follower, capture poller, command consumer), over EWS.
"""

from __future__ import annotations

import asyncio
import logging

from syncmodel.topics import COMMANDS_EXCHANGE
from syncruntime.kafka import create_producer, ensure_topics
from syncruntime.postgres import create_pool
from syncruntime.service import Health
from syncruntime.settings import KafkaSettings, PostgresSettings

from exchange_connector.control import follow_control
from exchange_connector.ews.service import EwsConnector
from exchange_connector.ews.settings import EwsSettings
from exchange_connector.offsets import CursorStore
from exchange_connector.ownership import Ownership
from exchange_connector.service import command_consumer


async def run(stop: asyncio.Event, health: Health) -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    settings = EwsSettings()  # read from the environment
    kafka = KafkaSettings()
    await ensure_topics(kafka)
    pool = await create_pool(PostgresSettings())
    producer = await create_producer(kafka, client_id="exchange-connector-ews")
    client = settings.client()
    ownership = Ownership(len(await producer.partitions_for(COMMANDS_EXCHANGE)))
    connector = EwsConnector(
        tenant=settings.tenant,
        client=client,
        producer=producer,
        cursors=CursorStore(pool),
        ownership=ownership,
        poll_min_s=settings.poll_min_s,
        poll_max_s=settings.poll_max_s,
        max_parallel=settings.max_parallel_mailboxes,
    )
    commands = command_consumer(kafka, settings.group_id, connector.handle_commands, ownership)
    health.set("kafka", True)
    health.set("postgres", True)
    try:
        await asyncio.gather(
            ownership.follow_roster(kafka, stop),
            follow_control(connector, kafka, stop),
            commands.run(stop),
            connector.run_polling(stop),
        )
    finally:
        await client.aclose()
        await producer.stop()
        await pool.close()
