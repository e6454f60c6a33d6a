"""The Salesforce simulator (HTTPS, local CA) + the real broker and database for connector tests."""

from __future__ import annotations

import datetime as dt
import ssl
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
import pytest
from pydantic import BaseModel
from salesforce_connector.client import SalesforceClient
from salesforce_connector.offsets import CursorStore
from salesforce_connector.roster import Audience
from salesforce_connector.settings import SalesforceSettings
from simulators.common.server import BackgroundServer
from simulators.common.tls import load_or_create_tls
from simulators.salesforce.app import create_app
from syncmodel.kinds import Direction
from syncmodel.messages import RosterEntry
from syncruntime.kafka import create_producer, ensure_topics, publish, publish_many
from syncruntime.postgres import create_pool
from syncruntime.settings import KafkaSettings, PostgresSettings

pytestmark = pytest.mark.integration
NOW = dt.datetime.now(dt.UTC)


def entry(
    tenant: str,
    user: str,
    *,
    active: bool = True,
    contacts: Direction = Direction.BOTH,
    events: Direction = Direction.BOTH,
    contact_filter: Literal["my_records", "all_accessible"] = "my_records",
) -> RosterEntry:
    """A roster entry as the reconciler publishes it."""
    return RosterEntry(
        tenant=tenant,
        user=user,
        email=f"{user}@example.com",
        mailbox=f"{user}@example.com",
        active=active,
        contacts=contacts,
        events=events,
        contact_filter=contact_filter,
        settings_digest="d",
        ts=NOW,
    )


def everyone(sim: Sim, tenant: str) -> Audience:
    """Both seeded reps syncing contacts (their own) and events."""
    return Audience.of(entry(tenant, rep["id"]) for rep in sim.seeded["reps"])


@pytest.fixture(scope="module")
def sf_server() -> Iterator[BackgroundServer]:
    tls = load_or_create_tls()
    with BackgroundServer(create_app(ca_pem=tls.ca_pem), tls=tls) as server:
        yield server


@dataclass
class Sim:
    """Control of the simulated org (the `/_sim` API) for arranging and asserting."""

    http: httpx.Client
    seeded: dict[str, Any] = field(default_factory=dict)

    def seed(self, **request: Any) -> dict[str, Any]:
        self.seeded = self.http.post("/_sim/seed", json={"seed": 3, "reps": 2, **request}).json()
        return self.seeded

    def rows(self, object_name: str) -> list[dict[str, Any]]:
        state: dict[str, list[dict[str, Any]]] = self.http.get(
            "/_sim/state", params={"object": object_name}
        ).json()
        return state[object_name]

    def live(self, object_name: str) -> list[dict[str, Any]]:
        return [r for r in self.rows(object_name) if not r["IsDeleted"]]

    def used(self) -> int:
        return int(self.http.get("/_sim/quota").json()["used"])

    def quota(self, **body: int) -> None:
        self.http.post("/_sim/quota", json=body)

    def settings(self, **body: float) -> None:
        self.http.post("/_sim/settings", json=body)


@pytest.fixture
def sim(sf_server: BackgroundServer) -> Iterator[Sim]:
    assert sf_server.tls is not None
    ctx = ssl.create_default_context(cafile=str(sf_server.tls.ca_file))
    with httpx.Client(base_url=sf_server.base_url, verify=ctx) as http:
        handle = Sim(http)
        handle.settings(session_timeout_s=7200, clock_offset_s=0, delete_log_retention_days=15)
        handle.quota(allocation=100_000, used=0)
        handle.seed()
        yield handle


@pytest.fixture
def sf_settings(sim: Sim, sf_server: BackgroundServer) -> SalesforceSettings:
    creds = sim.http.get("/_sim/credentials").json()
    assert sf_server.tls is not None
    return SalesforceSettings(
        tenant=f"t-{uuid.uuid4().hex[:8]}",
        login_url=creds["login_url"],
        client_id=creds["client_id"],
        username=creds["username"],
        private_key_pem=creds["private_key_pem"],
        ca_bundle=sf_server.tls.ca_file,
        quota_pause_s=0.5,
        overlap_s=120,
    )


@pytest.fixture
async def client(sf_settings: SalesforceSettings) -> AsyncIterator[SalesforceClient]:
    c = SalesforceClient(sf_settings)
    yield c
    await c.aclose()


@pytest.fixture
async def cursors(
    postgres_settings: PostgresSettings, sf_settings: SalesforceSettings
) -> AsyncIterator[CursorStore]:
    pool = await create_pool(postgres_settings)
    yield CursorStore(pool, sf_settings.tenant)
    await pool.close()


@dataclass
class Published:
    """Publishes through the real broker (awaiting acks) and remembers what was acked."""

    producer: Any
    messages: list[tuple[str, str, BaseModel]] = field(default_factory=list)

    async def __call__(self, topic: str, key: str, message: BaseModel) -> None:
        await publish(self.producer, topic, key, message)
        self.messages.append((topic, key, message))

    async def many(self, items: list[tuple[str, str, BaseModel]]) -> None:
        await publish_many(self.producer, items)
        self.messages.extend(items)


@pytest.fixture
async def published(kafka_settings: KafkaSettings) -> AsyncIterator[Published]:
    await ensure_topics(kafka_settings)
    producer = await create_producer(kafka_settings, client_id="sf-connector-test")
    yield Published(producer)
    await producer.stop()
