"""What an admin sees and does through the status API (LS-82, LS-83, ST-n)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.e2e.conftest import REPS
from tests.e2e.harness import System, wait_for

pytestmark = pytest.mark.e2e

CONTACTS = {"contacts": "both", "events": "none"}


async def test_ls82_a_record_salesforce_rejects_is_reported_and_the_rest_syncs(
    system: System,
) -> None:
    """An Outlook contact with no last name can't be a Salesforce contact (REQUIRED_FIELD_MISSING):
    it gets a per-record error with a reason; the next contact syncs anyway."""
    rep = REPS[9]
    await system.configure("errors", CONTACTS, [rep])
    async with system.http() as http:
        graph = await system.graph_rep(http, rep)
        salesforce = await system.salesforce_rep(http)
        await graph.create_contact(
            {"givenName": "NoSurname", "emailAddresses": [{"address": "nosurname@e.example"}]}
        )
        await graph.create_contact(
            {
                "givenName": "Fine",
                "surname": "Afterwards",
                "emailAddresses": [{"address": "fine@e.example"}],
            }
        )

        async def synced() -> bool:
            rows = await salesforce.query("SELECT Id FROM Contact WHERE LastName = 'Afterwards'")
            return bool(rows)

        await wait_for(synced, within=60, what="the valid contact in Salesforce")

        async def reported() -> list[dict[str, Any]] | None:
            async with system.api() as api:
                r = await api.get("/errors", params={"user_id": system.reps[rep]})
                r.raise_for_status()
                items = r.json()["items"]
                return items or None

        errors = await wait_for(reported, within=60, what="the error in the error report")
        assert any(
            "last" in (e.get("reason") or "").lower()
            or "required" in (e.get("reason") or "").lower()
            for e in errors
        ), errors
        async with system.api() as api:
            r = await api.get(
                "/errors", params={"user_id": system.reps[rep]}, headers={"Accept": "text/csv"}
            )
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/csv")
            assert system.reps[rep] in r.text


async def test_ls83_reset_sync_rebuilds_links_without_duplicates(system: System) -> None:
    rep = REPS[10]
    await system.configure("reset", CONTACTS, [rep])
    async with system.http() as http:
        graph = await system.graph_rep(http, rep)
        salesforce = await system.salesforce_rep(http)
        for n in range(3):
            await salesforce.create(
                "Contact",
                {"LastName": f"Reset{n}", "Email": f"r{n}@r.example", "OwnerId": system.reps[rep]},
            )

        async def synced() -> bool:
            names = sorted(str(c.get("surname")) for c in await graph.contacts())
            return names == ["Reset0", "Reset1", "Reset2"]

        await wait_for(synced, within=60, what="the contacts in Outlook")
        async with system.api() as api:
            r = await api.post(f"/users/{system.reps[rep]}/resets", json={"object": "contact"})
            assert r.status_code in (200, 201, 202), r.text
        await asyncio.sleep(8)
        # Afterwards: an edit still flows (links rebuilt), and nothing was duplicated.
        contact = next(c for c in await graph.contacts() if c.get("surname") == "Reset1")
        await graph.update_contact(str(contact["id"]), {"jobTitle": "After reset"})

        async def edited() -> bool:
            rows = await salesforce.query("SELECT Title FROM Contact WHERE LastName = 'Reset1'")
            return bool(rows) and rows[0]["Title"] == "After reset"

        await wait_for(edited, within=60, what="an edit after the reset")
        assert sorted(str(c.get("surname")) for c in await graph.contacts()) == [
            "Reset0",
            "Reset1",
            "Reset2",
        ]
        rows = await salesforce.query(
            f"SELECT LastName FROM Contact WHERE OwnerId = '{system.reps[rep]}'"
        )
        assert sorted(r["LastName"] for r in rows) == ["Reset0", "Reset1", "Reset2"]


async def test_user_status_and_record_explain(system: System) -> None:
    rep = REPS[11]
    await system.configure("explain", CONTACTS, [rep])
    async with system.http() as http:
        salesforce = await system.salesforce_rep(http)
        graph = await system.graph_rep(http, rep)
        contact_id = await salesforce.create(
            "Contact",
            {
                "LastName": "Explained",
                "Email": "explained@x.example",
                "OwnerId": system.reps[rep],
            },
        )

        async def in_outlook() -> bool:
            return any(c.get("surname") == "Explained" for c in await graph.contacts())

        await wait_for(in_outlook, within=60, what="the contact in Outlook")
    async with system.api() as api:
        r = await api.get(f"/users/{system.reps[rep]}/records/salesforce/{contact_id}")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["salesforce_id"] == contact_id
        assert body["exchange_id"]
        assert body["closed"] is False
        assert body["last_decision"]
        r = await api.get(f"/users/{system.reps[rep]}")
        assert r.status_code == 200
        assert r.json()["user"]["link_state"] == "linked"
        r = await api.get(f"/users/{system.reps[rep]}/effective-configuration")
        assert r.json()["reason"] == "individual_assignment"
