"""Capture against the Salesforce simulator and the real broker + database: snapshot (op=r),
per-user baselines closed by `initial_sync_completed`, incremental changes on SystemModstamp
with overlap dedupe, deletes via getDeleted, series and relations, and a rebaseline when the
delete log has a gap (issue 5 "Capture"; protocols.md C4, C8, C9, C13)."""

from __future__ import annotations

import datetime as dt

import pytest
from salesforce_connector.baseline import Baselines
from salesforce_connector.client import SalesforceClient
from salesforce_connector.offsets import BaselineStore, CursorStore
from salesforce_connector.roster import Audience
from salesforce_connector.settings import SalesforceSettings
from salesforce_connector.stream import Capture
from syncmodel.kinds import Kind, Op
from syncmodel.messages import ChangeEvent, ConnectorState, ConnectorStatus, bus_key
from syncmodel.records import Event, EventType, Sensitivity

from tests.integration.salesforce_connector.conftest import Published, Sim, everyone

pytestmark = pytest.mark.integration


def _shifted(
    settings: SalesforceSettings,
    client: SalesforceClient,
    cursors: CursorStore,
    published: Published,
    audience: Audience,
    offset: dict[str, float],
) -> Capture:
    """A capture whose clock runs `offset["s"]` seconds off (getDeleted works in whole
    minutes, so tests move time instead of waiting)."""
    return Capture(
        settings,
        client,
        cursors,
        published,
        audience=lambda: audience,
        clock=lambda: dt.datetime.now(dt.UTC) + dt.timedelta(seconds=offset["s"]),
    )


def _events(published: Published) -> list[ChangeEvent]:
    return [m for _, _, m in published.messages if isinstance(m, ChangeEvent)]


async def test_first_poll_is_a_snapshot_then_only_changes(
    sim: Sim,
    sf_settings: SalesforceSettings,
    client: SalesforceClient,
    cursors: CursorStore,
    published: Published,
) -> None:
    audience = everyone(sim, sf_settings.tenant)
    capture = Capture(sf_settings, client, cursors, published, audience=lambda: audience)
    baselines = Baselines(capture, BaselineStore(cursors.pool, sf_settings.tenant))
    await capture.poll_once()
    assert await baselines.run(audience) == set(audience.users())
    events = _events(published)
    assert {e.op for e in events} == {Op.READ}
    assert all(e.cause == "snapshot" for e in events)
    by_kind = {k: [e for e in events if e.kind is k] for k in Kind}
    reps = set(audience.users())
    owned = [r for r in sim.live("Contact") if r["OwnerId"] in reps]
    assert len(by_kind[Kind.CONTACT]) == len(owned) == 20
    assert len(by_kind[Kind.USER]) == len(sim.live("User"))
    assert len(by_kind[Kind.ACCOUNT]) == 8
    assert len(by_kind[Kind.LEAD]) == 6
    # Series occurrences are implied by the master's RRULE; everything else is published.
    occurrences = [
        r
        for r in sim.live("Event")
        if r["IsRecurrence2"] and not r["IsRecurrence2Series"] and not r["IsRecurrence2Exception"]
    ]
    assert len(by_kind[Kind.EVENT]) == len(sim.live("Event")) - len(occurrences)
    contact = by_kind[Kind.CONTACT][0]
    assert published.messages[[m for _, _, m in published.messages].index(contact)][1] == bus_key(
        sf_settings.tenant, contact.user
    )
    assert contact.user in {r["id"] for r in sim.seeded["reps"]}
    records = [e.after for e in by_kind[Kind.EVENT] if isinstance(e.after, Event)]
    masters = [r for r in records if r.event_type is EventType.SERIES_MASTER]
    assert masters
    assert masters[0].recurrence is not None
    assert masters[0].recurrence.rrule.startswith("FREQ=WEEKLY")
    assert any(r.classic_recurrence for r in records)
    assert any(r.is_all_day and r.start_date and r.end_date for r in records)
    assert any(r.sensitivity is Sensitivity.PRIVATE for r in records)
    assert (await cursors.load("Contact")).watermark is not None
    # Series: the exception names its series record; EventRelation rows fill `related`.
    exceptions = [
        e
        for e in by_kind[Kind.EVENT]
        if isinstance(e.after, Event) and e.after.event_type is EventType.EXCEPTION
    ]
    assert exceptions
    master_ids = {
        e.record_id
        for e in by_kind[Kind.EVENT]
        if isinstance(e.after, Event) and e.after.event_type is EventType.SERIES_MASTER
    }
    assert all(
        isinstance(e.after, Event) and e.after.series_master_id in master_ids for e in exceptions
    )
    who = [r for r in sim.live("Event") if r["WhoId"]]
    assert who
    related = {
        e.record_id: e.after.related for e in by_kind[Kind.EVENT] if isinstance(e.after, Event)
    }
    assert any(r.id == who[0]["WhoId"] and r.is_who for r in related[who[0]["Id"]])

    # The barrier (reconciler contract): per rep, in-progress, then every record, then completed.
    for rep in reps:
        mine = [
            (i, m)
            for i, (_, k, m) in enumerate(published.messages)
            if k == bus_key(sf_settings.tenant, rep)
        ]
        states = [(i, m.state) for i, m in mine if isinstance(m, ConnectorStatus)]
        assert [s for _, s in states] == [
            ConnectorState.INITIAL_SYNC_IN_PROGRESS,
            ConnectorState.INITIAL_SYNC_COMPLETED,
        ]
        at = [
            i
            for i, m in mine
            if isinstance(m, ChangeEvent) and m.kind in (Kind.CONTACT, Kind.EVENT)
        ]
        assert at
        assert states[0][0] < min(at)
        assert max(at) < states[1][0]
        assert all(
            isinstance(m, ConnectorStatus) and m.user == rep for i, m in mine if i in dict(states)
        )
    published.messages.clear()
    assert await baselines.run(audience) == set()  # nothing new: no snapshot, no status
    assert published.messages == []

    # Incremental: one update and one create, nothing else, then a quiet poll publishes nothing.
    published.messages.clear()
    target = sim.live("Contact")[0]["Id"]
    token = (await client.auth.session()).access_token
    base = f"{(await client.auth.session()).instance_url}/services/data/v62.0"
    headers = {"Authorization": f"Bearer {token}"}
    assert (
        sim.http.patch(
            f"{base}/sobjects/Contact/{target}", json={"Title": "Chief Buyer"}, headers=headers
        ).status_code
        == 204
    )
    created = sim.http.post(
        f"{base}/sobjects/Contact",
        json={"LastName": "Newman", "OwnerId": sim.seeded["reps"][1]["id"]},
        headers=headers,
    ).json()["id"]
    await capture.poll_once()
    changes = {e.record_id: e for e in _events(published)}
    assert set(changes) == {target, created}
    assert changes[target].op is Op.UPDATE
    assert changes[created].op is Op.CREATE
    assert changes[created].user == sim.seeded["reps"][1]["id"]
    published.messages.clear()
    assert await capture.poll_once() == 0


async def test_deletes_via_get_deleted_keyed_by_owner(
    sim: Sim,
    sf_settings: SalesforceSettings,
    client: SalesforceClient,
    cursors: CursorStore,
    published: Published,
) -> None:
    offset = {"s": -300.0}
    sim.settings(clock_offset_s=-300)
    sim.seed()
    audience = everyone(sim, sf_settings.tenant)
    capture = _shifted(sf_settings, client, cursors, published, audience, offset)
    await capture.poll_once()
    victim = sim.live("Contact")[3]
    sim.settings(clock_offset_s=-200)
    token = (await client.auth.session()).access_token
    base = f"{(await client.auth.session()).instance_url}/services/data/v62.0"
    assert (
        sim.http.delete(
            f"{base}/sobjects/Contact/{victim['Id']}", headers={"Authorization": f"Bearer {token}"}
        ).status_code
        == 204
    )
    sim.settings(clock_offset_s=0)
    offset["s"] = 0.0
    published.messages.clear()
    await capture.poll_once()
    deletes = [e for e in _events(published) if e.op is Op.DELETE]
    assert [(e.record_id, e.user, e.kind) for e in deletes] == [
        (victim["Id"], victim["OwnerId"], Kind.CONTACT)
    ]


async def test_delete_log_gap_triggers_a_rebaseline(
    sim: Sim,
    sf_settings: SalesforceSettings,
    client: SalesforceClient,
    cursors: CursorStore,
    published: Published,
) -> None:
    offset = {"s": -300.0}
    audience = everyone(sim, sf_settings.tenant)
    capture = _shifted(sf_settings, client, cursors, published, audience, offset)
    await capture.poll_once()
    sim.http.post("/_sim/purge-delete-log")  # the platform pruned the log: deletes unknowable
    offset["s"] = 0.0
    published.messages.clear()
    await capture.poll_once()
    rebaselined = [e for e in _events(published) if e.cause == "rebaseline"]
    assert {e.record_id for e in rebaselined if e.kind is Kind.CONTACT} == {
        r["Id"] for r in sim.live("Contact")
    }


async def test_quiet_poll_costs_nine_api_calls(
    sim: Sim,
    sf_settings: SalesforceSettings,
    client: SalesforceClient,
    cursors: CursorStore,
    published: Published,
) -> None:
    """Benchmark row "API calls per polling hour for an idle org": one quiet cycle is 5 SOQL
    queries (User, Account, Lead, Contact, Event) + 4 getDeleted calls, whatever the org size."""
    offset = {"s": 0.0}
    audience = everyone(sim, sf_settings.tenant)
    capture = _shifted(sf_settings, client, cursors, published, audience, offset)
    await capture.poll_once()
    await Baselines(capture, BaselineStore(cursors.pool, sf_settings.tenant)).run(audience)
    offset["s"] = 120.0  # two minutes later: every getDeleted window is due
    before = sim.used()
    assert await capture.poll_once() == 0
    assert sim.used() - before == 9


async def test_two_edits_within_one_second_are_both_published(
    sim: Sim,
    sf_settings: SalesforceSettings,
    client: SalesforceClient,
    cursors: CursorStore,
    published: Published,
) -> None:
    """SystemModstamp has second precision: an edit in the same second as the previous capture
    shares its stamp, and must still be published (found end to end: a Salesforce edit made
    right after the create never reached Outlook)."""
    audience = everyone(sim, sf_settings.tenant)
    capture = Capture(sf_settings, client, cursors, published, audience=lambda: audience)
    baselines = Baselines(capture, BaselineStore(cursors.pool, sf_settings.tenant))
    await capture.poll_once()
    await baselines.run(audience)
    session = await client.auth.session()
    base = f"{session.instance_url}/services/data/v62.0"
    headers = {"Authorization": f"Bearer {session.access_token}"}
    owner = sim.seeded["reps"][0]["id"]
    for _ in range(3):  # retried if the second ticks between the create and the edit
        published.messages.clear()
        created = sim.http.post(
            f"{base}/sobjects/Contact",
            json={"LastName": "Quick", "Title": "First", "OwnerId": owner},
            headers=headers,
        ).json()["id"]
        await capture.poll_once()
        sim.http.patch(
            f"{base}/sobjects/Contact/{created}", json={"Title": "Second"}, headers=headers
        ).raise_for_status()
        [row] = [r for r in sim.live("Contact") if r["Id"] == created]
        first = [e for e in _events(published) if e.record_id == created]
        if first and first[0].version and first[0].version.startswith(str(row["SystemModstamp"])):
            break
    else:
        pytest.skip("the clock ticked between create and edit three times")
    published.messages.clear()
    await capture.poll_once()
    [edit] = [e for e in _events(published) if e.record_id == created]
    assert edit.op is Op.UPDATE
    assert edit.after is not None
    assert getattr(edit.after, "title", None) == "Second"
    assert edit.version != first[0].version
    assert edit.source_ts == first[0].source_ts  # the same second
    published.messages.clear()
    assert await capture.poll_once() == 0  # and the overlap re-read doesn't publish it twice


async def test_ls45_contacts_nobody_syncs_feed_the_auto_relate_directory(
    sim: Sim,
    sf_settings: SalesforceSettings,
    client: SalesforceClient,
    cursors: CursorStore,
    published: Published,
) -> None:
    """A contact owned by someone who doesn't sync is still a relation target for the reps'
    meetings (LS-45): it goes out keyed by its owner on the first run, and its later creates
    and deletes follow."""
    offset = {"s": -300.0}
    sim.settings(clock_offset_s=-300)
    sim.seed()
    audience = everyone(sim, sf_settings.tenant)
    reps = set(audience.users())
    session = await client.auth.session()
    base = f"{session.instance_url}/services/data/v62.0"
    headers = {"Authorization": f"Bearer {session.access_token}"}
    outsider = next(u["Id"] for u in sim.live("User") if u["Id"] not in reps)

    def create(last_name: str, email: str) -> str:
        body = {"LastName": last_name, "Email": email, "OwnerId": outsider}
        return str(
            sim.http.post(f"{base}/sobjects/Contact", json=body, headers=headers).json()["id"]
        )

    known = create("Outsider", "outsider@partner.example")
    capture = _shifted(sf_settings, client, cursors, published, audience, offset)
    await capture.poll_once()
    directory = [e for e in _events(published) if e.user not in reps and e.kind is Kind.CONTACT]
    assert [(e.record_id, e.user, e.op, e.cause) for e in directory] == [
        (known, outsider, Op.READ, "directory")
    ]
    sim.settings(clock_offset_s=-200)
    later = create("Latecomer", "late@partner.example")
    assert sim.http.delete(f"{base}/sobjects/Contact/{known}", headers=headers).status_code == 204
    sim.settings(clock_offset_s=0)
    offset["s"] = 0.0
    published.messages.clear()
    await capture.poll_once()
    assert {
        (e.record_id, e.op)
        for e in _events(published)
        if e.user == outsider and e.kind is Kind.CONTACT
    } == {
        (later, Op.CREATE),
        (known, Op.DELETE),
    }


async def test_a_delete_is_published_by_the_next_poll_and_only_once(
    sim: Sim,
    sf_settings: SalesforceSettings,
    client: SalesforceClient,
    cursors: CursorStore,
    published: Published,
) -> None:
    """A delete shows in the next poll's queryAll (no wait for getDeleted's whole minutes), and
    getDeleted, once its window has passed, does not publish it again (C8)."""
    offset = {"s": 0.0}
    sim.seed()
    audience = everyone(sim, sf_settings.tenant)
    capture = _shifted(sf_settings, client, cursors, published, audience, offset)
    await capture.poll_once()
    victim = sim.live("Contact")[5]
    session = await client.auth.session()
    headers = {"Authorization": f"Bearer {session.access_token}"}
    url = f"{session.instance_url}/services/data/v62.0/sobjects/Contact/{victim['Id']}"
    assert sim.http.delete(url, headers=headers).status_code == 204
    published.messages.clear()
    await capture.poll_once()
    deletes = [e for e in _events(published) if e.op is Op.DELETE]
    assert [(e.record_id, e.user) for e in deletes] == [(victim["Id"], victim["OwnerId"])]
    # Two minutes on, getDeleted covers the delete too: nothing is published twice.
    offset["s"] = 150.0
    sim.settings(clock_offset_s=150)
    published.messages.clear()
    await capture.poll_once()
    assert [e for e in _events(published) if e.op is Op.DELETE] == []
