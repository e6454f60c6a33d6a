"""The EWS transport against the EWS simulator over real HTTPS, with the real broker (change
events) and database (SyncState cursors)."""

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
from ewsclient.client import EwsClient
from ewsclient.folders import ensure_sync_folder
from exchange_connector.ews.capture import EwsMailboxCapture
from exchange_connector.offsets import CursorStore
from simulators.common.server import BackgroundServer
from simulators.common.tls import ServerTLS, load_or_create_tls
from simulators.ews.app import create_app
from syncmodel.codec import decode_changes
from syncmodel.kinds import Kind, Side
from syncmodel.messages import ChangeEvent, Command, CommandAction
from syncmodel.records import Contact, Event
from syncmodel.topics import CHANGES
from syncruntime.kafka import create_producer, ensure_topics
from syncruntime.postgres import create_pool
from syncruntime.settings import KafkaSettings, PostgresSettings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def ews_sim(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[BackgroundServer, ServerTLS]]:
    tls = load_or_create_tls(Path(tmp_path_factory.mktemp("xc-ews-ca")))
    with BackgroundServer(create_app(tls, seed_value=None), tls) as server:
        yield server, tls


@dataclass
class Sim:
    control: httpx.AsyncClient
    credentials: dict[str, Any]
    ca_file: Path

    async def new_mailbox(self, impersonable: bool = True) -> str:
        smtp = f"rep-{uuid.uuid4().hex[:8]}@contoso-sim.example"
        response = await self.control.post(
            "/_sim/mailboxes", json={"smtp": smtp, "impersonable": impersonable}
        )
        assert response.status_code == 201
        return smtp

    async def state(self, smtp: str) -> dict[str, Any]:
        body = (await self.control.get("/_sim/state", params={"mailbox": smtp})).json()
        return dict(body["mailboxes"][0])

    def client(self, **kw: Any) -> EwsClient:
        options: dict[str, Any] = {"ews_url": self.credentials["ews_url"], **kw}
        return EwsClient(
            self.credentials["username"],
            self.credentials["password"],
            ca_bundle=self.ca_file,
            **options,
        )


@pytest.fixture
async def sim(ews_sim: tuple[BackgroundServer, ServerTLS]) -> AsyncIterator[Sim]:
    server, tls = ews_sim
    verify = ssl.create_default_context(cafile=str(tls.ca_file))
    async with httpx.AsyncClient(base_url=server.base_url, verify=verify) as control:
        credentials = (await control.get("/_sim/credentials")).json()
        yield Sim(control, credentials, tls.ca_file)
        await control.post("/_sim/throttle", json={"count": 0})


@pytest.fixture
async def client(sim: Sim) -> AsyncIterator[EwsClient]:
    ews = sim.client()
    yield ews
    await ews.aclose()


@pytest.fixture
async def producer(kafka_settings: KafkaSettings) -> AsyncIterator[AIOKafkaProducer]:
    await ensure_topics(kafka_settings)
    producer = await create_producer(kafka_settings, client_id="xc-ews-test")
    yield producer
    await producer.stop()


@pytest.fixture
async def cursors(postgres_settings: PostgresSettings) -> AsyncIterator[CursorStore]:
    pool = await create_pool(postgres_settings)
    yield CursorStore(pool)
    await pool.close()


@pytest.fixture
async def capture(
    sim: Sim, client: EwsClient, producer: AIOKafkaProducer, cursors: CursorStore
) -> EwsMailboxCapture:
    mailbox = await sim.new_mailbox()
    folder_id = await ensure_sync_folder(client, mailbox)
    return EwsMailboxCapture(
        tenant=f"t-{uuid.uuid4().hex[:8]}",
        user=f"005{uuid.uuid4().hex[:12]}",
        mailbox=mailbox,
        client=client,
        producer=producer,
        cursors=cursors,
        folder_id=folder_id,
    )


class ChangesReader:
    """Reads `syncline.changes` from the offsets current at creation, filtered by tenant."""

    def __init__(self, consumer: AIOKafkaConsumer, tenant: str) -> None:
        self.consumer, self.tenant = consumer, tenant

    async def read(self, count: int, timeout_s: float = 15.0) -> list[ChangeEvent]:
        found: list[ChangeEvent] = []
        deadline = asyncio.get_running_loop().time() + timeout_s
        while len(found) < count and asyncio.get_running_loop().time() < deadline:
            batches = await self.consumer.getmany(timeout_ms=200)
            for records in batches.values():
                for record in records:
                    message = decode_changes(record.value)
                    if isinstance(message, ChangeEvent) and message.tenant == self.tenant:
                        found.append(message)
        return found


@pytest.fixture
async def changes(
    kafka_settings: KafkaSettings, capture: EwsMailboxCapture
) -> AsyncIterator[ChangesReader]:
    consumer = AIOKafkaConsumer(
        CHANGES, bootstrap_servers=kafka_settings.bootstrap, enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    while not consumer.assignment():  # noqa: ASYNC110 (no event for "assignment ready")
        await asyncio.sleep(0.05)
    parts = list(consumer.assignment())
    await consumer.seek_to_end(*parts)
    for tp in parts:
        await consumer.position(tp)
    yield ChangesReader(consumer, capture.tenant)
    await consumer.stop()


def command(
    capture: EwsMailboxCapture,
    kind: Kind,
    action: CommandAction,
    record: Contact | Event | None = None,
    record_id: str | None = None,
    if_version: str | None = None,
    notify: bool = False,
) -> Command:
    return Command(
        id=f"cmd-{uuid.uuid4().hex[:10]}",
        tenant=capture.tenant,
        user=capture.user,
        side=Side.EXCHANGE,
        kind=kind,
        action=action,
        link_id=f"link-{uuid.uuid4().hex[:8]}",
        record_id=record_id,
        if_version=if_version,
        record=record,
        notify_attendees=notify,
        mailbox=capture.mailbox,
        issued_ts=dt.datetime.now(dt.UTC),
    )
