"""The connector follows the roster and the control topic (ARCHITECTURE.md "Who syncs"; the
reconciler's initial-sync barrier, reconciler/consumer.py; LS-24 contact filters; LS-83 reset).

Capture-level tests use a frozen `Audience`; the service test runs the whole `Connector` on the
real broker with its own roster and control topics and the simulator over HTTPS.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import pytest
from salesforce_connector.baseline import Baselines
from salesforce_connector.client import SalesforceClient
from salesforce_connector.main import Connector
from salesforce_connector.offsets import BaselineStore, CursorStore
from salesforce_connector.roster import Audience
from salesforce_connector.settings import SalesforceSettings
from salesforce_connector.stream import Capture
from syncmodel.kinds import Direction, Kind, Op
from syncmodel.messages import (
    ChangeEvent,
    ConnectorState,
    ConnectorStatus,
    Control,
    ControlAction,
    bus_key,
)
from syncruntime.kafka import ensure_topics, publish
from syncruntime.kafka.topics import TopicSpec
from syncruntime.settings import KafkaSettings

from tests.integration.salesforce_connector.conftest import Published, Sim, entry

pytestmark = pytest.mark.integration


def _changes(published: Published, kind: Kind) -> list[ChangeEvent]:
    return [m for _, _, m in published.messages if isinstance(m, ChangeEvent) and m.kind is kind]


def _completed(published: Published, user: str) -> int:
    return sum(
        1
        for _, _, m in published.messages
        if isinstance(m, ConnectorStatus)
        and m.user == user
        and m.state is ConnectorState.INITIAL_SYNC_COMPLETED
    )


async def test_only_active_rostered_users_and_their_kinds_are_published(
    sim: Sim,
    sf_settings: SalesforceSettings,
    client: SalesforceClient,
    cursors: CursorStore,
    published: Published,
) -> None:
    tenant = sf_settings.tenant
    rep0, rep1 = (r["id"] for r in sim.seeded["reps"])
    audience = Audience.of(
        [
            entry(tenant, rep0, events=Direction.NONE),  # contacts only
            entry(tenant, rep1, active=False),  # not syncing at all
        ]
    )
    capture = Capture(sf_settings, client, cursors, published, audience=lambda: audience)
    baselines = Baselines(capture, BaselineStore(cursors.pool, tenant))
    await capture.poll_once()
    assert await baselines.run(audience) == {rep0}
    everything = _changes(published, Kind.CONTACT)
    contacts = [c for c in everything if c.cause != "directory"]
    assert {c.record_id for c in contacts} == {
        r["Id"] for r in sim.live("Contact") if r["OwnerId"] == rep0
    }
    assert {c.user for c in contacts} == {rep0}
    # LS-45: the contacts nobody syncs go out once for the auto-relate directory, keyed by their
    # owner (who doesn't sync, so the reconciler only indexes them).
    directory = [c for c in everything if c.cause == "directory"]
    assert {(c.record_id, c.user) for c in directory} == {
        (r["Id"], rep1) for r in sim.live("Contact") if r["OwnerId"] == rep1 and r["Email"]
    }
    assert _changes(published, Kind.EVENT) == []
    # Users always (they feed the roster), leads for auto-relate, keyed to their owner.
    assert {u.record_id for u in _changes(published, Kind.USER)} >= {rep0, rep1}
    assert len(_changes(published, Kind.LEAD)) == len(sim.live("Lead"))
    assert _completed(published, rep0) == 1
    assert _completed(published, rep1) == 0

    # Incremental: a change to rep0's contact is published to rep0; one to rep1's contact only
    # feeds the directory (keyed by rep1, who doesn't sync).
    published.messages.clear()
    session = await client.auth.session()
    headers = {"Authorization": f"Bearer {session.access_token}"}
    base = f"{session.instance_url}/services/data/v62.0/sobjects/Contact"
    theirs = next(r["Id"] for r in sim.live("Contact") if r["OwnerId"] == rep1)
    mine = next(r["Id"] for r in sim.live("Contact") if r["OwnerId"] == rep0)
    sim.settings(clock_offset_s=2)  # stamps have second precision: edit in a later second
    for record_id in (theirs, mine):
        sim.http.patch(f"{base}/{record_id}", json={"Title": "VP"}, headers=headers)
    await capture.poll_once()
    assert sorted((c.record_id, c.user, c.op) for c in _changes(published, Kind.CONTACT)) == sorted(
        [(mine, rep0, Op.UPDATE), (theirs, rep1, Op.UPDATE)]
    )

    # rep1 becomes active for events: their events alone are snapshotted, then completed.
    published.messages.clear()
    audience = Audience.of(
        [entry(tenant, rep0, events=Direction.NONE), entry(tenant, rep1, contacts=Direction.NONE)]
    )
    assert await baselines.run(audience) == {rep1}
    events = _changes(published, Kind.EVENT)
    assert events
    assert {e.user for e in events} == {rep1}
    assert {e.op for e in events} == {Op.READ}
    assert _changes(published, Kind.CONTACT) == []
    last_event = max(i for i, (_, _, m) in enumerate(published.messages) if m in events)
    done = next(
        i
        for i, (_, k, m) in enumerate(published.messages)
        if isinstance(m, ConnectorStatus) and m.state is ConnectorState.INITIAL_SYNC_COMPLETED
    )
    assert done > last_event


async def test_all_accessible_contacts_reach_the_user_and_my_records_only_own(
    sim: Sim,
    sf_settings: SalesforceSettings,
    client: SalesforceClient,
    cursors: CursorStore,
    published: Published,
) -> None:
    """LS-24: `all_accessible` = every contact of the org (approximation, see roster.py)."""
    tenant = sf_settings.tenant
    rep0, rep1 = (r["id"] for r in sim.seeded["reps"])
    audience = Audience.of(
        [entry(tenant, rep0), entry(tenant, rep1, contact_filter="all_accessible")]
    )
    capture = Capture(sf_settings, client, cursors, published, audience=lambda: audience)
    await capture.poll_once()
    await Baselines(capture, BaselineStore(cursors.pool, tenant)).run(audience)
    contacts = _changes(published, Kind.CONTACT)
    every = {r["Id"] for r in sim.live("Contact")}
    assert {c.record_id for c in contacts if c.user == rep1} == every
    assert {c.record_id for c in contacts if c.user == rep0} == {
        r["Id"] for r in sim.live("Contact") if r["OwnerId"] == rep0
    }
    keys = {k for _, k, m in published.messages if isinstance(m, ChangeEvent) and m.user == rep1}
    assert keys == {bus_key(tenant, rep1)}


async def test_service_follows_roster_and_reset_control_on_the_broker(
    sim: Sim,
    sf_settings: SalesforceSettings,
    client: SalesforceClient,
    cursors: CursorStore,
    published: Published,
    kafka_settings: KafkaSettings,
) -> None:
    suffix = uuid.uuid4().hex[:8]
    settings = sf_settings.model_copy(
        update={
            "consumer_group": f"sf-roster-{suffix}",
            "roster_topic": f"test.sf.roster.{suffix}",
            "control_topic": f"test.sf.control.{suffix}",
            "poll_interval_s": 3600,  # only roster changes and controls wake the loop
        }
    )
    await ensure_topics(
        kafka_settings,
        [
            TopicSpec(settings.roster_topic, configs={"cleanup.policy": "compact"}),
            TopicSpec(settings.control_topic),
        ],
        partitions=2,
    )
    tenant, rep = settings.tenant, sim.seeded["reps"][0]["id"]
    connector = Connector(settings, kafka_settings, client, published.producer, cursors)
    connector._publish = published  # type: ignore[method-assign]
    connector._publish_many = published.many  # type: ignore[method-assign]
    stop = asyncio.Event()
    task = asyncio.create_task(connector.run(stop))

    async def until(condition: object, what: str) -> None:
        for _ in range(200):
            if callable(condition) and condition():
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}")

    try:
        # Empty roster: users, accounts and leads, and contacts only for the auto-relate
        # directory (LS-45: nobody syncs them); the tenant reports `connected`.
        await until(lambda: connector.cycles >= 1, "the first cycle")
        directory = _changes(published, Kind.CONTACT)
        assert {c.cause for c in directory} == {"directory"}
        assert {c.record_id for c in directory} == {
            r["Id"] for r in sim.live("Contact") if r["Email"]
        }
        assert _changes(published, Kind.EVENT) == []
        assert _changes(published, Kind.USER)
        await until(lambda: connector.state is ConnectorState.CONNECTED, "connected")
        tenant_status = [(k, m) for _, k, m in published.messages if isinstance(m, ConnectorStatus)]
        assert (bus_key(tenant, "_tenant"), None) in {(k, m.user) for k, m in tenant_status}

        # The reconciler rosters the rep: snapshot of their records, then completed.
        await publish(
            published.producer, settings.roster_topic, bus_key(tenant, rep), entry(tenant, rep)
        )
        await until(lambda: _completed(published, rep) == 1, "initial sync completed")
        snapshot = [
            c for c in _changes(published, Kind.CONTACT) if c.user == rep and c.cause != "directory"
        ]
        assert {c.record_id for c in snapshot} == {
            r["Id"] for r in sim.live("Contact") if r["OwnerId"] == rep
        }
        assert {c.cause for c in snapshot} == {"snapshot"}

        # reset_sync of the rep's contacts: re-read (cause reset), completed again; no events.
        published.messages.clear()
        control = Control(
            id=f"ctl-{suffix}",
            tenant=tenant,
            action=ControlAction.RESET_SYNC,
            user=rep,
            kind=Kind.CONTACT,
            requested_ts=dt.datetime.now(dt.UTC),
        )
        await publish(published.producer, settings.control_topic, tenant, control)
        await until(lambda: _completed(published, rep) == 1, "completed after reset")
        again = _changes(published, Kind.CONTACT)
        assert {c.record_id for c in again} == {c.record_id for c in snapshot}
        assert {(c.cause, c.op) for c in again} == {("reset", Op.READ)}
        assert _changes(published, Kind.EVENT) == []

        # The rep leaves the roster: nothing of theirs is published any more.
        await publish(
            published.producer,
            settings.roster_topic,
            bus_key(tenant, rep),
            entry(tenant, rep, active=False),
        )
        await until(lambda: not connector.roster.audience().entries, "roster update")
        assert connector.roster.audience().users() == []
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)
