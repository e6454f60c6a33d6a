"""Faults and crashes (issue #8): kill -9 of every service mid-run, Graph 429 storms, the
Salesforce daily quota exhausted then restored — afterwards nothing lost, nothing duplicated."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from syncline_cli.processes import wait_http

from tests.e2e.conftest import REPS
from tests.e2e.harness import System, wait_for

pytestmark = pytest.mark.e2e

CONTACTS = {"contacts": "both", "events": "none"}


async def _surnames_outlook(graph: Any) -> list[str]:
    return sorted(str(c.get("surname")) for c in await graph.contacts())


async def _surnames_salesforce(system: System, salesforce: Any, rep: str) -> list[str]:
    rows = await salesforce.query(
        f"SELECT LastName FROM Contact WHERE OwnerId = '{system.reps[rep]}'"
    )
    return sorted(str(r["LastName"]) for r in rows)


async def test_kill_9_of_every_service_mid_run_loses_and_duplicates_nothing(
    system: System,
) -> None:
    rep = REPS[6]
    await system.configure("crash", CONTACTS, [rep])
    rng = random.Random(11)
    victims = ["reconciler", "exchange-connector", "salesforce-connector", "status-api"]
    async with system.http() as http:
        salesforce = await system.salesforce_rep(http)
        graph = await system.graph_rep(http, rep)
        expected: list[str] = []
        for round_ in range(4):
            for n in range(5):
                name = f"Crash{round_}x{n}"
                expected.append(name)
                if n % 2:
                    await graph.create_contact(
                        {
                            "givenName": "K",
                            "surname": name,
                            "emailAddresses": [{"address": f"{name}@k.example"}],
                        }
                    )
                else:
                    await salesforce.create(
                        "Contact",
                        {
                            "LastName": name,
                            "FirstName": "K",
                            "Email": f"{name}@k.example",
                            "OwnerId": system.reps[rep],
                        },
                    )
            victim = system.services[victims[round_]]
            await asyncio.sleep(rng.uniform(0.2, 2.0))
            victim.kill9()
            await asyncio.sleep(rng.uniform(0.5, 1.5))
            victim.start()
        expected.sort()

        async def converged() -> bool:
            return (
                await _surnames_outlook(graph) == expected
                and await _surnames_salesforce(system, salesforce, rep) == expected
            )

        try:
            await wait_for(converged, within=150, what="both sides converged after the crashes")
        finally:
            for name in victims:
                assert system.services[name].alive(), system.services[name].log_tail()
            # Leave the system as found: the restarted status API answers again.
            await wait_http(f"{system.stack.status_url}/healthz", "the restarted status API")


async def test_graph_429_storm_slows_sync_down_but_loses_nothing(system: System) -> None:
    rep = REPS[7]
    await system.configure("storm", CONTACTS, [rep])
    async with system.http() as http:
        salesforce = await system.salesforce_rep(http)
        graph = await system.graph_rep(http, rep)
        r = await http.post(
            f"{system.stack.graph_url}/_sim/faults",
            json={
                "error_rate": 0.4,
                "error_status": 429,
                "error_retry_after": 1,
            },
        )
        r.raise_for_status()
        try:
            names = [f"Storm{n}" for n in range(6)]
            for name in names:
                await salesforce.create(
                    "Contact",
                    {"LastName": name, "Email": f"{name}@s.example", "OwnerId": system.reps[rep]},
                )
            await asyncio.sleep(8)
        finally:
            (await http.delete(f"{system.stack.graph_url}/_sim/faults")).raise_for_status()

        async def all_in_outlook() -> bool:
            return await _surnames_outlook(graph) == names

        await wait_for(all_in_outlook, within=90, what="every contact in Outlook after the storm")


async def test_salesforce_quota_exhausted_pauses_then_resumes(system: System) -> None:
    rep = REPS[8]
    await system.configure("quota", CONTACTS, [rep])
    async with system.http() as http:
        graph = await system.graph_rep(http, rep)
        salesforce = await system.salesforce_rep(http)
        base = system.stack.salesforce_url
        quota = (await http.get(f"{base}/_sim/quota")).json()
        (
            await http.post(f"{base}/_sim/quota", json={"used": quota["allocation"]})
        ).raise_for_status()
        try:
            await graph.create_contact(
                {
                    "givenName": "Q",
                    "surname": "Quota",
                    "emailAddresses": [{"address": "quota@q.example"}],
                }
            )

            async def paused() -> bool:
                async with system.api() as api:
                    r = await api.get("/status")
                    return "quota_exhausted" in r.text

            await wait_for(paused, within=60, what="the tenant status showing the quota pause")
        finally:
            (await http.post(f"{base}/_sim/quota", json={"used": 0})).raise_for_status()
        # The connector resumes at the time it announced; the simulator's restored allocation
        # lets the create through.
        system.services["salesforce-connector"].restart()

        async def in_salesforce() -> bool:
            return "Quota" in await _surnames_salesforce(system, salesforce, rep)

        await wait_for(in_salesforce, within=90, what="the contact in Salesforce after the pause")
