"""Concurrent edits of one contact on both sides under each conflict policy (LS-75 [I]).

Field-level merge first: fields edited on one side only all survive, whatever the policy. A
field edited on both sides goes to the policy: `salesforce_wins`, `exchange_wins`, or
`latest_wins` (Exchange lastModifiedDateTime vs Salesforce SystemModstamp). The Salesforce
edit is made first and the Outlook edit right after it: Salesforce stamps have second
precision, so the Outlook edit is strictly the later one and `latest_wins` is deterministic.
Each policy runs on its own rep, the three at the same time; the conflict decision is in the
audit trail of the record's explanation (status API).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.e2e.conftest import REPS
from tests.e2e.harness import System, wait_for

pytestmark = pytest.mark.e2e

POLICIES = {
    "salesforce_wins": (REPS[24], "salesforce"),
    "exchange_wins": (REPS[25], "exchange"),
    "latest_wins": (REPS[26], "exchange"),  # the Outlook edit is the later one
}


async def _conflict_under(system: System, policy: str, rep: str, winner: str) -> None:
    await system.configure(
        f"conflict-{policy}",
        {"contacts": "both", "events": "none", "conflict_policy": policy},
        [rep],
    )
    surname = f"Conflict{policy.split('_')[0].title()}"
    async with system.http() as http:
        salesforce = await system.salesforce_rep(http)
        graph = await system.graph_rep(http, rep)
        contact_id = await salesforce.create(
            "Contact",
            {
                "FirstName": "Pat",
                "LastName": surname,
                "Email": f"{surname.lower()}@conflict.example",
                "Title": "Buyer",
                "OwnerId": system.reps[rep],
            },
        )

        async def in_outlook() -> list[dict[str, Any]] | None:
            return [c for c in await graph.contacts() if c.get("surname") == surname] or None

        [contact] = await wait_for(in_outlook, within=60, what=f"{policy}: contact in Outlook")
        # Let the create's echo settle so both edits meet a quiet, linked record.
        await asyncio.sleep(3)
        await salesforce.update(
            "Contact", contact_id, {"Title": "Title from Salesforce", "MobilePhone": "+1 555 0100"}
        )
        await graph.update_contact(
            str(contact["id"]), {"jobTitle": "Title from Outlook", "department": "Operations"}
        )
        title = "Title from Salesforce" if winner == "salesforce" else "Title from Outlook"

        async def converged() -> tuple[dict[str, Any], dict[str, Any]] | None:
            [row] = await salesforce.query(
                f"SELECT Title, Department, MobilePhone FROM Contact WHERE Id = '{contact_id}'"
            )
            [outlook] = [c for c in await graph.contacts() if c.get("surname") == surname]
            both = (row, outlook)
            done = (
                row["Title"] == outlook.get("jobTitle")
                and row["Department"] == outlook.get("department")
                and row["MobilePhone"] == outlook.get("mobilePhone")
            )
            return both if done else None

        row, outlook = await wait_for(converged, within=60, what=f"{policy}: both sides agree")
        await asyncio.sleep(3)  # and stay agreed: no ping-pong
        [row] = await salesforce.query(
            f"SELECT Title, Department, MobilePhone FROM Contact WHERE Id = '{contact_id}'"
        )
        [outlook] = [c for c in await graph.contacts() if c.get("surname") == surname]
        assert (row["Title"], outlook["jobTitle"]) == (title, title), policy
        assert (row["Department"], outlook["department"]) == ("Operations", "Operations"), policy
        assert (row["MobilePhone"], outlook["mobilePhone"]) == ("+1 555 0100",) * 2, policy
    async with system.api() as api:
        r = await api.get(f"/users/{system.reps[rep]}/records/salesforce/{contact_id}")
        assert r.status_code == 200, r.text
        audit = r.json()["audit"]
    conflicts = [a for a in audit if a["reason"] == f"conflict_resolved_{policy}"]
    assert [str(a["field"]).lower() for a in conflicts] == ["title"], audit
    assert conflicts[0]["policy"] == policy


async def test_ls75_concurrent_edits_merge_fields_and_resolve_per_policy(system: System) -> None:
    """LS-75 [I]: one contact edited on both sides at once, under each conflict policy."""
    results = await asyncio.gather(
        *(
            _conflict_under(system, policy, rep, winner)
            for policy, (rep, winner) in POLICIES.items()
        ),
        return_exceptions=True,
    )
    failures = {
        policy: repr(result)
        for policy, result in zip(POLICIES, results, strict=True)
        if isinstance(result, BaseException)
    }
    assert not failures, failures
