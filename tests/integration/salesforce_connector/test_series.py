"""Series against the Salesforce simulator (LS-33/LS-11; protocols.md C13 "Recurrence2"): a
written series' cancelled occurrences (exdates) are deleted as occurrence records, idempotently
and in one collection call, and capture never turns an occurrence's delete into a delete of the
series (neither ours nor a rep's)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from salesforce_connector.client import SalesforceClient
from salesforce_connector.offsets import CursorStore
from salesforce_connector.settings import SalesforceSettings
from salesforce_connector.sink import CommandSink
from salesforce_connector.stream import Capture
from syncmodel.kinds import Kind, Op, Side
from syncmodel.messages import ChangeEvent, Command, CommandAction, OutcomeStatus
from syncmodel.records import Event, EventType, Recurrence

from tests.integration.salesforce_connector.conftest import Published, Sim, everyone

pytestmark = pytest.mark.integration
NOW = dt.datetime.now(dt.UTC)
FIRST = dt.datetime(2031, 3, 3, 9, tzinfo=dt.UTC)  # a Monday
WEEK = dt.timedelta(weeks=1)


def _series(
    sim: Sim,
    subject: str,
    exdates: tuple[dt.date | dt.datetime, ...],
    *,
    action: CommandAction = CommandAction.CREATE,
    link_id: str | None = None,
    record_id: str | None = None,
) -> Command:
    rep = sim.seeded["reps"][0]["id"]
    return Command(
        id=f"cmd-{uuid.uuid4().hex}",
        tenant="t",
        user=rep,
        side=Side.SALESFORCE,
        kind=Kind.EVENT,
        action=action,
        link_id=link_id or f"link-{uuid.uuid4().hex}",
        record_id=record_id,
        record=Event(
            subject=subject,
            start=FIRST,
            end=FIRST + dt.timedelta(minutes=30),
            event_type=EventType.SERIES_MASTER,
            recurrence=Recurrence(
                rrule="FREQ=WEEKLY;INTERVAL=1;BYDAY=MO;WKST=SU;COUNT=4",
                time_zone="UTC",
                start_date=FIRST.date(),
                exdates=exdates,
            ),
        ),
        issued_ts=NOW,
    )


def _starts(sim: Sim, subject: str) -> list[str]:
    return sorted(r["StartDateTime"] for r in sim.live("Event") if r["Subject"] == subject)


def _stamp(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.000+0000")


async def test_cancelled_occurrences_are_deleted_once_and_a_retry_is_clean(
    sim: Sim, sf_settings: SalesforceSettings, client: SalesforceClient
) -> None:
    sink = CommandSink(sf_settings, client)
    command = _series(sim, "Team sync", (FIRST + WEEK, FIRST + 2 * WEEK))
    await client.auth.session()
    before = sim.used()
    [outcome] = await sink.apply([command])
    assert outcome.status is OutcomeStatus.APPLIED, outcome.error
    # upsert + series look-up + its occurrences + one collection delete + version read-back
    assert sim.used() - before == 5
    assert _starts(sim, "Team sync") == [_stamp(FIRST), _stamp(FIRST + 3 * WEEK)]
    series = [r for r in sim.live("Event") if r["Subject"] == "Team sync"]
    assert {r["Id"]: r["IsRecurrence2Series"] for r in series}[str(outcome.record_id)] is True

    before = sim.used()
    [again] = await sink.apply([command])  # redelivered: the occurrences are already gone
    assert again.status is OutcomeStatus.APPLIED, again.error
    assert again.record_id == outcome.record_id
    assert sim.used() - before == 4  # nothing left to delete: no delete call
    assert _starts(sim, "Team sync") == [_stamp(FIRST), _stamp(FIRST + 3 * WEEK)]


async def test_an_update_with_a_new_exdate_removes_that_occurrence_too(
    sim: Sim, sf_settings: SalesforceSettings, client: SalesforceClient
) -> None:
    sink = CommandSink(sf_settings, client)
    create = _series(sim, "Pipeline clinic", ())
    [created] = await sink.apply([create])
    assert created.status is OutcomeStatus.APPLIED, created.error
    assert len(_starts(sim, "Pipeline clinic")) == 4
    update = _series(
        sim,
        "Pipeline clinic",
        (FIRST + 3 * WEEK,),
        action=CommandAction.UPDATE,
        link_id=create.link_id,
        record_id=created.record_id,
    )
    [updated] = await sink.apply([update])
    assert updated.status is OutcomeStatus.APPLIED, updated.error
    assert _starts(sim, "Pipeline clinic") == [_stamp(FIRST + n * WEEK) for n in range(3)]
    # An exdate the pattern doesn't have, and one on the series record itself (the first
    # occurrence: deleting it would delete the series), leave the series as it is.
    odd = update.model_copy(update={"id": f"cmd-{uuid.uuid4().hex}"})
    assert isinstance(odd.record, Event)
    assert odd.record.recurrence is not None
    recurrence = odd.record.recurrence.model_copy(
        update={"exdates": (FIRST, FIRST + 3 * WEEK, FIRST + dt.timedelta(days=2))}
    )
    odd = odd.model_copy(
        update={"record": odd.record.model_copy(update={"recurrence": recurrence})}
    )
    [kept] = await sink.apply([odd])
    assert kept.status is OutcomeStatus.APPLIED, kept.error
    assert _starts(sim, "Pipeline clinic") == [_stamp(FIRST + n * WEEK) for n in range(3)]


async def test_an_all_day_series_cancels_by_date(
    sim: Sim, sf_settings: SalesforceSettings, client: SalesforceClient
) -> None:
    sink = CommandSink(sf_settings, client)
    day = FIRST.date()
    command = _series(sim, "Offsite", (day + dt.timedelta(weeks=2),))
    assert isinstance(command.record, Event)
    record = command.record.model_copy(
        update={
            "is_all_day": True,
            "start": None,
            "end": None,
            "start_date": day,
            "end_date": day + dt.timedelta(days=1),
        }
    )
    [outcome] = await sink.apply([command.model_copy(update={"record": record})])
    assert outcome.status is OutcomeStatus.APPLIED, outcome.error
    days = sorted(r["ActivityDate"] for r in sim.live("Event") if r["Subject"] == "Offsite")
    assert days == [str(day + dt.timedelta(weeks=n)) for n in (0, 1, 3)]


async def test_occurrence_deletes_never_become_a_delete_of_the_series(
    sim: Sim,
    sf_settings: SalesforceSettings,
    client: SalesforceClient,
    cursors: CursorStore,
    published: Published,
) -> None:
    """Our exdate deletes, and a rep deleting one occurrence, publish nothing; deleting the
    series record publishes one delete, of the series record only."""
    offset = {"s": -300.0}
    sim.settings(clock_offset_s=-300)
    sim.seed()
    audience = everyone(sim, sf_settings.tenant)
    capture = Capture(
        sf_settings,
        client,
        cursors,
        published,
        audience=lambda: audience,
        clock=lambda: dt.datetime.now(dt.UTC) + dt.timedelta(seconds=offset["s"]),
    )
    await capture.poll_once()
    sim.settings(clock_offset_s=-200)
    sink = CommandSink(sf_settings, client)
    [outcome] = await sink.apply([_series(sim, "Team sync", (FIRST + WEEK,))])
    assert outcome.status is OutcomeStatus.APPLIED, outcome.error
    session = await client.auth.session()
    base = f"{session.instance_url}/services/data/v62.0"
    headers = {"Authorization": f"Bearer {session.access_token}"}
    rows = sorted(
        (r for r in sim.live("Event") if r["Subject"] == "Team sync"),
        key=lambda r: r["StartDateTime"],
    )
    assert len(rows) == 3
    rep_deleted = rows[1]["Id"]  # a rep deletes one occurrence in Salesforce
    assert (
        sim.http.delete(f"{base}/sobjects/Event/{rep_deleted}", headers=headers).status_code == 204
    )
    sim.settings(clock_offset_s=0)
    offset["s"] = 0.0
    published.messages.clear()
    await capture.poll_once()
    events = [m for _, _, m in published.messages if isinstance(m, ChangeEvent)]
    assert [e for e in events if e.op is Op.DELETE] == []
    published_ids = {e.record_id for e in events}
    assert outcome.record_id in published_ids  # the series record itself is published
    assert rep_deleted not in published_ids

    # Deleting the whole series: one delete, of the series record (occurrences go with it).
    series_id = str(outcome.record_id)
    assert sim.http.delete(f"{base}/sobjects/Event/{series_id}", headers=headers).status_code == 204
    assert _starts(sim, "Team sync") == []
    sim.settings(clock_offset_s=120)  # getDeleted wants a window of more than a minute
    offset["s"] = 120.0
    published.messages.clear()
    await capture.poll_once()
    deletes = [
        e for _, _, e in published.messages if isinstance(e, ChangeEvent) and e.op is Op.DELETE
    ]
    assert [(e.record_id, e.kind) for e in deletes] == [(series_id, Kind.EVENT)]


def _exception(sim: Sim, subject: str, original: dt.datetime, start: dt.datetime) -> Command:
    return Command(
        id=f"cmd-{uuid.uuid4().hex}",
        tenant="t",
        user=sim.seeded["reps"][0]["id"],
        side=Side.SALESFORCE,
        kind=Kind.EVENT,
        action=CommandAction.CREATE,
        link_id=f"link-{uuid.uuid4().hex}",
        record=Event(
            subject=subject,
            start=start,
            end=start + dt.timedelta(minutes=30),
            event_type=EventType.EXCEPTION,
            original_start=original,
        ),
        issued_ts=NOW,
    )


async def test_an_exception_edits_the_occurrence_at_its_original_start(
    sim: Sim, sf_settings: SalesforceSettings, client: SalesforceClient
) -> None:
    sink = CommandSink(sf_settings, client)
    series = _series(sim, "Team sync", (FIRST + 2 * WEEK,))
    moved = FIRST + WEEK + dt.timedelta(hours=1)
    exception = _exception(sim, "Team sync (moved)", FIRST + WEEK, moved)
    stray = _exception(sim, "Team sync (stray)", FIRST + 9 * WEEK, FIRST + 9 * WEEK)
    # Series and exception in one batch: the series is written first.
    outcomes = await sink.apply([exception, series, stray])
    assert [o.status for o in outcomes] == [OutcomeStatus.APPLIED] * 3, outcomes
    rows = {r["Id"]: r for r in sim.live("Event") if str(r["Subject"]).startswith("Team sync")}
    edited = rows[str(outcomes[0].record_id)]
    assert (edited["Subject"], edited["StartDateTime"]) == ("Team sync (moved)", _stamp(moved))
    assert edited["IsRecurrence2Exception"] is True
    assert edited["Syncline_Id__c"] == exception.link_id
    assert sorted(r["StartDateTime"] for r in rows.values() if r["Subject"] == "Team sync") == [
        _stamp(FIRST),
        _stamp(FIRST + 3 * WEEK),
    ]
    # No occurrence at the stray's original start: it is written as an event of its own.
    assert rows[str(outcomes[2].record_id)]["IsRecurrence2"] is False
    assert len(rows) == 4

    again = await sink.apply([exception, series, stray])  # redelivered: nothing new
    assert [o.record_id for o in again] == [o.record_id for o in outcomes]
    assert len([r for r in sim.live("Event") if str(r["Subject"]).startswith("Team sync")]) == 4
