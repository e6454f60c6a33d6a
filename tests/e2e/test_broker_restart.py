"""A broker restart mid-run (issue #8): Kafka goes away while reps keep editing on both sides,
comes back, and afterwards nothing is lost and nothing duplicated. The broker is the one
`deploy/local/infra.sh` runs for this working copy (what `make test` starts); a session pointed
at another broker skips this scenario rather than stop somebody else's."""

from __future__ import annotations

import asyncio
import os
import subprocess
from typing import Any

import pytest

from tests.e2e.conftest import REPS
from tests.e2e.harness import REPO, System, wait_for

pytestmark = pytest.mark.e2e

CONTACTS = {"contacts": "both", "events": "none"}
INFRA = REPO / "deploy" / "local" / "infra.sh"


def _managed_broker(bootstrap: str) -> bool:
    """True when the session's broker is this working copy's local Kafka."""
    pid_file = REPO / ".local" / "kafka" / "kafka.pid"
    port = os.environ.get("SYNCLINE_KAFKA_PORT", "9092")
    if bootstrap not in (f"127.0.0.1:{port}", f"localhost:{port}") or not pid_file.exists():
        return False
    try:
        os.kill(int(pid_file.read_text().strip()), 0)
    except (OSError, ValueError):
        return False
    return True


async def _infra(action: str) -> None:
    done = await asyncio.to_thread(
        subprocess.run,
        ["bash", str(INFRA), action, "kafka"],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, f"infra.sh {action} kafka failed: {done.stderr[-2000:]}"


async def _outlook(graph: Any) -> list[str]:
    return sorted(str(c.get("surname")) for c in await graph.contacts())


async def _salesforce(system: System, salesforce: Any, rep: str) -> list[str]:
    rows = await salesforce.query(
        f"SELECT LastName FROM Contact WHERE OwnerId = '{system.reps[rep]}'"
    )
    return sorted(str(r["LastName"]) for r in rows)


async def test_broker_restart_mid_run_loses_and_duplicates_nothing(system: System) -> None:
    if not _managed_broker(system.stack.bootstrap):
        pytest.skip("the session's broker is not this working copy's deploy/local Kafka")
    rep = REPS[34]
    await system.configure("broker-restart", CONTACTS, [rep])
    owner = system.reps[rep]
    async with system.http() as http:
        salesforce = await system.salesforce_rep(http)
        graph = await system.graph_rep(http, rep)

        async def edit(tag: str) -> list[str]:
            await salesforce.create(
                "Contact",
                {"LastName": f"Sf{tag}", "Email": f"sf{tag}@br.example", "OwnerId": owner},
            )
            await graph.create_contact(
                {
                    "surname": f"Ol{tag}",
                    "emailAddresses": [{"address": f"ol{tag}@br.example"}],
                }
            )
            return [f"Ol{tag}", f"Sf{tag}"]

        names = await edit("Before")

        async def before_synced() -> bool:
            return await _outlook(graph) == sorted(names)

        await wait_for(before_synced, within=60, what="the first contacts synced")
        await _infra("down")
        try:
            # Reps keep working while the bus is away: captures wait, nothing is dropped.
            names += await edit("During")
            await asyncio.sleep(5)
        finally:
            await _infra("up")
        names += await edit("After")
        expected = sorted(names)

        async def converged() -> bool:
            return (
                await _outlook(graph) == expected
                and await _salesforce(system, salesforce, rep) == expected
            )

        await wait_for(converged, within=180, what="both sides converged after the restart")
        await asyncio.sleep(5)  # quiet: no late duplicate arrives
        assert await _outlook(graph) == expected
        assert await _salesforce(system, salesforce, rep) == expected
