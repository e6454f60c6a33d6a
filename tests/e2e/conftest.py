"""One running Syncline for the e2e session: fresh database and bus, both simulators, a tenant
created with `syncline admin`, and every service as its own process (the same wiring as
`make run`, from `syncline_cli.devstack`)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from syncline_cli.devstack import Stack
from syncruntime.settings import KafkaSettings

from tests.e2e.harness import LOGS, System, wait_for
from tests.fixtures.infra import fresh_bus, fresh_database

TENANT = "e2e"
REPS = [f"rep{n}@e2e.example" for n in range(35)]
# Reps whose mailboxes live in far-apart zones (UTC-10, UTC+0, UTC+5:30, UTC+13), for all-day
# events across DST changes.
ZONED_REPS = {
    "rep12@e2e.example": "Hawaiian Standard Time",
    "rep13@e2e.example": "GMT Standard Time",
    "rep14@e2e.example": "India Standard Time",
    "rep15@e2e.example": "Tonga Standard Time",
}
# Reps whose mailboxes are on premises: the exchange connector runs `hybrid` and serves this
# domain over EWS (the EWS simulator), everyone else over Graph (tests/e2e/test_ews.py).
EWS_DOMAIN = "onprem.e2e.example"
EWS_REPS = [f"rep{n}@{EWS_DOMAIN}" for n in range(7)]
GRAPH_PEER = "peer@e2e.example"
"""A Graph rep syncing side by side with an EWS rep (test_ews.py)."""


@pytest.fixture(scope="session")
async def system(base_database_url: str, kafka_settings: KafkaSettings) -> AsyncIterator[System]:
    shutil.rmtree(LOGS, ignore_errors=True)
    async with fresh_database(base_database_url) as database_url:
        await fresh_bus(kafka_settings.bootstrap)
        stack = Stack(
            tenant=TENANT,
            database_url=database_url,
            bootstrap=kafka_settings.bootstrap,
            log_dir=LOGS,
            ews_domain=EWS_DOMAIN,
        )
        try:
            await stack.start_simulators()
            await stack.seed_reps(REPS + EWS_REPS + [GRAPH_PEER], time_zones=ZONED_REPS)
            stack.create_tenant("E2E Co")
            await stack.start_services()
            system = System(stack)

            async def reps_known() -> dict[str, str] | None:
                async with system.api() as api:
                    r = await api.get("/users", params={"limit": 200})
                    r.raise_for_status()
                    everyone = [*REPS, *EWS_REPS, GRAPH_PEER]
                    known = {
                        u["email"]: u["user_id"]
                        for u in r.json()["items"]
                        if u["email"] in everyone
                    }
                    return known if len(known) == len(everyone) else None

            system.reps = await wait_for(
                reps_known, within=90, what="every rep captured from Salesforce"
            )
            yield system
        finally:
            stack.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).parent.name == "e2e":
            item.add_marker(pytest.mark.e2e)
