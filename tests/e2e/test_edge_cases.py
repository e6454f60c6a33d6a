"""Edge cases end to end: auto-relate (LS-45..LS-48), delta resets, revoked tokens and expired
sessions mid-run (ST-30..ST-41 connection health), an oversized field (LS-82), and contacts
synced Exchange→Salesforce only. Each test uses its own rep and configuration."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest

from tests.e2e.conftest import REPS
from tests.e2e.harness import GraphRep, SalesforceRep, System, wait_for

pytestmark = pytest.mark.e2e

CONTACTS = {"contacts": "both", "events": "none"}


def _meeting(subject: str, start: dt.datetime, emails: list[str]) -> dict[str, Any]:
    end = start + dt.timedelta(minutes=30)
    return {
        "subject": subject,
        "start": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
        "end": {"dateTime": end.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
        "attendees": [{"emailAddress": {"address": email}, "type": "required"} for email in emails],
    }


async def _event_row(system: System, salesforce: SalesforceRep, rep: str, subject: str) -> Any:
    rows = await salesforce.query(
        f"SELECT Id, Subject, WhoId FROM Event WHERE OwnerId = '{system.reps[rep]}'"
    )
    found = [r for r in rows if r["Subject"] == subject]
    return found[0] if len(found) == 1 else None


async def _parents(salesforce: SalesforceRep, event_id: str) -> set[str]:
    rows = await salesforce.query(
        f"SELECT RelationId FROM EventRelation WHERE EventId = '{event_id}' AND IsParent = true"
    )
    return {str(r["RelationId"]) for r in rows}


async def _errors(system: System, rep: str) -> list[dict[str, Any]]:
    async with system.api() as api:
        r = await api.get("/errors", params={"user_id": system.reps[rep]})
        r.raise_for_status()
        return list(r.json()["items"])


async def test_ls45_auto_relate_to_contacts_or_exactly_one_lead(system: System) -> None:
    """LS-45/LS-47/LS-48: attendees that are the rep's Salesforce contacts are related (WhoId +
    EventRelation); a meeting whose only match is one lead relates to that lead; two leads with
    the same address are ambiguous and not guessed. LS-46: unresolved attendees are reported."""
    rep = REPS[27]
    await system.configure(
        "relate", {"contacts": "salesforce_to_exchange", "events": "both"}, [rep]
    )
    owner = system.reps[rep]
    async with system.http() as http:
        salesforce = await system.salesforce_rep(http)
        graph = await system.graph_rep(http, rep)
        lead_id = await salesforce.create(
            "Lead",
            {"LastName": "Lead", "Company": "Prospect Co", "Email": "lena@relate-lead.example"},
        )
        for n in range(2):
            await salesforce.create(
                "Lead",
                {"LastName": f"Twin{n}", "Company": "Twins", "Email": "twin@relate-lead.example"},
            )
        # A contact owned by someone who doesn't sync (here the integration user) is a relation
        # target too: reps meet their colleagues' contacts.
        theirs = await salesforce.create(
            "Contact", {"LastName": "RelTheirs", "Email": "theirs@relate.example"}
        )
        first = await salesforce.create(
            "Contact", {"LastName": "RelOne", "Email": "one@relate.example", "OwnerId": owner}
        )
        second = await salesforce.create(
            "Contact", {"LastName": "RelTwo", "Email": "two@relate.example", "OwnerId": owner}
        )

        async def contacts_indexed() -> bool:
            return len(await graph.contacts()) == 2

        await wait_for(contacts_indexed, within=60, what="the contacts synced (and indexed)")
        start = dt.datetime.now(dt.UTC).replace(microsecond=0, second=0, minute=0)
        start += dt.timedelta(days=10)
        contacts_meeting = await graph.create_event(
            _meeting(
                "Relate contacts",
                start,
                [
                    "one@relate.example",
                    "two@relate.example",
                    "theirs@relate.example",
                    "stranger@nowhere.example",
                ],
            )
        )
        await graph.create_event(
            _meeting("Relate lead", start + dt.timedelta(hours=1), ["lena@relate-lead.example"])
        )
        twins_meeting = await graph.create_event(
            _meeting("Relate twins", start + dt.timedelta(hours=2), ["twin@relate-lead.example"])
        )

        async def all_three() -> list[Any] | None:
            rows = [
                await _event_row(system, salesforce, rep, subject)
                for subject in ("Relate contacts", "Relate lead", "Relate twins")
            ]
            return rows if all(rows) else None

        _, lead_event, twins_event = await wait_for(
            all_three, within=60, what="the three meetings in Salesforce"
        )

        async def contacts_related() -> set[str] | None:
            row = await _event_row(system, salesforce, rep, "Relate contacts")
            related = await _parents(salesforce, row["Id"]) | {row["WhoId"]}
            return related if related == {first, second, theirs} else None

        await wait_for(contacts_related, within=30, what="the three contacts related")
        row = await _event_row(system, salesforce, rep, "Relate contacts")
        assert row["WhoId"] in (first, second, theirs)
        assert lead_event["WhoId"] == lead_id
        assert twins_event["WhoId"] is None
        assert await _parents(salesforce, twins_event["Id"]) == set()

        async def reported() -> dict[str, str] | None:
            found = {
                str(e["exchange_id"]): str(e["reason"])
                for e in await _errors(system, rep)
                if e["code"] == "event_unresolved" and e["category"] == "event_unresolved"
            }
            return found if len(found) == 2 else None

        unresolved = await wait_for(reported, within=30, what="unresolved attendees reported")
        assert "stranger@nowhere.example" in unresolved[contacts_meeting]
        assert "one@relate.example" not in unresolved[contacts_meeting]
        assert "theirs@relate.example" not in unresolved[contacts_meeting]
        assert "twin@relate-lead.example" in unresolved[twins_meeting]


async def _surnames(graph: GraphRep) -> list[str]:
    return sorted(str(c.get("surname")) for c in await graph.contacts())


async def _sf_surnames(system: System, salesforce: SalesforceRep, rep: str) -> list[str]:
    rows = await salesforce.query(
        f"SELECT LastName FROM Contact WHERE OwnerId = '{system.reps[rep]}'"
    )
    return sorted(str(r["LastName"]) for r in rows)


async def test_graph_delta_reset_and_token_revocation_mid_run(system: System) -> None:
    """A 410 on the delta link (syncStateNotFound) and every Graph token revoked mid-run: the
    connector re-baselines and re-authenticates; nothing is duplicated and sync continues."""
    rep = REPS[28]
    await system.configure("delta-reset", CONTACTS, [rep])
    graph_url = system.stack.graph_url
    async with system.http() as http:
        salesforce = await system.salesforce_rep(http)
        graph = await system.graph_rep(http, rep)
        await graph.create_contact(
            {"surname": "BeforeReset", "emailAddresses": [{"address": "before@reset.example"}]}
        )
        await salesforce.create(
            "Contact",
            {
                "LastName": "FromSalesforce",
                "Email": "sf@reset.example",
                "OwnerId": system.reps[rep],
            },
        )

        async def both_sides(expected: list[str]) -> bool:
            return (
                await _surnames(graph) == expected
                and await _sf_surnames(system, salesforce, rep) == expected
            )

        first = ["BeforeReset", "FromSalesforce"]
        await wait_for(lambda: both_sides(first), within=60, what="the first two synced")
        (await http.post(f"{graph_url}/_sim/invalidate-delta", json={})).raise_for_status()
        (await http.post(f"{graph_url}/_sim/revoke-tokens")).raise_for_status()
        graph = await system.graph_rep(http, rep)  # the rep's Outlook signs in again too
        await graph.create_contact(
            {"surname": "AfterReset", "emailAddresses": [{"address": "after@reset.example"}]}
        )
        await salesforce.create(
            "Contact",
            {"LastName": "AfterRevoke", "Email": "ar@reset.example", "OwnerId": system.reps[rep]},
        )
        everything = sorted([*first, "AfterReset", "AfterRevoke"])
        await wait_for(lambda: both_sides(everything), within=60, what="sync after the reset")
        await asyncio.sleep(4)  # a re-baseline that re-publishes must still not duplicate
        assert await _surnames(graph) == everything
        assert await _sf_surnames(system, salesforce, rep) == everything


async def test_salesforce_session_expiry_mid_run(system: System) -> None:
    """Every Salesforce session expires mid-run (INVALID_SESSION_ID): the connector gets a new
    one and carries on, without duplicates."""
    rep = REPS[29]
    await system.configure("session", CONTACTS, [rep])
    base = system.stack.salesforce_url
    async with system.http() as http:
        salesforce = await system.salesforce_rep(http)
        graph = await system.graph_rep(http, rep)
        await salesforce.create(
            "Contact",
            {"LastName": "BeforeExpiry", "Email": "be@ex.example", "OwnerId": system.reps[rep]},
        )

        async def synced(expected: list[str]) -> bool:
            return (
                await _surnames(graph) == expected
                and await _sf_surnames(system, salesforce, rep) == expected
            )

        await wait_for(lambda: synced(["BeforeExpiry"]), within=60, what="the first contact")
        (await http.post(f"{base}/_sim/expire-sessions")).raise_for_status()
        salesforce = await system.salesforce_rep(http)
        await graph.create_contact(
            {"surname": "AfterExpiry", "emailAddresses": [{"address": "ae@ex.example"}]}
        )
        await salesforce.create(
            "Contact",
            {"LastName": "AlsoAfter", "Email": "aa@ex.example", "OwnerId": system.reps[rep]},
        )
        expected = ["AfterExpiry", "AlsoAfter", "BeforeExpiry"]
        await wait_for(lambda: synced(expected), within=60, what="sync after the expiry")
        await asyncio.sleep(3)
        assert await _surnames(graph) == expected
        assert await _sf_surnames(system, salesforce, rep) == expected


async def test_ls82_oversized_title_is_truncated_recorded_and_the_rest_syncs(
    system: System,
) -> None:
    """LS-82 / LS-29: an Outlook job title longer than Salesforce's Title (128) arrives cut to
    128 characters, the cut is recorded in the record's audit trail, Outlook keeps the full
    title (the truncated echo never travels back), and the next contact syncs normally."""
    rep = REPS[30]
    await system.configure("oversized", CONTACTS, [rep])
    long_title = ("Senior Vice President " + "of Strategic Partnerships " * 7).strip()
    assert len(long_title) > 128
    async with system.http() as http:
        salesforce = await system.salesforce_rep(http)
        graph = await system.graph_rep(http, rep)
        outlook_id = await graph.create_contact(
            {
                "surname": "Longtitle",
                "jobTitle": long_title,
                "emailAddresses": [{"address": "long@title.example"}],
            }
        )
        await graph.create_contact(
            {"surname": "Shorttitle", "emailAddresses": [{"address": "short@title.example"}]}
        )

        async def both() -> list[dict[str, Any]] | None:
            rows = await salesforce.query(
                f"SELECT Id, LastName, Title FROM Contact WHERE OwnerId = '{system.reps[rep]}'"
            )
            return rows if len(rows) == 2 else None

        rows = await wait_for(both, within=60, what="both contacts in Salesforce")
        [row] = [r for r in rows if r["LastName"] == "Longtitle"]
        assert row["Title"] == long_title[:128].rstrip()
        await asyncio.sleep(4)
        [outlook] = [c for c in await graph.contacts() if c["id"] == outlook_id]
        assert outlook["jobTitle"] == long_title
        async with system.api() as api:
            r = await api.get(f"/users/{system.reps[rep]}/records/salesforce/{row['Id']}")
            assert r.status_code == 200, r.text
            audit = r.json()["audit"]
        [cut] = [a for a in audit if a["action"] == "truncate_salesforce"]
        assert str(cut["field"]).lower() == "title"
        assert cut["old_value"] == {"length": len(long_title)}
        assert cut["new_value"] == {"max_length": 128}


async def test_ls10_contacts_exchange_to_salesforce_only(system: System) -> None:
    """LS-10/LS-20: contacts Exchange→Salesforce only: Outlook contacts in Salesforce_Sync reach
    Salesforce; Salesforce-only contacts and Salesforce edits never reach Outlook, and the
    Salesforce edit persists until the next Outlook change (LS-73 [I])."""
    rep = REPS[31]
    await system.configure(
        "ex-to-sf", {"contacts": "exchange_to_salesforce", "events": "none"}, [rep]
    )
    async with system.http() as http:
        salesforce = await system.salesforce_rep(http)
        graph = await system.graph_rep(http, rep)
        await salesforce.create(
            "Contact",
            {
                "LastName": "OnlyInSalesforce",
                "Email": "only@sf.example",
                "OwnerId": system.reps[rep],
            },
        )
        await graph.create_contact(
            {
                "surname": "FromOutlook",
                "jobTitle": "Buyer",
                "emailAddresses": [{"address": "from@outlook.example"}],
            }
        )

        async def in_salesforce() -> list[dict[str, Any]] | None:
            rows = await salesforce.query(
                "SELECT Id, Title, OwnerId FROM Contact WHERE LastName = 'FromOutlook'"
            )
            return rows or None

        [row] = await wait_for(in_salesforce, within=60, what="the Outlook contact in SF")
        assert row["OwnerId"] == system.reps[rep]
        assert row["Title"] == "Buyer"
        await salesforce.update("Contact", row["Id"], {"Title": "Edited in Salesforce"})
        await asyncio.sleep(5)
        assert await _surnames(graph) == ["FromOutlook"]
        [row] = await salesforce.query(f"SELECT Title FROM Contact WHERE Id = '{row['Id']}'")
        assert row["Title"] == "Edited in Salesforce"  # LS-73: persists until Outlook changes
        [outlook] = await graph.contacts()
        assert outlook["jobTitle"] == "Buyer"
