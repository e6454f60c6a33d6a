"""Hybrid organizations (beyond LS-66, which Lightning Sync cannot do): mailboxes still on
premises go through EWS, mailboxes already in Exchange Online through Graph, in one process.

`SYNCLINE_EXCHANGE_METHOD=hybrid` with `SYNCLINE_EXCHANGE_EWS_DOMAINS` (comma-separated email
domains served on premises) plus both methods' settings. Each connector sees only its mailboxes
(`RoutedOwnership`, a filtered view of the shared partition ownership and roster), and commands
are routed by the target mailbox (`CommandRouter`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from syncmodel.messages import Command, RosterEntry, bus_key
from syncmodel.topics import COMMANDS_EXCHANGE
from syncruntime.kafka import Consumed, create_producer, ensure_topics
from syncruntime.postgres import create_pool
from syncruntime.service import Health
from syncruntime.settings import KafkaSettings, PostgresSettings

from exchange_connector.control import follow_control
from exchange_connector.ews.service import EwsConnector
from exchange_connector.ews.settings import ConnectionMethod, EwsSettings
from exchange_connector.offsets import CursorStore
from exchange_connector.ownership import Ownership

log = logging.getLogger(__name__)
Handler = Callable[[list[Consumed[Command]]], Awaitable[None]]


@dataclass(frozen=True)
class MailboxRoutes:
    ews_domains: frozenset[str]

    @classmethod
    def parse(cls, domains: str) -> MailboxRoutes:
        return cls(frozenset(d.strip().lower() for d in domains.split(",") if d.strip()))

    def method_of(self, mailbox: str) -> ConnectionMethod:
        domain = mailbox.rsplit("@", 1)[-1].lower()
        if domain in self.ews_domains:
            return ConnectionMethod.SERVICE_ACCOUNT_EWS
        return ConnectionMethod.OAUTH2_GRAPH


class RoutedOwnership(Ownership):
    """The shared ownership (partitions, roster, change signal), showing only one route's
    mailboxes. State lives in `base`; this view never copies it."""

    def __init__(self, base: Ownership, routes: MailboxRoutes, method: ConnectionMethod) -> None:
        super().__init__(base.partitions)
        self.base, self.routes, self.method = base, routes, method
        self.roster = base.roster
        self.changed = base.changed

    def owns(self, key: str) -> bool:
        return self.base.owns(key)

    def mailboxes(self) -> list[RosterEntry]:
        return [
            e
            for e in self.base.mailboxes()
            if e.mailbox and self.routes.method_of(e.mailbox) is self.method
        ]


class CommandRouter:
    """One command consumer for both connectors: each command goes to its mailbox's route."""

    def __init__(
        self, ownership: Ownership, routes: MailboxRoutes, graph: Handler, ews: Handler
    ) -> None:
        self.ownership, self.routes = ownership, routes
        self.handlers = {
            ConnectionMethod.OAUTH2_GRAPH: graph,
            ConnectionMethod.SERVICE_ACCOUNT_EWS: ews,
        }

    def method_of(self, command: Command) -> ConnectionMethod:
        entry = self.ownership.roster.get(bus_key(command.tenant, command.user))
        mailbox = command.mailbox or (entry.mailbox if entry else None) or ""
        return self.routes.method_of(mailbox)

    async def handle(self, batch: list[Consumed[Command]]) -> None:
        split: dict[ConnectionMethod, list[Consumed[Command]]] = {}
        for consumed in batch:
            split.setdefault(self.method_of(consumed.message), []).append(consumed)
        await asyncio.gather(*(self.handlers[m](items) for m, items in split.items()))


async def run_hybrid(stop: asyncio.Event, health: Health, ews_domains: str) -> None:
    # The Graph side is wired as exchange_connector.main does it for oauth2_graph.
    from exchange_connector.auth import TokenProvider
    from exchange_connector.client import GraphClient
    from exchange_connector.service import Connector, command_consumer
    from exchange_connector.settings import ExchangeSettings

    logging.getLogger("httpx").setLevel(logging.WARNING)
    routes = MailboxRoutes.parse(ews_domains)
    graph_settings, ews_settings = ExchangeSettings(), EwsSettings()
    kafka = KafkaSettings()
    await ensure_topics(kafka)
    pool = await create_pool(PostgresSettings())
    producer = await create_producer(kafka, client_id="exchange-connector-hybrid")
    graph_client = GraphClient(
        graph_settings.graph_base_url,
        TokenProvider(graph_settings.credentials()),
        ca_bundle=graph_settings.ca_bundle,
    )
    ews_client = ews_settings.client()
    ownership = Ownership(len(await producer.partitions_for(COMMANDS_EXCHANGE)))
    cursors = CursorStore(pool)
    graph = Connector(
        tenant=graph_settings.tenant,
        client=graph_client,
        producer=producer,
        cursors=cursors,
        ownership=RoutedOwnership(ownership, routes, ConnectionMethod.OAUTH2_GRAPH),
        poll_min_s=graph_settings.poll_min_s,
        poll_max_s=graph_settings.poll_max_s,
        window_past=dt.timedelta(days=graph_settings.window_past_days),
        window_future=dt.timedelta(days=graph_settings.window_future_days),
        max_parallel=graph_settings.max_parallel_mailboxes,
    )
    ews = EwsConnector(
        tenant=ews_settings.tenant,
        client=ews_client,
        producer=producer,
        cursors=cursors,
        ownership=RoutedOwnership(ownership, routes, ConnectionMethod.SERVICE_ACCOUNT_EWS),
        poll_min_s=ews_settings.poll_min_s,
        poll_max_s=ews_settings.poll_max_s,
        max_parallel=ews_settings.max_parallel_mailboxes,
    )
    router = CommandRouter(ownership, routes, graph.handle_commands, ews.handle_commands)
    commands = command_consumer(kafka, graph_settings.group_id, router.handle, ownership)
    health.set("kafka", True)
    health.set("postgres", True)
    try:
        await asyncio.gather(
            ownership.follow_roster(kafka, stop),
            follow_control(graph, kafka, stop),
            follow_control(ews, kafka, stop),
            commands.run(stop),
            graph.run_polling(stop),
            ews.run_polling(stop),
        )
    finally:
        await graph_client.aclose()
        await ews_client.aclose()
        await producer.stop()
        await pool.close()
