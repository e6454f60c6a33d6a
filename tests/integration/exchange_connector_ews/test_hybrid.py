"""A hybrid organization in one process: the on-premises mailbox through EWS (EWS simulator),
the Exchange Online mailbox through Graph (Graph simulator), sharing ownership, roster, cursors
table and the command consumer (ews/hybrid.py). Real HTTPS, broker and database."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from ewsclient.client import EwsClient
from exchange_connector.auth import AppCredentials, TokenProvider
from exchange_connector.client import GraphClient
from exchange_connector.ews.hybrid import CommandRouter, MailboxRoutes, RoutedOwnership
from exchange_connector.ews.service import EwsConnector
from exchange_connector.ews.settings import ConnectionMethod
from exchange_connector.offsets import CursorStore
from exchange_connector.ownership import Ownership
from exchange_connector.service import Connector
from simulators.common.server import BackgroundServer
from simulators.common.tls import ServerTLS, load_or_create_tls
from simulators.graph.app import create_app
from syncmodel.codec import decode_changes
from syncmodel.kinds import Direction, Kind, Side
from syncmodel.messages import (
    ChangeEvent,
    Command,
    CommandAction,
    CommandOutcome,
    OutcomeStatus,
    RosterEntry,
    bus_key,
)
from syncmodel.records import Contact
from syncmodel.topics import CHANGES, COMMANDS_EXCHANGE
from syncruntime.kafka import Consumed
from syncruntime.settings import KafkaSettings

from tests.integration.exchange_connector_ews.conftest import Sim

pytestmark = pytest.mark.integration
ONPREM = "onprem.contoso-sim.example"


@pytest.fixture(scope="module")
def graph_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ServerTLS]]:
    tls = load_or_create_tls(Path(tmp_path_factory.mktemp("hybrid-graph-ca")))
    with BackgroundServer(create_app(tls, seed_value=None), tls) as server:
        yield server.base_url, tls


@pytest.fixture
async def graph_client(graph_sim: tuple[str, ServerTLS]) -> AsyncIterator[tuple[GraphClient, str]]:
    base_url, tls = graph_sim
    verify = ssl.create_default_context(cafile=str(tls.ca_file))
    async with httpx.AsyncClient(base_url=base_url, verify=verify) as control:
        c = (await control.get("/_sim/credentials")).json()
        upn = f"online-{uuid.uuid4().hex[:6]}@contoso-sim.example"
        await control.post("/_sim/users", json={"upn": upn})
    tokens = TokenProvider(
        AppCredentials(
            authority=c["authority"],
            client_id=c["client_id"],
            client_secret=c["client_secret"],
            ca_bundle=tls.ca_file,
            instance_discovery=False,
        )
    )
    client = GraphClient(c["graph_base_url"], tokens, ca_bundle=tls.ca_file, backoff_base_s=0.05)
    yield client, upn
    await client.aclose()


def _entry(ownership: Ownership, tenant: str, mailbox: str) -> RosterEntry:
    entry = RosterEntry(
        tenant=tenant,
        user=f"005{uuid.uuid4().hex[:12]}",
        email=mailbox,
        mailbox=mailbox,
        active=True,
        contacts=Direction.BOTH,
        events=Direction.NONE,
        settings_digest="test",
        ts=dt.datetime.now(dt.UTC),
    )
    ownership.roster[bus_key(tenant, entry.user)] = entry
    return entry


def _create(tenant: str, entry: RosterEntry, name: str) -> Consumed[Command]:
    command = Command(
        id=f"cmd-{uuid.uuid4().hex[:8]}",
        tenant=tenant,
        user=entry.user,
        side=Side.EXCHANGE,
        kind=Kind.CONTACT,
        action=CommandAction.CREATE,
        link_id=f"link-{name}",
        record=Contact(first_name=name, email=f"{name}@customer.example"),
        issued_ts=dt.datetime.now(dt.UTC),
    )
    return Consumed(COMMANDS_EXCHANGE, 0, 0, None, command, 0)


async def test_each_mailbox_syncs_through_its_own_transport(
    sim: Sim,
    client: EwsClient,
    graph_client: tuple[GraphClient, str],
    producer: AIOKafkaProducer,
    cursors: CursorStore,
    kafka_settings: KafkaSettings,
) -> None:
    graph, online = graph_client
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    onprem = f"rep-{uuid.uuid4().hex[:6]}@{ONPREM}"
    await sim.control.post("/_sim/mailboxes", json={"smtp": onprem})
    routes = MailboxRoutes.parse(ONPREM)
    shared = Ownership(partitions=1)
    shared.owned = {0}
    on_graph = Connector(
        tenant=tenant,
        client=graph,
        producer=producer,
        cursors=cursors,
        ownership=RoutedOwnership(shared, routes, ConnectionMethod.OAUTH2_GRAPH),
    )
    on_ews = EwsConnector(
        tenant=tenant,
        client=client,
        producer=producer,
        cursors=cursors,
        ownership=RoutedOwnership(shared, routes, ConnectionMethod.SERVICE_ACCOUNT_EWS),
    )
    local_user, online_user = _entry(shared, tenant, onprem), _entry(shared, tenant, online)
    consumer = AIOKafkaConsumer(
        CHANGES, bootstrap_servers=kafka_settings.bootstrap, enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    try:
        while not consumer.assignment():  # noqa: ASYNC110 (no event for "assignment ready")
            await asyncio.sleep(0.05)
        parts = list(consumer.assignment())
        await consumer.seek_to_end(*parts)
        for tp in parts:
            await consumer.position(tp)
        router = CommandRouter(shared, routes, on_graph.handle_commands, on_ews.handle_commands)
        await router.handle(
            [_create(tenant, local_user, "ada"), _create(tenant, online_user, "bo")]
        )
        assert await on_ews.poll_due() == 1
        assert await on_graph.poll_due() == 1
        found: list[ChangeEvent | CommandOutcome] = []
        deadline = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=15)
        while len(found) < 4 and dt.datetime.now(dt.UTC) < deadline:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for record in records:
                    message = decode_changes(record.value)
                    if message.tenant == tenant and isinstance(
                        message, ChangeEvent | CommandOutcome
                    ):
                        found.append(message)
    finally:
        await consumer.stop()
    outcomes = {m.user: m for m in found if isinstance(m, CommandOutcome)}
    assert {u: o.status for u, o in outcomes.items()} == {
        local_user.user: OutcomeStatus.APPLIED,
        online_user.user: OutcomeStatus.APPLIED,
    }
    reads = {m.user: m for m in found if isinstance(m, ChangeEvent)}
    assert reads[local_user.user].record_id == outcomes[local_user.user].record_id
    assert reads[online_user.user].record_id == outcomes[online_user.user].record_id
    # Each transport wrote into its own Exchange only.
    assert [i["kind"] for i in (await sim.state(onprem))["items"]] == ["Contact"]
    assert client.calls["CreateItem"] == 1
    assert set(on_ews.schedules) == {bus_key(tenant, local_user.user)}
    assert set(on_graph.schedules) == {bus_key(tenant, online_user.user)}
