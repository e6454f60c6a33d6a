"""The system-level benchmarks in one run of the whole stack (services as processes, real broker
and PostgreSQL, simulators at a fixed injected latency):

1. initial sync of pre-seeded, overlapping data -> wall time, duplicates, API calls vs. floor;
2. idle polling -> Graph calls per mailbox per day, Salesforce calls per hour;
3. a steady stream of changes both ways -> end-to-end latency percentiles, calls per change;
4. the same stream once more with Graph change notifications switched on;
5. peak RSS of every process, read after all of it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import os
import time
from typing import Any

from syncline_cli.devstack import Stack
from syncline_cli.processes import free_port, wait_for

from bench import initial_sync, latency
from bench.system import Bench, fresh_database, running_stack

LATENCY_MS = 100.0
"""Fixed extra latency on every simulator API call (the fault API has no random range)."""
POLL_S = 3.0
"""Salesforce poll interval; Exchange polls every POLL_S..3*POLL_S (devstack's wiring)."""
IDLE_S = 60.0
RATE_PER_S = float(os.environ.get("SYNCLINE_BENCH_RATE_PER_S", "5"))
"""Changes per second of the latency phases, half each way."""
REPS = int(os.environ.get("SYNCLINE_BENCH_REPS", "40"))
"""Reps of the tenant: initial sync, latency and idle phases all run over them."""
DURATION_S = 60.0
DRAIN_S = 45.0
NOTIFIED_DURATION_S = 40.0
DATABASE = "syncline_bench_system"


async def run(bootstrap: str, base_url: str) -> dict[str, Any]:
    scale = initial_sync.Scale(reps=REPS)
    database_url = await fresh_database(base_url, DATABASE)
    async with running_stack(database_url, bootstrap, POLL_S) as (stack, bench):
        expected = await initial_sync.seed(bench, scale)
        page_size = await initial_sync.graph_page_size(bench)
        await bench.reset_counters()
        await bench.set_latency(LATENCY_MS)
        stack.create_tenant("Bench Co")
        started = time.monotonic()
        await stack.start_services()
        await bench.wait_reps_known(scale.emails())
        # LS-31: the seeded Salesforce events predate the reps' sync (beyond its 2 s margin).
        await asyncio.sleep(3)
        configured = time.monotonic()
        await bench.configure_all(initial_sync.BOTH_WAYS)
        wall_s, converged = await initial_sync.converge(bench, expected)
        sync_graph, sync_sf = await bench.counters()
        sync_total_s = time.monotonic() - started

        # Idle: everything converged, nobody edits; what does staying in sync cost?
        await asyncio.sleep(POLL_S * 3)
        after_sync = await initial_sync.duplicates(bench, expected)
        await bench.reset_counters()
        await asyncio.sleep(IDLE_S)
        idle_graph, idle_sf = await bench.counters()
        graph_idle_per_s = idle_graph.service_calls / IDLE_S
        graph_idle_polls = _reads(idle_graph.by_endpoint)
        sf_idle_per_s = idle_sf.service_calls / IDLE_S

        await bench.reset_counters()
        load = await latency.run(bench, RATE_PER_S, DURATION_S, DRAIN_S)
        rss = bench.peak_rss_mb()

        # The same load again with Graph change notifications (the connector restarted with a
        # receiver; the simulator delivers to it): Outlook changes no longer wait for a poll.
        await _enable_notifications(stack, bench)
        await bench.reset_counters()
        notified = await latency.run(bench, RATE_PER_S, NOTIFIED_DURATION_S, DRAIN_S)
        for name, mb in bench.peak_rss_mb().items():
            rss[name] = max(mb, rss.get(name, 0.0))

    floors = initial_sync.floors(scale, page_size, expected)
    sf_polls = math.ceil(sf_idle_per_s * sync_total_s)
    graph_polls = math.ceil(graph_idle_polls / IDLE_S * sync_total_s)
    sync_calls = initial_sync.call_summary(sync_graph, sync_sf)
    sf_written = floors["records_written_to_salesforce"]
    graph_changes = load["applied_to_salesforce"] + load["applied_to_exchange"]
    return {
        "settings": {
            "simulator_latency_ms": LATENCY_MS,
            "salesforce_poll_s": POLL_S,
            "exchange_poll_s": [POLL_S, POLL_S * 3],
            "change_notifications": "off for latency_s, on for latency_s_with_notifications",
            "latency_probe_tick_s": latency.TICK_S,
            "idle_window_s": IDLE_S,
            "graph_delta_page_size": page_size,
        },
        "latency_s": {
            "exchange_to_salesforce": load["exchange_to_salesforce"],
            "salesforce_to_exchange": load["salesforce_to_exchange"],
        },
        "latency_s_with_notifications": {
            "exchange_to_salesforce": notified["exchange_to_salesforce"],
            "salesforce_to_exchange": notified["salesforce_to_exchange"],
            "duration_s": NOTIFIED_DURATION_S,
            "not_converged": notified["not_converged"],
            "graph_service_calls": notified["graph_service_calls"],
            "graph_by_endpoint": notified["graph_by_endpoint"],
            "salesforce_service_calls": notified["salesforce_service_calls"],
            "salesforce_by_endpoint": notified["salesforce_by_endpoint"],
        },
        "latency_load": {
            "reps": scale.reps,
            "changes_per_s": RATE_PER_S,
            "duration_s": DURATION_S,
            **{
                k: v
                for k, v in load.items()
                if k not in ("exchange_to_salesforce", "salesforce_to_exchange")
            },
        },
        "initial_sync": {
            "scale": dataclasses.asdict(scale),
            "converged": converged,
            "wall_s": round(wall_s, 1),
            "wall_from_service_start_s": round(sync_total_s, 1),
            "from_services_start_to_configured_s": round(configured - started, 1),
            **after_sync,
            **{k: v for k, v in sync_calls.items() if not k.endswith("by_endpoint")},
            **floors,
            "graph_ratio": round(sync_calls["graph_calls"] / floors["graph_floor"], 2),
            "salesforce_ratio": round(
                sync_calls["salesforce_calls"] / floors["salesforce_floor"], 2
            ),
            "graph_floor_with_idle_polling": floors["graph_floor"] + graph_polls,
            "salesforce_floor_with_idle_polling": floors["salesforce_floor"] + sf_polls,
            "graph_ratio_with_idle_polling": round(
                sync_calls["graph_calls"] / (floors["graph_floor"] + graph_polls), 2
            ),
            "salesforce_ratio_with_idle_polling": round(
                sync_calls["salesforce_calls"] / (floors["salesforce_floor"] + sf_polls), 2
            ),
            "graph_by_endpoint": sync_calls["graph_by_endpoint"],
            "salesforce_by_endpoint": sync_calls["salesforce_by_endpoint"],
        },
        # Every Salesforce call of the initial sync (reads and polls included) per 1,000 records
        # written there; then the writes alone (the floor, 5, counts writes of 200 records).
        "salesforce_calls_per_1000_changes": round(sync_sf.service_calls / sf_written * 1000, 1),
        "salesforce_write_calls_per_1000_changes": round(
            _writes(sync_sf.by_endpoint) / sf_written * 1000, 1
        ),
        "salesforce_calls_per_1000_changes_steady": round(
            load["salesforce_service_calls"] / max(load["applied_to_salesforce"], 1) * 1000, 1
        ),
        "salesforce_write_calls_per_1000_changes_steady": round(
            _writes(load["salesforce_by_endpoint"]) / max(load["applied_to_salesforce"], 1) * 1000,
            1,
        ),
        "graph_calls_per_change_steady": round(
            load["graph_service_calls"] / max(graph_changes, 1), 2
        ),
        "graph_write_calls_per_applied_change_steady": round(
            _writes(load["graph_by_endpoint"]) / max(load["applied_to_exchange"], 1), 2
        ),
        # The load is contacts only: their writes alone, without the event rewrites going on.
        "graph_contact_writes_per_applied_change_steady": round(
            _writes({e: n for e, n in load["graph_by_endpoint"].items() if "/contact" in e})
            / max(load["applied_to_exchange"], 1),
            2,
        ),
        "idle_graph_calls_per_mailbox_day": round(graph_idle_per_s / scale.reps * 86400, 1),
        "idle_graph_polls_per_mailbox_day": round(
            graph_idle_polls / IDLE_S / scale.reps * 86400, 1
        ),
        "idle_salesforce_calls_per_hour": round(sf_idle_per_s * 3600, 1),
        # The bench polls fast to keep its run short; the same cost per poll cycle at the
        # production defaults (Salesforce every 60 s; an idle mailbox backs off to 300 s):
        "idle_salesforce_calls_per_hour_at_default_60s_poll": round(
            sf_idle_per_s * POLL_S * 3600 / 60, 1
        ),
        "idle_graph_calls_per_mailbox_day_at_default_300s_backoff": round(
            graph_idle_per_s / scale.reps * POLL_S * 3 * 86400 / 300, 1
        ),
        "idle_graph_by_endpoint": idle_graph.by_endpoint,
        "idle_salesforce_by_endpoint": idle_sf.by_endpoint,
        "peak_rss_mb": rss,
    }


async def _enable_notifications(stack: Stack, bench: Bench) -> None:
    connector = stack.services["exchange-connector"]
    port = free_port()
    connector.env = connector.env | {
        "SYNCLINE_EXCHANGE_NOTIFICATION_URL": f"http://127.0.0.1:{port}",
        "SYNCLINE_EXCHANGE_NOTIFICATION_HOST": "127.0.0.1",
        "SYNCLINE_EXCHANGE_NOTIFICATION_PORT": str(port),
    }
    await bench.reset_counters()
    await asyncio.to_thread(connector.restart)

    async def subscribed() -> int | None:
        graph, _ = await bench.counters()
        made = graph.by_endpoint.get("POST /v1.0/subscriptions", 0)
        return made if made >= 2 * len(bench.reps) else None

    await wait_for(subscribed, within=90, what="a subscription per mailbox and folder")


def _writes(by_endpoint: dict[str, int]) -> int:
    """Calls that write (anything but GET; the OAuth token call is not a write)."""
    return sum(
        n for e, n in by_endpoint.items() if not e.startswith("GET ") and "oauth2/token" not in e
    )


def _reads(by_endpoint: dict[str, int]) -> int:
    return sum(n for e, n in by_endpoint.items() if e.startswith("GET "))
