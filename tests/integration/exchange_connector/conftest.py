"""The Exchange connector against the Graph simulator over HTTPS and the real broker/database."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from exchange_connector.auth import AppCredentials, TokenProvider
from exchange_connector.client import GraphClient
from exchange_connector.offsets import CursorStore
from exchange_connector.ownership import Ownership
from exchange_connector.service import Connector
from simulators.common.server import BackgroundServer
from simulators.common.tls import ServerTLS, load_or_create_tls
from simulators.graph.app import create_app
from syncmodel.codec import decode_changes
from syncmodel.kinds import Direction
from syncmodel.messages import ChangesMessage, RosterEntry, bus_key
from syncmodel.topics import CHANGES
from syncruntime.kafka import create_producer, ensure_topics
from syncruntime.postgres import create_pool
from syncruntime.settings import KafkaSettings, PostgresSettings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def graph_sim(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[BackgroundServer, ServerTLS]]:
    tls = load_or_create_tls(Path(tmp_path_factory.mktemp("xc-graph-ca")))
    with BackgroundServer(create_app(tls, seed_value=None), tls) as server:
        yield server, tls


@dataclass
class Sim:
    """The simulator's control API and an unrestricted Graph client for arranging data."""

    control: httpx.AsyncClient
    graph: httpx.AsyncClient
    credentials: dict[str, Any]
    ca_file: Path

    async def new_rep(
        self, sync_folder: bool = True, time_zone: str = "Pacific Standard Time"
    ) -> dict[str, Any]:
        upn = f"rep-{uuid.uuid4().hex[:8]}@contoso-sim.example"
        response = await self.control.post(
            "/_sim/users", json={"upn": upn, "sync_folder": sync_folder, "time_zone": time_zone}
        )
        return {"upn": upn, **response.json()}

    async def state(self, upn: str) -> dict[str, Any]:
        body: dict[str, Any] = (await self.control.get("/_sim/state", params={"user": upn})).json()
        return dict(body["users"][0])


@pytest.fixture
async def sim(graph_sim: tuple[BackgroundServer, ServerTLS]) -> AsyncIterator[Sim]:
    server, tls = graph_sim
    verify = ssl.create_default_context(cafile=str(tls.ca_file))
    async with httpx.AsyncClient(base_url=server.base_url, verify=verify) as control:
        credentials = (await control.get("/_sim/credentials")).json()
        token = (
            await control.post(
                f"/{credentials['tenant_id']}/oauth2/v2.0/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": credentials["client_id"],
                    "client_secret": credentials["client_secret"],
                    "scope": credentials["scope"],
                },
            )
        ).json()["access_token"]
        async with httpx.AsyncClient(
            base_url=credentials["graph_base_url"],
            verify=verify,
            headers={"Authorization": f"Bearer {token}", "Prefer": 'IdType="ImmutableId"'},
        ) as graph:
            yield Sim(control, graph, credentials, tls.ca_file)
        await control.delete("/_sim/faults")
        await control.post(
            "/_sim/config", json={"concurrency_limit": 4, "budget_per_window": 10_000}
        )


@pytest.fixture
async def producer(kafka_settings: KafkaSettings) -> AsyncIterator[AIOKafkaProducer]:
    await ensure_topics(kafka_settings)
    producer = await create_producer(kafka_settings, client_id="xc-test")
    yield producer
    await producer.stop()


@pytest.fixture
async def connector(
    sim: Sim, producer: AIOKafkaProducer, postgres_settings: PostgresSettings
) -> AsyncIterator[Connector]:
    pool = await create_pool(postgres_settings)
    c = sim.credentials
    tokens = TokenProvider(
        AppCredentials(
            authority=c["authority"],
            client_id=c["client_id"],
            client_secret=c["client_secret"],
            ca_bundle=sim.ca_file,
            instance_discovery=False,
        )
    )
    client = GraphClient(c["graph_base_url"], tokens, ca_bundle=sim.ca_file, backoff_base_s=0.05)
    ownership = Ownership(partitions=1)
    ownership.owned = {0}  # one replica owns everything
    connector = Connector(
        tenant=f"t-{uuid.uuid4().hex[:8]}",
        client=client,
        producer=producer,
        cursors=CursorStore(pool),
        ownership=ownership,
        window_past=dt.timedelta(days=30),
        window_future=dt.timedelta(days=120),
    )
    yield connector
    await client.aclose()
    await pool.close()


def roster_entry(connector: Connector, upn: str, user: str | None = None) -> RosterEntry:
    user = user or f"005{uuid.uuid4().hex[:12]}"
    entry = RosterEntry(
        tenant=connector.tenant,
        user=user,
        email=upn,
        mailbox=upn,
        active=True,
        contacts=Direction.BOTH,
        events=Direction.BOTH,
        settings_digest="test",
        ts=dt.datetime.now(dt.UTC),
    )
    connector.ownership.roster[bus_key(entry.tenant, entry.user)] = entry
    return entry


class ChangesReader:
    """Reads `syncline.changes` from the offsets current at creation, filtered by tenant."""

    def __init__(self, consumer: AIOKafkaConsumer, tenant: str) -> None:
        self.consumer, self.tenant = consumer, tenant

    async def read(self, count: int | None = None, idle_s: float = 1.0) -> list[ChangesMessage]:
        """Messages for our tenant until `count` arrived, or until idle for `idle_s`."""
        found: list[ChangesMessage] = []
        deadline = asyncio.get_running_loop().time() + 20
        quiet_since = asyncio.get_running_loop().time()
        while asyncio.get_running_loop().time() < deadline:
            batches = await self.consumer.getmany(timeout_ms=200)
            got = [decode_changes(r.value) for records in batches.values() for r in records]
            mine = [m for m in got if m.tenant == self.tenant]
            found += mine
            now = asyncio.get_running_loop().time()
            if mine:
                quiet_since = now
            if count is not None and len(found) >= count:
                return found
            if count is None and now - quiet_since > idle_s:
                return found
        return found


@pytest.fixture
async def changes(
    kafka_settings: KafkaSettings, connector: Connector
) -> AsyncIterator[ChangesReader]:
    await ensure_topics(kafka_settings)
    consumer = AIOKafkaConsumer(
        CHANGES, bootstrap_servers=kafka_settings.bootstrap, enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    while not consumer.assignment():  # noqa: ASYNC110 (no event for "assignment ready")
        await asyncio.sleep(0.05)
    parts = list(consumer.assignment())
    await consumer.seek_to_end(*parts)
    for tp in parts:  # materialize the end positions before the test produces anything
        await consumer.position(tp)
    yield ChangesReader(consumer, connector.tenant)
    await consumer.stop()
