"""Apply against the Salesforce simulator: batched idempotent creates, exact API call counts,
per-record failures, session expiry mid-batch, 412 conflicts, quota exhaustion and resume
(issue 5 "Apply" and "API budget governor"; protocols.md C5-C7, C11)."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import pytest
from salesforce_connector.client import SalesforceClient
from salesforce_connector.errors import QuotaExhausted
from salesforce_connector.main import Connector
from salesforce_connector.offsets import CursorStore
from salesforce_connector.settings import SalesforceSettings
from salesforce_connector.sink import CommandSink
from syncmodel.kinds import Kind, Side
from syncmodel.messages import (
    Command,
    CommandAction,
    ConnectorState,
    ConnectorStatus,
    OutcomeStatus,
)
from syncmodel.records import Contact, Event
from syncruntime.settings import KafkaSettings

from tests.integration.salesforce_connector.conftest import Published, Sim

pytestmark = pytest.mark.integration
NOW = dt.datetime.now(dt.UTC)


def _create(sim: Sim, n: int, **fields: object) -> Command:
    rep = sim.seeded["reps"][n % 2]["id"]
    return Command(
        id=f"cmd-{uuid.uuid4().hex}",
        tenant="t",
        user=rep,
        side=Side.SALESFORCE,
        kind=Kind.CONTACT,
        action=CommandAction.CREATE,
        link_id=f"link-{uuid.uuid4().hex}",
        record=Contact(
            **{
                "first_name": "Bulk",
                "last_name": f"Contact {n}",
                "email": f"bulk{n}@example.com",
                **fields,
            }
        ),
        issued_ts=NOW,
    )


async def test_250_creates_take_four_calls_and_a_retry_never_duplicates(
    sim: Sim, sf_settings: SalesforceSettings, client: SalesforceClient
) -> None:
    sink = CommandSink(sf_settings, client)
    commands = [_create(sim, n) for n in range(250)]
    await client.auth.session()  # the token call is not an API call
    before = sim.used()
    outcomes = await sink.apply(commands)
    # 2 collection upserts (200 + 50) + 2 read-backs of SystemModstamp for echo suppression.
    assert sim.used() - before == 4
    assert [o.status for o in outcomes] == [OutcomeStatus.APPLIED] * 250
    assert all(o.version and o.record_id and o.record_id.startswith("003") for o in outcomes)
    rows = {r["Syncline_Id__c"]: r for r in sim.live("Contact") if r["Syncline_Id__c"]}
    assert len(rows) == 250
    assert rows[commands[1].link_id]["OwnerId"] == commands[1].user  # the rep owns it (LS-13)
    again = await sink.apply(commands)  # redelivery after a crash before the outcome
    assert [o.record_id for o in again] == [o.record_id for o in outcomes]
    assert len([r for r in sim.live("Contact") if r["Syncline_Id__c"]]) == 250


async def test_lookup_mode_finds_the_record_of_a_retried_create(
    sim: Sim, sf_settings: SalesforceSettings, client: SalesforceClient
) -> None:
    sink = CommandSink(sf_settings.model_copy(update={"idempotency": "lookup"}), client)
    commands = [_create(sim, n) for n in range(3)]
    first = await sink.apply(commands)
    second = await sink.apply(commands)
    assert [o.record_id for o in first] == [o.record_id for o in second]
    assert len([r for r in sim.live("Contact") if r["Syncline_Id__c"]]) == 3


async def test_per_record_failure_inside_a_batch_is_classified(
    sim: Sim, sf_settings: SalesforceSettings, client: SalesforceClient
) -> None:
    sink = CommandSink(sf_settings, client)
    commands = [_create(sim, 0), _create(sim, 1, last_name="x" * 81), _create(sim, 2)]
    outcomes = await sink.apply(commands)
    assert [o.status for o in outcomes] == [
        OutcomeStatus.APPLIED,
        OutcomeStatus.FAILED,
        OutcomeStatus.APPLIED,
    ]
    error = outcomes[1].error
    assert error is not None
    assert error.code == "STRING_TOO_LONG"
    assert not error.retryable
    assert error.remediation


async def test_session_expiry_mid_batch_reauthenticates_without_losing_work(
    sim: Sim, sf_settings: SalesforceSettings, client: SalesforceClient
) -> None:
    sink = CommandSink(sf_settings, client)
    await sink.apply([_create(sim, 0)])
    assert client.auth.logins == 1
    sim.http.post("/_sim/expire-sessions")
    outcomes = await sink.apply([_create(sim, n) for n in range(1, 6)])
    assert client.auth.logins == 2
    assert all(o.status is OutcomeStatus.APPLIED for o in outcomes)


async def test_conditional_update_gives_conflict_when_salesforce_changed_first(
    sim: Sim, sf_settings: SalesforceSettings, client: SalesforceClient
) -> None:
    sink = CommandSink(sf_settings, client)
    created = (await sink.apply([_create(sim, 0)]))[0]
    seen_version = created.version
    assert seen_version is not None

    def update(title: str, version: str) -> Command:
        return Command(
            id=f"cmd-{uuid.uuid4().hex}",
            tenant="t",
            user=created.user,
            side=Side.SALESFORCE,
            kind=Kind.CONTACT,
            action=CommandAction.UPDATE,
            link_id=created.link_id,
            record_id=created.record_id,
            if_version=version,
            record=Contact(first_name="Bulk", last_name="Contact 0", title=title),
            issued_ts=NOW,
        )

    ok = (await sink.apply([update("Buyer", seen_version)]))[0]
    assert ok.status is OutcomeStatus.APPLIED
    stale = "2000-01-01T00:00:00.000+0000"  # the reconciler saw an older version
    conflict = (await sink.apply([update("Seller", stale)]))[0]
    assert conflict.status is OutcomeStatus.CONFLICT
    row = next(r for r in sim.live("Contact") if r["Id"] == created.record_id)
    assert row["Title"] == "Buyer"


async def test_event_create_and_delete_are_idempotent(
    sim: Sim, sf_settings: SalesforceSettings, client: SalesforceClient
) -> None:
    sink = CommandSink(sf_settings, client)
    rep = sim.seeded["reps"][0]["id"]
    start = dt.datetime(2026, 5, 4, 15, 0, tzinfo=dt.UTC)
    create = Command(
        id="cmd-ev",
        tenant="t",
        user=rep,
        side=Side.SALESFORCE,
        kind=Kind.EVENT,
        action=CommandAction.CREATE,
        link_id=f"link-{uuid.uuid4().hex}",
        record=Event(subject="Demo", start=start, end=start + dt.timedelta(hours=1)),
        issued_ts=NOW,
    )
    created = (await sink.apply([create]))[0]
    assert created.status is OutcomeStatus.APPLIED
    delete = create.model_copy(
        update={
            "id": "cmd-del",
            "action": CommandAction.DELETE,
            "record": None,
            "record_id": created.record_id,
        }
    )
    assert (await sink.apply([delete]))[0].status is OutcomeStatus.APPLIED
    assert (await sink.apply([delete]))[0].status is OutcomeStatus.APPLIED  # already gone


async def test_budget_share_and_request_limit_exceeded_pause_then_resume(
    sim: Sim,
    sf_settings: SalesforceSettings,
    client: SalesforceClient,
    published: Published,
    kafka_settings: KafkaSettings,
    cursors: CursorStore,
) -> None:
    # Our share (50%) of a 1,000-call allocation is spent after one more call: the governor
    # stops us before Salesforce has to.
    sim.quota(allocation=1000, used=498)
    sink = CommandSink(sf_settings, client)
    await sink.apply([_create(sim, 0)])  # upsert + read-back → used 500/1000
    used = sim.used()
    with pytest.raises(QuotaExhausted):
        await sink.apply([_create(sim, 1)])
    assert sim.used() == used  # refused locally, no call made

    # The org itself runs dry (other integrations): 403 REQUEST_LIMIT_EXCEEDED → pause with a
    # tenant status, then resume once calls are allowed again.
    client.governor.share = 1.0
    await asyncio.sleep(sf_settings.quota_pause_s)
    sim.quota(allocation=1000, used=1000)
    connector = Connector(sf_settings, kafka_settings, client, published.producer, cursors)
    connector._publish = published  # type: ignore[method-assign]
    connector._publish_many = published.many  # type: ignore[method-assign]
    stop = asyncio.Event()

    async def refill() -> None:
        await asyncio.sleep(1.2)
        sim.quota(allocation=100_000, used=0)

    refill_task = asyncio.create_task(refill())
    command = _create(sim, 2)
    outcomes = await connector.guarded(stop, lambda: connector.sink.apply([command]))
    await refill_task
    assert outcomes is not None
    assert outcomes[0].status is OutcomeStatus.APPLIED
    statuses = [m for _, _, m in published.messages if isinstance(m, ConnectorStatus)]
    assert statuses
    assert statuses[0].state is ConnectorState.QUOTA_EXHAUSTED
    assert statuses[0].next_attempt_ts is not None
    # Paused, not hot-looping: a handful of attempts over ~1.2 s with a 0.5 s pause.
    assert 1 <= len(statuses) <= 4


async def test_act_as_rep_makes_the_rep_created_and_last_modified_by(
    sim: Sim, sf_settings: SalesforceSettings, client: SalesforceClient
) -> None:
    """LS-13: written as the rep (JWT `sub` = rep's username), so "Last Modified By" is the rep."""
    settings = sf_settings.model_copy(update={"act_as_rep": True})
    sink = CommandSink(settings, client)
    commands = [_create(sim, 0), _create(sim, 2), _create(sim, 1)]  # reps 0, 0 and 1
    before = sim.used()
    outcomes = await sink.apply(commands)
    assert all(o.status is OutcomeStatus.APPLIED for o in outcomes)
    # 1 User look-up + one upsert per rep + 1 read-back of the versions.
    assert sim.used() - before == 4
    assert client.auth.logins == 3  # the integration user and each rep
    rows = {r["Id"]: r for r in sim.live("Contact")}
    for command, outcome in zip(commands, outcomes, strict=True):
        assert outcome.record_id is not None
        assert rows[outcome.record_id]["LastModifiedById"] == command.user
        assert rows[outcome.record_id]["CreatedById"] == command.user
