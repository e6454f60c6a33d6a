"""End-to-end latency at the issue's load: 200 reps, 50 changes/s, in a stack of its own.

The whole-system run (`whole_system.py`) measures initial sync, idle cost and latency over 40
reps that start with data. This part starts a fresh stack whose 200 reps start empty (their
initial sync is a snapshot of nothing), waits until every rep's initial sync is complete on
both sides, then writes 50 changes/s for 60 s (half in Outlook, half in Salesforce, random reps)
and measures when the other side holds each change — polling only, no change notifications.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import asyncpg
from syncline_cli.processes import wait_for

from bench import initial_sync, latency
from bench.system import fresh_database, running_stack
from bench.whole_system import DRAIN_S, DURATION_S, LATENCY_MS, POLL_S

REPS = int(os.environ.get("SYNCLINE_BENCH_SCALE_REPS", "200"))
RATE_PER_S = float(os.environ.get("SYNCLINE_BENCH_SCALE_RATE_PER_S", "50"))
DATABASE = "syncline_bench_scale"
EMPTY = initial_sync.Scale(
    reps=REPS,
    salesforce_contacts=0,
    outlook_contacts=0,
    shared_contacts=0,
    salesforce_events=0,
    outlook_events=0,
    shared_events=0,
)


async def _barriers_open(database_url: str, reps: int) -> None:
    """Until the reconciler holds both connectors' `initial_sync_completed` for every rep."""

    async def opened() -> int | None:
        connection = await asyncpg.connect(database_url)
        try:
            count = int(await connection.fetchval("SELECT count(*) FROM sync_barriers"))
        finally:
            await connection.close()
        return count if count >= 2 * reps else None

    await wait_for(opened, within=300, what=f"initial sync of {reps} reps on both sides")


async def run(bootstrap: str, base_url: str) -> dict[str, Any]:
    database_url = await fresh_database(base_url, DATABASE)
    async with running_stack(database_url, bootstrap, POLL_S) as (stack, bench):
        await initial_sync.seed(bench, EMPTY)
        await bench.set_latency(LATENCY_MS)
        stack.create_tenant("Bench Co")
        started = time.monotonic()
        await stack.start_services()
        await bench.wait_reps_known(EMPTY.emails())
        await bench.configure_all(initial_sync.BOTH_WAYS)
        await _barriers_open(database_url, REPS)
        ready_s = time.monotonic() - started
        await asyncio.sleep(POLL_S * 3)
        await bench.reset_counters()
        load = await latency.run(bench, RATE_PER_S, DURATION_S, DRAIN_S)
        rss = bench.peak_rss_mb()
    return {
        "reps": REPS,
        "changes_per_s": RATE_PER_S,
        "duration_s": DURATION_S,
        "simulator_latency_ms": LATENCY_MS,
        "salesforce_poll_s": POLL_S,
        "exchange_poll_s": [POLL_S, POLL_S * 3],
        "change_notifications": False,
        "from_service_start_to_all_reps_synced_s": round(ready_s, 1),
        **load,
        "peak_rss_mb": rss,
    }
