"""Auto-relate writes and reads (LS-45..48): an event create with several related contacts is one
Composite call (Event, then EventRelation rows via `@{ref.id}`, protocols.md C7), a retried
create adds nothing, an update adds only what is missing, and capture fills `Event.related`
from WhoId + EventRelation (protocols.md C13 "EventRelation")."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from salesforce_connector.baseline import Baselines
from salesforce_connector.client import SalesforceClient
from salesforce_connector.offsets import BaselineStore, CursorStore
from salesforce_connector.settings import SalesforceSettings
from salesforce_connector.sink import CommandSink
from salesforce_connector.stream import Capture
from syncmodel.kinds import Kind, Side
from syncmodel.messages import ChangeEvent, Command, CommandAction, OutcomeStatus
from syncmodel.records import Event, RelatedRecord

from tests.integration.salesforce_connector.conftest import Published, Sim, everyone

pytestmark = pytest.mark.integration
START = dt.datetime(2026, 6, 1, 14, 0, tzinfo=dt.UTC)


def _event_command(rep: str, related: tuple[RelatedRecord, ...], link_id: str) -> Command:
    return Command(
        id=f"cmd-{uuid.uuid4().hex}",
        tenant="t",
        user=rep,
        side=Side.SALESFORCE,
        kind=Kind.EVENT,
        action=CommandAction.CREATE,
        link_id=link_id,
        record=Event(
            subject="Quarterly review",
            start=START,
            end=START + dt.timedelta(hours=1),
            related=related,
        ),
        issued_ts=dt.datetime.now(dt.UTC),
    )


def _relations(sim: Sim, event_id: str) -> list[str]:
    return sorted(r["RelationId"] for r in sim.live("EventRelation") if r["EventId"] == event_id)


async def test_related_contacts_are_written_in_one_composite_and_read_back(
    sim: Sim,
    sf_settings: SalesforceSettings,
    client: SalesforceClient,
    cursors: CursorStore,
    published: Published,
) -> None:
    rep = sim.seeded["reps"][0]["id"]
    contacts = [r["Id"] for r in sim.live("Contact") if r["OwnerId"] == rep][:4]
    related = (
        RelatedRecord(id=contacts[0], kind="contact", is_who=True),
        RelatedRecord(id=contacts[1], kind="contact"),
        RelatedRecord(id=contacts[2], kind="contact"),
    )
    plain = _event_command(rep, (), f"link-{uuid.uuid4().hex}")
    command = _event_command(rep, related, f"link-{uuid.uuid4().hex}")
    sink = CommandSink(sf_settings, client)
    await client.auth.session()
    before = sim.used()
    outcomes = await sink.apply([plain, command])
    # 1 collection upsert (the plain event) + 1 composite (event + 2 relations) + 1 read-back.
    assert sim.used() - before == 3
    assert [o.status for o in outcomes] == [OutcomeStatus.APPLIED] * 2
    event_id = outcomes[1].record_id
    assert event_id is not None
    row = next(r for r in sim.live("Event") if r["Id"] == event_id)
    assert row["WhoId"] == contacts[0]
    assert row["OwnerId"] == rep
    assert _relations(sim, event_id) == sorted(contacts[1:3])
    assert _relations(sim, str(outcomes[0].record_id)) == []

    # Redelivered after a crash: the same event, no second relation row.
    again = await sink.apply([command])
    assert again[0].status is OutcomeStatus.APPLIED
    assert again[0].record_id == event_id
    assert _relations(sim, event_id) == sorted(contacts[1:3])
    assert len([r for r in sim.live("Event") if r["Syncline_Id__c"] == command.link_id]) == 1

    # An update relating one more contact adds just that one (look-up + one collection call).
    update = command.model_copy(
        update={
            "id": f"cmd-{uuid.uuid4().hex}",
            "action": CommandAction.UPDATE,
            "record_id": event_id,
            "record": Event(
                subject="Quarterly review (moved)",
                start=START,
                end=START + dt.timedelta(hours=1),
                related=(*related, RelatedRecord(id=contacts[3], kind="contact")),
            ),
        }
    )
    assert (await sink.apply([update]))[0].status is OutcomeStatus.APPLIED
    assert _relations(sim, event_id) == sorted(contacts[1:4])

    # Capture reads WhoId + EventRelation back into `related`.
    audience = everyone(sim, sf_settings.tenant)
    capture = Capture(sf_settings, client, cursors, published, audience=lambda: audience)
    await capture.poll_once()
    await Baselines(capture, BaselineStore(cursors.pool, sf_settings.tenant)).run(audience)
    captured = next(
        m
        for _, _, m in published.messages
        if isinstance(m, ChangeEvent) and m.record_id == event_id
    )
    assert isinstance(captured.after, Event)
    assert {(r.id, r.is_who) for r in captured.after.related} == {
        (contacts[0], True),
        (contacts[1], False),
        (contacts[2], False),
        (contacts[3], False),
    }


async def test_relations_beyond_one_composite_call_are_all_written(
    sim: Sim, sf_settings: SalesforceSettings, client: SalesforceClient
) -> None:
    """Salesforce relates up to 50 contacts; a Composite call holds 25 subrequests."""
    rep = sim.seeded["reps"][0]["id"]
    session = await client.auth.session()
    headers = {"Authorization": f"Bearer {session.access_token}"}
    url = f"{session.instance_url}/services/data/v62.0/sobjects/Contact"
    ids = [
        sim.http.post(url, json={"LastName": f"Guest {n}"}, headers=headers).json()["id"]
        for n in range(30)
    ]
    related = tuple(RelatedRecord(id=i, kind="contact", is_who=n == 0) for n, i in enumerate(ids))
    command = _event_command(rep, related, f"link-{uuid.uuid4().hex}")
    outcome = (await CommandSink(sf_settings, client).apply([command]))[0]
    assert outcome.status is OutcomeStatus.APPLIED
    assert outcome.record_id is not None
    assert _relations(sim, outcome.record_id) == sorted(ids[1:])
