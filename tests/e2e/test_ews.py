"""On-premises Exchange end to end (issue #10; LS-20..LS-22, LS-29..LS-36, LS-61..LS-63,
LS-82, ST-20..ST-41): reps whose mailboxes are in the EWS simulator, served by the exchange
connector in `hybrid` mode next to Graph reps of the same tenant. Each test uses its own rep
and configuration; the mailbox is driven over SOAP (tests/e2e/ews_helpers.py), Salesforce over
REST, and the outcome read back through the simulators' inspection APIs and the status API."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest

from tests.e2e.conftest import EWS_REPS, GRAPH_PEER
from tests.e2e.ews_helpers import EwsItem, EwsRep, ews_rep, utc_z
from tests.e2e.harness import SalesforceRep, System, wait_for

pytestmark = pytest.mark.e2e

CONTACTS = {"contacts": "both", "events": "none"}
EVENTS = {"contacts": "none", "events": "both", "remove_deleted_events": True}
QUIET_S = 5
"""Several poll rounds (services poll every 1..3 s in the e2e stack) without new writes."""


def _next_week(hour: int, days: int = 9) -> dt.datetime:
    day = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=days)
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=dt.UTC)


def _sf_time(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def _instant(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace("+0000", "+00:00"))


async def _sf_contacts(
    system: System, salesforce: SalesforceRep, rep: str, last_name: str
) -> list[dict[str, Any]]:
    return list(
        await salesforce.query(
            "SELECT Id, FirstName, LastName, Email, Title, OwnerId FROM Contact"
            f" WHERE OwnerId = '{system.reps[rep]}' AND LastName = '{last_name}'"
        )
    )


async def _sf_events(
    system: System, salesforce: SalesforceRep, rep: str, subject: str
) -> list[dict[str, Any]]:
    rows = await salesforce.query(
        "SELECT Id, Subject, StartDateTime, EndDateTime, Location"
        f" FROM Event WHERE OwnerId = '{system.reps[rep]}'"
    )
    return [r for r in rows if r["Subject"] == subject]


async def _errors(system: System, rep: str) -> list[dict[str, Any]]:
    """The rep's open per-record errors (LS-82), also shown when an assertion fails."""
    async with system.api() as api:
        r = await api.get("/errors", params={"user_id": system.reps[rep]})
        r.raise_for_status()
        return list(r.json()["items"])


async def _events_started(system: System, rep: str) -> None:
    """Wait until the rep's event sync has taken its initial snapshot (ST-36/ST-39): Salesforce
    events that exist before it are left alone until touched (LS-31), so a test's new
    Salesforce event must come after it to count as new."""

    async def started() -> bool:
        async with system.api() as api:
            r = await api.get(f"/users/{system.reps[rep]}")
            r.raise_for_status()
        states = [o["state"] for o in r.json()["user"]["objects"] if o["object"] == "event"]
        return bool(states) and all(s in ("initial_sync_completed", "in_sync") for s in states)

    await wait_for(started, within=60, what=f"the initial event sync of {rep}")


async def _ews_contacts(ews: EwsRep, surname: str) -> list[EwsItem]:
    return [c for c in await ews.contacts() if c.get("Surname") == surname]


async def _ews_events(ews: EwsRep, subject: str) -> list[EwsItem]:
    return [e for e in await ews.events() if e.get("Subject") == subject]


async def test_ls20_ls22_ews_contacts_sync_both_ways_without_duplicates(system: System) -> None:
    """LS-20/LS-21 over EWS (LS-61..LS-63: service account, NTLM, impersonation): a contact in
    the on-premises Salesforce_Sync folder becomes the rep's Salesforce contact, a Salesforce
    contact lands in that folder, edits follow both ways, and after a quiet period each person
    exists exactly once on each side. LS-22: a contact outside Salesforce_Sync stays put."""
    rep = EWS_REPS[0]
    await system.configure("ews-contacts", CONTACTS, [rep])
    async with system.http() as http:
        salesforce = await system.salesforce_rep(http)
        ews = await ews_rep(system, http, rep)
        await ews.sync_folder_id()  # created by the connector once the rep is rostered
        await ews.create_contact(
            "Charles",
            "Babbage",
            "charles@difference-engine.example",
            company="Analytical Engines",
            title="Inventor",
        )
        await ews.create_contact(
            "Emmy", "Noether", "emmy.noether@example.com", folder=await ews.contacts_root()
        )
        sf_id = await salesforce.create(
            "Contact",
            {
                "FirstName": "Hedy",
                "LastName": "Lamarr",
                "Email": "hedy.lamarr@frequency-hopping.example",
                "Title": "Actress",
                "OwnerId": system.reps[rep],
            },
        )

        async def babbage_in_salesforce() -> list[dict[str, Any]] | None:
            return await _sf_contacts(system, salesforce, rep, "Babbage") or None

        [babbage] = await wait_for(babbage_in_salesforce, within=60, what="Babbage in Salesforce")
        assert babbage["FirstName"] == "Charles"
        assert babbage["Email"] == "charles@difference-engine.example"
        assert babbage["Title"] == "Inventor"

        async def lamarr_in_ews() -> list[EwsItem] | None:
            return await _ews_contacts(ews, "Lamarr") or None

        [lamarr] = await wait_for(lamarr_in_ews, within=60, what="Lamarr in the EWS mailbox")
        assert lamarr.get("GivenName") == "Hedy"
        assert lamarr.get("JobTitle") == "Actress"
        assert lamarr.emails == ("hedy.lamarr@frequency-hopping.example",)

        # Edits both ways: Outlook (on premises) → Salesforce, Salesforce → Outlook.
        [babbage_ews] = await _ews_contacts(ews, "Babbage")
        await ews.set_field(babbage_ews, "contacts:JobTitle", "Contact", "JobTitle", "Polymath")
        await salesforce.update("Contact", sf_id, {"Title": "Inventor of FHSS"})

        async def edits_arrived() -> bool:
            [row] = await _sf_contacts(system, salesforce, rep, "Babbage")
            [item] = await _ews_contacts(ews, "Lamarr")
            return row["Title"] == "Polymath" and item.get("JobTitle") == "Inventor of FHSS"

        await wait_for(edits_arrived, within=60, what="both edits on the other side")
        await asyncio.sleep(QUIET_S)
        for surname in ("Babbage", "Lamarr"):
            assert len(await _ews_contacts(ews, surname)) == 1, surname
            assert len(await _sf_contacts(system, salesforce, rep, surname)) == 1, surname
        assert await _sf_contacts(system, salesforce, rep, "Noether") == []
        assert len(await ews.contacts()) == 2
        # What the connector wrote carries our marker, as on the Graph side (protocols.md B7).
        [lamarr] = await _ews_contacts(ews, "Lamarr")
        assert any(key.endswith(":SynclineMarker") for key in lamarr.extended), lamarr.extended


async def test_ls30_ls36_ews_events_sync_both_ways_with_updates_and_deletes(
    system: System,
) -> None:
    """LS-30/LS-34 over EWS: an appointment in the on-premises calendar reaches Salesforce at the
    same instant, a Salesforce event reaches the calendar, updates follow both ways, and with
    LS-36 on a delete on either side removes the other copy."""
    rep = EWS_REPS[1]
    await system.configure("ews-events", EVENTS, [rep])
    await _events_started(system, rep)
    async with system.http() as http:
        salesforce = await system.salesforce_rep(http)
        ews = await ews_rep(system, http, rep)
        start = _next_week(14)
        await ews.create_event(
            "Quarterly review", start, 60, location="Room 4", time_zone="W. Europe Standard Time"
        )
        sf_id = await salesforce.create(
            "Event",
            {
                "Subject": "Forecast call",
                "StartDateTime": _sf_time(start + dt.timedelta(hours=2)),
                "EndDateTime": _sf_time(start + dt.timedelta(hours=2, minutes=30)),
                "Location": "Room 2",
                "OwnerId": system.reps[rep],
            },
        )

        async def review_in_salesforce() -> list[dict[str, Any]] | None:
            return await _sf_events(system, salesforce, rep, "Quarterly review") or None

        [review] = await wait_for(review_in_salesforce, within=60, what="the EWS event in SF")
        assert _instant(review["StartDateTime"]) == start
        assert _instant(review["EndDateTime"]) == start + dt.timedelta(minutes=60)
        assert review["Location"] == "Room 4"

        async def forecast_in_ews() -> list[EwsItem] | None:
            return await _ews_events(ews, "Forecast call") or None

        [forecast] = await wait_for(forecast_in_ews, within=60, what="the SF event in EWS")
        assert forecast.get("Start") == utc_z(start + dt.timedelta(hours=2))
        assert forecast.get("End") == utc_z(start + dt.timedelta(hours=2, minutes=30))
        assert forecast.get("Location") == "Room 2"

        # Updates: the subject in the on-premises calendar, the location in Salesforce.
        [review_ews] = await _ews_events(ews, "Quarterly review")
        await ews.set_field(review_ews, "item:Subject", "CalendarItem", "Subject", "QBR")
        await salesforce.update("Event", sf_id, {"Location": "Room 9"})

        async def updates_arrived() -> bool:
            renamed = await _sf_events(system, salesforce, rep, "QBR")
            [item] = await _ews_events(ews, "Forecast call")
            return len(renamed) == 1 and item.get("Location") == "Room 9"

        await wait_for(updates_arrived, within=60, what="both updates on the other side")
        assert await _sf_events(system, salesforce, rep, "Quarterly review") == []

        # Deletes both ways (LS-36 on).
        [qbr_ews] = await _ews_events(ews, "QBR")
        await ews.delete(qbr_ews)
        await salesforce.delete("Event", sf_id)

        async def left() -> dict[str, Any]:
            return {
                "salesforce": await _sf_events(system, salesforce, rep, "QBR"),
                "exchange": [e.fields for e in await _ews_events(ews, "Forecast call")],
            }

        async def both_gone() -> bool:
            return not any((await left()).values())

        try:
            # A Salesforce delete is seen through getDeleted, whose window must span more than a
            # minute (salesforce_connector/stream.py, protocols.md C8): up to ~65 s here.
            await wait_for(both_gone, within=120, what="both deletes propagated")
        except TimeoutError as exc:
            raise AssertionError(await left(), await _errors(system, rep)) from exc
        await asyncio.sleep(QUIET_S)
        assert await _sf_events(system, salesforce, rep, "QBR") == []
        assert await ews.events() == []


async def test_hybrid_graph_and_ews_reps_sync_side_by_side(system: System) -> None:
    """Hybrid (issue #10, beyond LS-66): a Graph rep and an EWS rep of the same tenant, same
    configuration, syncing at the same time: each Salesforce record lands in its owner's
    mailbox only, on the right Exchange, and each Outlook record gets the right owner."""
    onprem, online = EWS_REPS[2], GRAPH_PEER
    await system.configure("hybrid", {"contacts": "both", "events": "both"}, [onprem, online])
    await _events_started(system, onprem)
    await _events_started(system, online)
    async with system.http() as http:
        salesforce = await system.salesforce_rep(http)
        ews = await ews_rep(system, http, onprem)
        graph = await system.graph_rep(http, online)
        start = _next_week(9, days=10)
        for rep, name in ((onprem, "Onprem"), (online, "Online")):
            await salesforce.create(
                "Contact",
                {
                    "LastName": f"{name}Customer",
                    "Email": f"{name.lower()}@customer.example",
                    "OwnerId": system.reps[rep],
                },
            )
            await salesforce.create(
                "Event",
                {
                    "Subject": f"{name} meeting",
                    "StartDateTime": _sf_time(start),
                    "EndDateTime": _sf_time(start + dt.timedelta(minutes=30)),
                    "OwnerId": system.reps[rep],
                },
            )
        await ews.create_contact("Eve", "FromOnprem", "eve@onprem-customer.example")
        await graph.create_contact(
            {"surname": "FromOnline", "emailAddresses": [{"address": "o@online-customer.example"}]}
        )

        async def all_landed() -> bool:
            ews_names = {c.get("Surname") for c in await ews.contacts()}
            graph_names = {c.get("surname") for c in await graph.contacts()}
            ews_subjects = {e.get("Subject") for e in await ews.events()}
            graph_subjects = {e.get("subject") for e in await graph.events()}
            from_onprem = await _sf_contacts(system, salesforce, onprem, "FromOnprem")
            from_online = await _sf_contacts(system, salesforce, online, "FromOnline")
            return (
                "OnpremCustomer" in ews_names
                and "OnlineCustomer" in graph_names
                and "Onprem meeting" in ews_subjects
                and "Online meeting" in graph_subjects
                and len(from_onprem) == 1
                and len(from_online) == 1
            )

        await wait_for(all_landed, within=90, what="every record in its owner's mailbox")
        await asyncio.sleep(QUIET_S)
        # Nothing crossed over between the two Exchanges, and nothing was duplicated.
        assert sorted(str(c.get("Surname")) for c in await ews.contacts()) == [
            "FromOnprem",
            "OnpremCustomer",
        ]
        assert sorted(str(c.get("surname")) for c in await graph.contacts()) == [
            "FromOnline",
            "OnlineCustomer",
        ]
        assert [e.get("Subject") for e in await ews.events()] == ["Onprem meeting"]
        assert [e.get("subject") for e in await graph.events()] == ["Online meeting"]
        assert await _sf_contacts(system, salesforce, online, "FromOnprem") == []
        assert await _sf_contacts(system, salesforce, onprem, "FromOnline") == []


async def test_st30_st41_status_api_shows_the_ews_rep_in_sync(system: System) -> None:
    """ST-20/ST-30/ST-35..ST-41 for an on-premises rep: assigned, linked to its EWS mailbox,
    contacts and events in sync (never `error`/`folder_missing`), a last successful pass, and
    no open errors once a record has synced."""
    rep = EWS_REPS[3]
    user_id = system.reps[rep]
    await system.configure("ews-status", {"contacts": "both", "events": "both"}, [rep])
    async with system.http() as http:
        salesforce = await system.salesforce_rep(http)
        ews = await ews_rep(system, http, rep)
        await ews.create_contact("Stat", "Ustest", "status@customer.example")
        await ews.create_event("Status check", _next_week(16), 30)

        async def synced() -> bool:
            contacts = await _sf_contacts(system, salesforce, rep, "Ustest")
            events = await _sf_events(system, salesforce, rep, "Status check")
            return len(contacts) == 1 and len(events) == 1

        await wait_for(synced, within=60, what="the EWS records in Salesforce")

    async def in_sync() -> dict[str, Any] | None:
        async with system.api() as api:
            r = await api.get(f"/users/{user_id}")
            r.raise_for_status()
            body: dict[str, Any] = r.json()
        states = {(o["object"], o["direction"]): o["state"] for o in body["user"]["objects"]}
        done = {"in_sync", "initial_sync_completed"}
        if states and all(s in done or s == "not_syncing" for s in states.values()):
            return body
        return None

    body = await wait_for(in_sync, within=60, what="the EWS rep's statuses in sync")
    user = body["user"]
    assert user["email"] == rep
    assert user["mailbox"] == rep
    assert user["link_state"] == "linked"
    assert user["assigned"] is True
    syncing = [o for o in user["objects"] if o["state"] != "not_syncing"]
    assert {o["object"] for o in syncing} == {"contact", "event"}, user["objects"]
    # ST-41: a last successful pass where records moved (Exchange→Salesforce, both kinds).
    moved = [o for o in syncing if o["direction"] == "exchange_to_salesforce"]
    assert len(moved) == 2, syncing
    assert all(o["last_sync"] and o["synced_today"] >= 1 for o in moved), syncing
    assert not [r for r in body["rows"] if r["health"] == "error"], body["rows"]
    # The one open error is the rep's seeded Classic recurring event, which sync rightly refuses
    # (LS-33) with a reason; nothing about the EWS records themselves.
    async with system.http() as http:
        salesforce = await system.salesforce_rep(http)
        classic = await salesforce.query(
            f"SELECT Id FROM Event WHERE OwnerId = '{user_id}' AND IsRecurrence = true"
        )
    errors = await _errors(system, rep)
    assert [(e["code"], e["salesforce_id"]) for e in errors] == [
        ("classic_recurrence_unsupported", classic[0]["Id"])
    ], errors
    assert errors[0]["reason"]
    assert user["open_errors"] == 1


async def test_ls82_a_bad_ews_contact_gets_a_per_record_error_and_the_rest_syncs(
    system: System,
) -> None:
    """LS-82 over EWS: an on-premises contact without a surname cannot be a Salesforce contact
    (REQUIRED_FIELD_MISSING) and is reported as a per-record error with a reason; an oversized
    job title is cut to Salesforce's 128 characters (LS-29) while the mailbox keeps it whole;
    the contacts after them sync normally."""
    rep = EWS_REPS[4]
    await system.configure("ews-errors", CONTACTS, [rep])
    long_title = ("Senior Vice President " + "of Strategic Partnerships " * 7).strip()
    assert len(long_title) > 128
    async with system.http() as http:
        salesforce = await system.salesforce_rep(http)
        ews = await ews_rep(system, http, rep)
        await ews.create_contact("Nosurname", None, "nosurname@customer.example")
        await ews.create_contact("Lou", "Lengthytitle", "long@customer.example", title=long_title)
        await ews.create_contact("Fine", "Goodafter", "fine@customer.example")

        async def synced() -> list[dict[str, Any]] | None:
            fine = await _sf_contacts(system, salesforce, rep, "Goodafter")
            long = await _sf_contacts(system, salesforce, rep, "Lengthytitle")
            return long if fine and long else None

        [long_row] = await wait_for(synced, within=60, what="the valid contacts in Salesforce")
        assert long_row["Title"] == long_title[:128].rstrip()

        async def reported() -> list[dict[str, Any]] | None:
            async with system.api() as api:
                r = await api.get("/errors", params={"user_id": system.reps[rep]})
                r.raise_for_status()
                return list(r.json()["items"]) or None

        errors = await wait_for(reported, within=60, what="the error in the error report")
        assert len(errors) == 1, errors
        [error] = errors
        reason = str(error.get("reason") or "").lower()
        assert "last" in reason or "required" in reason, error
        assert error["object"] == "contact"
        assert error["exchange_id"], error
        await asyncio.sleep(QUIET_S)
        [long_ews] = await _ews_contacts(ews, "Lengthytitle")
        assert long_ews.get("JobTitle") == long_title
        assert len(await ews.contacts()) == 3
        rows = await salesforce.query(
            f"SELECT Id FROM Contact WHERE OwnerId = '{system.reps[rep]}'"
        )
        assert len(rows) == 2
