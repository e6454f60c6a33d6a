"""The process wiring: `exchange_connector.main.run` with `SYNCLINE_EXCHANGE_METHOD=
service_account_ews` follows the real roster topic, polls the rostered mailbox over EWS and
reports it connected on `syncline.changes` (real broker, database and HTTPS simulator)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import uuid

import pytest
from aiokafka import AIOKafkaConsumer
from exchange_connector.main import run
from syncmodel.codec import decode_changes
from syncmodel.kinds import Direction
from syncmodel.messages import ConnectorState, ConnectorStatus, RosterEntry, bus_key
from syncmodel.topics import CHANGES, ROSTER
from syncruntime.kafka import create_producer, ensure_topics, publish
from syncruntime.service import Health
from syncruntime.settings import KafkaSettings

from tests.integration.exchange_connector_ews.conftest import Sim

pytestmark = pytest.mark.integration


async def test_the_ews_method_runs_as_a_service(
    sim: Sim, kafka_settings: KafkaSettings, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant, user = f"t-{uuid.uuid4().hex[:8]}", f"005{uuid.uuid4().hex[:12]}"
    mailbox = await sim.new_mailbox()
    for name, value in {
        "SYNCLINE_EXCHANGE_METHOD": "service_account_ews",
        "SYNCLINE_EXCHANGE_TENANT": tenant,
        "SYNCLINE_EXCHANGE_EWS_URL": sim.credentials["ews_url"],
        "SYNCLINE_EXCHANGE_EWS_USERNAME": sim.credentials["username"],
        "SYNCLINE_EXCHANGE_EWS_PASSWORD": sim.credentials["password"],
        "SYNCLINE_EXCHANGE_EWS_AUTH": "ntlm",
        "SYNCLINE_EXCHANGE_CA_BUNDLE": str(sim.ca_file),
        "SYNCLINE_EXCHANGE_GROUP_ID": f"xc-ews-{uuid.uuid4().hex[:6]}",
        "SYNCLINE_KAFKA_BOOTSTRAP": kafka_settings.bootstrap,
        "SYNCLINE_DATABASE_URL": database_url,
    }.items():
        monkeypatch.setenv(name, value)
    await ensure_topics(kafka_settings)
    consumer = AIOKafkaConsumer(
        CHANGES, bootstrap_servers=kafka_settings.bootstrap, enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    stop, health = asyncio.Event(), Health()
    service = asyncio.create_task(run(stop, health))
    try:
        while not consumer.assignment():  # noqa: ASYNC110 (no event for "assignment ready")
            await asyncio.sleep(0.05)
        await consumer.seek_to_end(*consumer.assignment())
        for tp in consumer.assignment():
            await consumer.position(tp)
        producer = await create_producer(kafka_settings, client_id="xc-ews-roster")
        entry = RosterEntry(
            tenant=tenant,
            user=user,
            email=mailbox,
            mailbox=mailbox,
            active=True,
            contacts=Direction.BOTH,
            events=Direction.BOTH,
            settings_digest="test",
            ts=dt.datetime.now(dt.UTC),
        )
        await publish(producer, ROSTER, bus_key(tenant, user), entry)
        await producer.stop()
        states: list[ConnectorState] = []
        deadline = asyncio.get_running_loop().time() + 25
        while ConnectorState.CONNECTED not in states:
            assert asyncio.get_running_loop().time() < deadline, states
            assert not service.done(), service
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for record in records:
                    message = decode_changes(record.value)
                    if isinstance(message, ConnectorStatus) and message.tenant == tenant:
                        states.append(message.state)
        assert states[0] is ConnectorState.INITIAL_SYNC_IN_PROGRESS
        assert health.ready
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(service, timeout=15)
        await consumer.stop()
    names = {f["name"] for f in (await sim.state(mailbox))["folders"]}
    assert "Salesforce_Sync" in names
