"""Contacts end to end (LS-20..LS-29, LS-71): reps edit Outlook and Salesforce; Syncline keeps
both in step. Each test uses its own rep and configuration."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import REPS
from tests.e2e.harness import System, wait_for

pytestmark = pytest.mark.e2e


async def test_contact_created_in_salesforce_appears_in_outlook_sync_folder(
    system: System,
) -> None:
    """LS-20/LS-21: a Salesforce contact of a rep syncing both ways lands in Salesforce_Sync."""
    rep = REPS[0]
    await system.configure("contacts-both", {"contacts": "both", "events": "none"}, [rep])
    async with system.http() as http:
        salesforce = await system.salesforce_rep(http)
        graph = await system.graph_rep(http, rep)
        contact_id = await salesforce.create(
            "Contact",
            {
                "FirstName": "Grace",
                "LastName": "Hopper",
                "Email": "grace.hopper@navy.example",
                "Title": "Rear Admiral",
                "OwnerId": system.reps[rep],
            },
        )

        async def in_outlook() -> list[dict[str, Any]] | None:
            found = [c for c in await graph.contacts() if c.get("surname") == "Hopper"]
            return found or None

        [contact] = await wait_for(in_outlook, within=60, what="the contact in Outlook")
        assert contact["givenName"] == "Grace"
        assert contact["jobTitle"] == "Rear Admiral"
        assert [e["address"] for e in contact["emailAddresses"]] == ["grace.hopper@navy.example"]
        assert contact_id

        # And back: an Outlook edit reaches Salesforce.
        await graph.update_contact(str(contact["id"]), {"jobTitle": "Commodore"})

        async def title_in_salesforce() -> str | None:
            rows = await salesforce.query(f"SELECT Title FROM Contact WHERE Id = '{contact_id}'")
            title = rows[0]["Title"] if rows else None
            return title if title == "Commodore" else None

        await wait_for(title_in_salesforce, within=60, what="the Outlook edit in Salesforce")
        # Zero duplicates on either side.
        assert len([c for c in await graph.contacts() if c.get("surname") == "Hopper"]) == 1
        rows = await salesforce.query("SELECT Id FROM Contact WHERE LastName = 'Hopper'")
        assert len(rows) == 1


async def test_outlook_contact_outside_the_sync_folder_does_not_sync(system: System) -> None:
    """LS-22: only contacts in Salesforce_Sync sync; a contact elsewhere stays in Outlook."""
    rep = REPS[1]
    await system.configure("contacts-folder", {"contacts": "both", "events": "none"}, [rep])
    async with system.http() as http:
        salesforce = await system.salesforce_rep(http)
        graph = await system.graph_rep(http, rep)
        r = await http.post(
            f"{graph.graph}/users/{rep}/contacts",
            json={
                "givenName": "Ada",
                "surname": "Elsewhere",
                "emailAddresses": [{"address": "ada.elsewhere@example.com"}],
            },
            headers={"Authorization": f"Bearer {graph.token}"},
        )
        r.raise_for_status()
        await graph.create_contact(
            {
                "givenName": "Alan",
                "surname": "Turing",
                "emailAddresses": [{"address": "alan@bletchley.example"}],
            }
        )

        async def turing_in_salesforce() -> list[dict[str, Any]] | None:
            rows = await salesforce.query(
                "SELECT Id, OwnerId FROM Contact WHERE LastName = 'Turing'"
            )
            return rows or None

        [row] = await wait_for(turing_in_salesforce, within=60, what="Turing in Salesforce")
        assert row["OwnerId"] == system.reps[rep]
        rows = await salesforce.query("SELECT Id FROM Contact WHERE LastName = 'Elsewhere'")
        assert rows == []


async def test_ls71_initial_sync_with_overlapping_data_creates_no_duplicates(
    system: System,
) -> None:
    """LS-71: the same people on both sides before sync starts are matched, not duplicated."""
    rep = REPS[2]
    async with system.http() as http:
        salesforce = await system.salesforce_rep(http)
        graph = await system.graph_rep(http, rep)
        people = [("Katherine", "Johnson"), ("Dorothy", "Vaughan"), ("Mary", "Jackson")]
        for first, last in people:
            email = f"{first.lower()}.{last.lower()}@nasa.example"
            await salesforce.create(
                "Contact",
                {"FirstName": first, "LastName": last, "Email": email, "OwnerId": system.reps[rep]},
            )
            await graph.create_contact(
                {"givenName": first, "surname": last, "emailAddresses": [{"address": email}]}
            )
        # Only on one side each:
        await salesforce.create(
            "Contact",
            {
                "FirstName": "Annie",
                "LastName": "Easley",
                "Email": "annie@nasa.example",
                "OwnerId": system.reps[rep],
            },
        )
        await graph.create_contact(
            {
                "givenName": "Christine",
                "surname": "Darden",
                "emailAddresses": [{"address": "christine@nasa.example"}],
            }
        )
        await system.configure("overlap", {"contacts": "both", "events": "none"}, [rep])

        async def both_sides_complete() -> bool:
            outlook = sorted(c["surname"] for c in await graph.contacts())
            rows = await salesforce.query(
                f"SELECT LastName FROM Contact WHERE OwnerId = '{system.reps[rep]}'"
            )
            sf = sorted(r["LastName"] for r in rows)
            return len(outlook) >= 5 and len(sf) >= 5

        await wait_for(both_sides_complete, within=90, what="both sides holding all five")
        outlook = sorted(c["surname"] for c in await graph.contacts())
        rows = await salesforce.query(
            f"SELECT LastName FROM Contact WHERE OwnerId = '{system.reps[rep]}'"
        )
        expected = sorted(["Johnson", "Vaughan", "Jackson", "Easley", "Darden"])
        assert outlook == expected
        assert sorted(r["LastName"] for r in rows) == expected


async def test_ls28_contact_delete_does_not_propagate_and_does_not_resurrect(
    system: System,
) -> None:
    """LS-28: deleting a synced contact on one side leaves the other copy alone, and the deleted
    one is not re-created from the survivor."""
    rep = REPS[3]
    await system.configure("contact-delete", {"contacts": "both", "events": "none"}, [rep])
    async with system.http() as http:
        salesforce = await system.salesforce_rep(http)
        graph = await system.graph_rep(http, rep)
        contact_id = await salesforce.create(
            "Contact",
            {
                "FirstName": "Edsger",
                "LastName": "Dijkstra",
                "Email": "ewd@utexas.example",
                "OwnerId": system.reps[rep],
            },
        )

        async def in_outlook() -> list[dict[str, Any]] | None:
            return [c for c in await graph.contacts() if c.get("surname") == "Dijkstra"] or None

        [contact] = await wait_for(in_outlook, within=60, what="the contact in Outlook")
        await graph.delete_contact(str(contact["id"]))
        # Give the delete every chance to (wrongly) travel, then check both sides.
        await _quiet_period()
        rows = await salesforce.query(f"SELECT Id FROM Contact WHERE Id = '{contact_id}'")
        assert len(rows) == 1, "the Salesforce copy must survive an Outlook delete"
        assert await in_outlook() is None, "the deleted Outlook copy must not come back"


async def test_one_way_salesforce_to_exchange_ignores_outlook_only_contacts(
    system: System,
) -> None:
    """LS-25: Salesforce→Exchange only: Outlook-created contacts stay in Outlook."""
    rep = REPS[4]
    await system.configure(
        "sf-to-ex", {"contacts": "salesforce_to_exchange", "events": "none"}, [rep]
    )
    async with system.http() as http:
        salesforce = await system.salesforce_rep(http)
        graph = await system.graph_rep(http, rep)
        await graph.create_contact(
            {
                "givenName": "Only",
                "surname": "InOutlook",
                "emailAddresses": [{"address": "only@outlook.example"}],
            }
        )
        await salesforce.create(
            "Contact",
            {
                "FirstName": "Barbara",
                "LastName": "Liskov",
                "Email": "liskov@mit.example",
                "OwnerId": system.reps[rep],
            },
        )

        async def liskov_in_outlook() -> bool:
            return any(c.get("surname") == "Liskov" for c in await graph.contacts())

        await wait_for(liskov_in_outlook, within=60, what="the Salesforce contact in Outlook")
        await _quiet_period()
        rows = await salesforce.query("SELECT Id FROM Contact WHERE LastName = 'InOutlook'")
        assert rows == []


async def _quiet_period(seconds: float = 6) -> None:
    import asyncio

    await asyncio.sleep(seconds)
