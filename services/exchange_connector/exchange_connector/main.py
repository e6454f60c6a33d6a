"""`syncline exchange-connector`: capture and apply contacts and events through Microsoft Graph.

Wires settings, the MSAL token provider, the Graph client, the Postgres cursor store, the roster
follower, the capture poller and the command consumer into one process (syncruntime.service).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import logging
import secrets
from collections.abc import Coroutine, Iterator, Sequence
from typing import Any

import uvicorn
from syncmodel.topics import COMMANDS_EXCHANGE
from syncruntime.kafka import create_producer, ensure_topics
from syncruntime.postgres import create_pool
from syncruntime.service import Health, run_service
from syncruntime.settings import KafkaSettings, PostgresSettings, ServiceSettings

from exchange_connector.auth import TokenProvider
from exchange_connector.client import GraphClient
from exchange_connector.control import follow_control
from exchange_connector.notifications import Subscriptions
from exchange_connector.offsets import CursorStore
from exchange_connector.ownership import Ownership
from exchange_connector.service import Connector, command_consumer
from exchange_connector.settings import ExchangeSettings


async def run(stop: asyncio.Event, health: Health) -> None:
    # --- connection method (issue 10): on-premises Exchange over EWS has its own wiring. ---
    from exchange_connector.ews.settings import ConnectionMethod, MethodSettings

    method = MethodSettings()
    if method.method is ConnectionMethod.SERVICE_ACCOUNT_EWS:
        from exchange_connector.ews.main import run as run_ews

        await run_ews(stop, health)
        return
    if method.method is ConnectionMethod.HYBRID:
        from exchange_connector.ews.hybrid import run_hybrid

        await run_hybrid(stop, health, method.ews_domains)
        return
    # --- Microsoft Graph (oauth2_graph, the default) ---
    # httpx logs every request at INFO: too chatty for a poller, and it names mailboxes.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    settings = ExchangeSettings()  # read from the environment
    kafka = KafkaSettings()
    await ensure_topics(kafka)
    pool = await create_pool(PostgresSettings())
    producer = await create_producer(kafka, client_id="exchange-connector")
    client = GraphClient(
        settings.graph_base_url, TokenProvider(settings.credentials()), ca_bundle=settings.ca_bundle
    )
    # Ownership hashes keys like the producer does, so it needs the real partition count.
    ownership = Ownership(len(await producer.partitions_for(COMMANDS_EXCHANGE)))
    connector = Connector(
        tenant=settings.tenant,
        client=client,
        producer=producer,
        cursors=CursorStore(pool),
        ownership=ownership,
        poll_min_s=settings.poll_min_s,
        poll_max_s=settings.poll_max_s,
        window_past=dt.timedelta(days=settings.window_past_days),
        window_future=dt.timedelta(days=settings.window_future_days),
        max_parallel=settings.max_parallel_mailboxes,
    )
    commands = command_consumer(kafka, settings.group_id, connector.handle_commands, ownership)
    tasks: list[Coroutine[Any, Any, None]] = [
        ownership.follow_roster(kafka, stop),
        follow_control(connector, kafka, stop),
        commands.run(stop),
        connector.run_polling(stop),
    ]
    receiver: uvicorn.Server | None = None
    if settings.notification_url:
        secret = settings.client_state.get_secret_value() if settings.client_state else None
        connector.subscriptions = Subscriptions(
            client, settings.notification_url, secret or secrets.token_urlsafe(32), connector.wake
        )
        receiver = _QuietServer(
            uvicorn.Config(
                connector.subscriptions.receiver_app(),
                host=settings.notification_host,
                port=settings.notification_port,
                log_level="warning",
                lifespan="off",
            )
        )
        tasks.append(receiver.serve())
        tasks.append(_stop_server_on(stop, receiver))
    health.set("kafka", True)
    health.set("postgres", True)
    try:
        await asyncio.gather(*tasks)
    finally:
        await client.aclose()
        await producer.stop()
        await pool.close()


class _QuietServer(uvicorn.Server):
    """uvicorn without its own signal handling: the service's stop event owns SIGTERM/SIGINT."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _stop_server_on(stop: asyncio.Event, server: uvicorn.Server) -> None:
    await stop.wait()
    server.should_exit = True


def main(argv: Sequence[str] = ()) -> int:
    parser = argparse.ArgumentParser(prog="syncline exchange-connector", description=__doc__)
    parser.parse_args(list(argv))
    return run_service("exchange-connector", run, ServiceSettings())
