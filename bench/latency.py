"""End-to-end latency at a steady rate of changes across many reps, both directions, and what the
changes cost in API calls.

Each change is a new contact written the way a rep would: in the rep's Outlook `Salesforce_Sync`
folder (Graph API) or in Salesforce with the rep as owner (REST). The clock starts when the
simulator has acknowledged the write (the change is visible there) and stops when a poll of the
other side first sees the contact:
- Salesforce side: one SOQL query per tick for all pending surnames (`LIKE 'LatE%'`), counted by
  the simulator and therefore taken out of the connector's figures;
- Outlook side: one `/_sim/contacts?surname_prefix=LatS` per tick (the uncounted inspection API;
  it lists the matching contacts of every mailbox, so 200 reps cost one probe, not 200).
A detection is stamped when the poll's answer arrives, so each figure includes up to one poll
tick (plus the simulator's injected latency for the SOQL poll): the numbers are upper bounds.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.system import Bench, diff

TICK_S = 0.5


@dataclass
class Pending:
    """Changes written on one side and not yet seen on the other: surname -> (rep, t_written)."""

    items: dict[str, tuple[str, float]] = field(default_factory=dict)
    seen: list[float] = field(default_factory=list)
    written: int = 0
    failed: int = 0


def percentiles(values: list[float]) -> dict[str, float | None]:
    if len(values) < 2:
        return {"p50": None, "p95": None, "p99": None, "n": len(values)}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {
        "p50": round(cuts[49], 2),
        "p95": round(cuts[94], 2),
        "p99": round(cuts[98], 2),
        "max": round(max(values), 2),
        "n": len(values),
    }


async def _write_outlook(bench: Bench, rep: str, name: str, pending: Pending) -> None:
    folder = f"/users/{rep}/contactFolders/{bench.sync_folders[rep]}/contacts"
    body = {
        "givenName": "Lena",
        "surname": name,
        "emailAddresses": [{"address": f"{name.lower()}@latency.example"}],
    }
    try:
        await bench.graph("POST", folder, body)
    except Exception:
        pending.failed += 1
        return
    pending.items[name] = (rep, time.monotonic())
    pending.written += 1


async def _write_salesforce(bench: Bench, rep: str, name: str, pending: Pending) -> None:
    fields = {
        "FirstName": "Sam",
        "LastName": name,
        "Email": f"{name.lower()}@latency.example",
        "OwnerId": bench.reps[rep],
    }
    try:
        await bench.salesforce("POST", "/sobjects/Contact", fields)
    except Exception:
        pending.failed += 1
        return
    pending.items[name] = (rep, time.monotonic())
    pending.written += 1


async def _watch_salesforce(bench: Bench, pending: Pending, stop: asyncio.Event) -> None:
    while not (stop.is_set() and not pending.items):
        if pending.items:
            try:
                rows = await bench.soql("SELECT LastName FROM Contact WHERE LastName LIKE 'LatE%'")
            except httpx.HTTPError:
                rows = []  # a failed probe is retried next tick
            now = time.monotonic()
            for row in rows:
                found = pending.items.pop(row["LastName"], None)
                if found is not None:
                    pending.seen.append(now - found[1])
        await asyncio.sleep(TICK_S)


async def _watch_outlook(bench: Bench, pending: Pending, stop: asyncio.Event) -> None:
    while not (stop.is_set() and not pending.items):
        if pending.items:
            try:
                found_now = await bench.graph_sim("GET", "/contacts?surname_prefix=LatS")
            except httpx.HTTPError:
                found_now = {"value": []}  # a failed probe is retried next tick
            now = time.monotonic()
            for contact in found_now["value"]:
                found = pending.items.pop(str(contact["surname"]), None)
                if found is not None and found[0].lower() == str(contact["user"]).lower():
                    pending.seen.append(now - found[1])
                elif found is not None:
                    pending.items[str(contact["surname"])] = found  # another rep's copy
        await asyncio.sleep(TICK_S)


async def run(bench: Bench, rate_per_s: float, duration_s: float, drain_s: float) -> dict[str, Any]:
    """Half the changes Outlook→Salesforce, half Salesforce→Outlook, spread over random reps."""
    to_salesforce, to_outlook = Pending(), Pending()
    reps = sorted(bench.reps)
    rng = random.Random(8)
    graph_before, sf_before = await bench.counters()
    stop = asyncio.Event()
    watchers = [
        asyncio.create_task(_watch_salesforce(bench, to_salesforce, stop)),
        asyncio.create_task(_watch_outlook(bench, to_outlook, stop)),
    ]
    writes: list[asyncio.Task[None]] = []
    started = time.monotonic()
    total = int(rate_per_s * duration_s)
    for n in range(total):
        await asyncio.sleep(max(0.0, started + n / rate_per_s - time.monotonic()))
        rep = rng.choice(reps)
        if n % 2 == 0:
            writes.append(
                asyncio.create_task(_write_outlook(bench, rep, f"LatE{n}", to_salesforce))
            )
        else:
            writes.append(
                asyncio.create_task(_write_salesforce(bench, rep, f"LatS{n}", to_outlook))
            )
    await asyncio.gather(*writes)
    stop.set()
    # Whatever is still pending after the drain is reported as not converged.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(*watchers), timeout=drain_s)
    elapsed = time.monotonic() - started
    graph_after, sf_after = await bench.counters()
    return {
        "elapsed_s": round(elapsed, 1),
        "exchange_to_salesforce": percentiles(to_salesforce.seen),
        "salesforce_to_exchange": percentiles(to_outlook.seen),
        "not_converged": {
            "exchange_to_salesforce": len(to_salesforce.items),
            "salesforce_to_exchange": len(to_outlook.items),
        },
        "write_failures": to_salesforce.failed + to_outlook.failed,
        "applied_to_salesforce": len(to_salesforce.seen),
        "applied_to_exchange": len(to_outlook.seen),
        "graph_service_calls": graph_after.service_calls - graph_before.service_calls,
        "salesforce_service_calls": sf_after.service_calls - sf_before.service_calls,
        "graph_by_endpoint": diff(graph_after.by_endpoint, graph_before.by_endpoint),
        "salesforce_by_endpoint": diff(sf_after.by_endpoint, sf_before.by_endpoint),
    }
