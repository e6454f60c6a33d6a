"""`make bench`: run the benchmarks, write `bench/results.json`, print a table.

Each part is measured on this machine in one run; a part that fails is reported as failed with
the reason, never invented. What each number means and its goal: `bench/README.md`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import platform
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from syncruntime.settings import KafkaSettings, PostgresSettings

from bench.system import fresh_database

RESULTS = Path(__file__).resolve().parent / "results.json"


def _machine() -> str:
    return f"{platform.machine()} {os.cpu_count()} cores, {platform.system()} {platform.release()}"


async def _part(name: str, results: dict[str, Any], run: Callable[[], Awaitable[Any]]) -> Any:
    started = time.monotonic()
    print(f"[bench] {name} ...", flush=True)
    try:
        value = await run()
    except Exception as exc:  # one broken part must not hide the others' numbers
        traceback.print_exc()
        results.setdefault("failed", {})[name] = f"{type(exc).__name__}: {exc}"
        value = None
    results.setdefault("part_wall_s", {})[name] = round(time.monotonic() - started, 1)
    return value


async def main_async() -> dict[str, Any]:
    from bench import at_scale, reconciler, whole_system

    kafka, postgres = KafkaSettings(), PostgresSettings()
    results: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": _machine(),
        "load_average_at_start": list(os.getloadavg()),
    }

    async def reconciler_part() -> Any:
        url = await fresh_database(postgres.url, "syncline_bench")
        return await reconciler.run(kafka.bootstrap, url)

    results["reconciler"] = await _part("reconciler", results, reconciler_part)
    system = await _part(
        "whole system", results, lambda: whole_system.run(kafka.bootstrap, postgres.url)
    )
    if system is not None:
        results.update(system)
    results["latency_at_scale"] = await _part(
        "latency at scale", results, lambda: at_scale.run(kafka.bootstrap, postgres.url)
    )
    results["load_average_at_end"] = list(os.getloadavg())
    return results


def _row(label: str, value: Any, goal: str = "") -> str:
    return f"  {label:<52}{value!s:>14}   {goal}"


def table(r: dict[str, Any]) -> str:
    lines = [f"Syncline benchmarks — {r['date']} — {r['machine']}", ""]
    for direction in ("exchange_to_salesforce", "salesforce_to_exchange"):
        q = r.get("latency_s", {}).get(direction)
        if q:
            value = f"{q['p50']} / {q['p95']} / {q['p99']}"
            lines.append(_row(f"latency {direction} p50/p95/p99 s", value, "goal p95 < poll + 5 s"))
    for direction in ("exchange_to_salesforce", "salesforce_to_exchange"):
        q = r.get("latency_s_with_notifications", {}).get(direction)
        if q:
            value = f"{q['p50']} / {q['p95']} / {q['p99']}"
            lines.append(_row(f"  with notifications, {direction}", value, "goal p95 < 5 s"))
    big = r.get("latency_at_scale") or {}
    for direction in ("exchange_to_salesforce", "salesforce_to_exchange"):
        q = big.get(direction)
        if q:
            value = f"{q['p50']} / {q['p95']} / {q['p99']}"
            label = f"  {big['reps']} reps, {big['changes_per_s']:g}/s, {direction}"
            lines.append(_row(label, value, "goal p95 < poll + 5 s"))
    sync = r.get("initial_sync") or {}
    if sync:
        lines.append(_row("initial sync wall s (from configure)", sync["wall_s"]))
        lines.append(_row("initial sync duplicates", sum(sync["duplicates"].values()), "goal 0"))
        lines.append(_row("initial sync records missing", sum(sync["missing"].values()), "goal 0"))
        pushed = sync.get("existing_salesforce_events_pushed", {})
        lines.append(
            _row("  pre-existing SF events pushed", sum(pushed.values()), "goal 0 (LS-31)")
        )
        lines.append(
            _row(
                "initial sync Graph calls / floor",
                f"{sync['graph_calls']}/{sync['graph_floor']}",
                f"{sync['graph_ratio']}x (goal <= 1.2x)",
            )
        )
        lines.append(
            _row(
                "initial sync Salesforce calls / floor",
                f"{sync['salesforce_calls']}/{sync['salesforce_floor']}",
                f"{sync['salesforce_ratio']}x (goal <= 1.2x)",
            )
        )
    rec = r.get("reconciler") or {}
    if rec:
        lines.append(
            _row(
                "reconciler changes/s | bus limit/s",
                f"{rec['changes_per_s']} | {rec['bus_limit_per_s']}",
                "goal >= 5000/s and >= 30% of the bus",
            )
        )
        runs = rec.get("runs") or []
        if runs:
            ratios = sorted(run["ratio"] for run in runs)
            lines.append(
                _row(
                    f"  share of the bus, median of {len(runs)} runs",
                    f"{100 * rec['ratio']:.1f} %",
                    f"runs {100 * ratios[0]:.1f}-{100 * ratios[-1]:.1f} %,"
                    f" {rec.get('cpu_us_per_change')} us CPU per change",
                )
            )
    for key, goal in (
        ("salesforce_calls_per_1000_changes", "floor 5"),
        ("salesforce_write_calls_per_1000_changes", "floor 5"),
        ("salesforce_calls_per_1000_changes_steady", "floor 5"),
        ("salesforce_write_calls_per_1000_changes_steady", "floor 5"),
        ("graph_calls_per_change_steady", "goal <= 1"),
        ("graph_write_calls_per_applied_change_steady", "goal <= 1"),
        ("idle_graph_calls_per_mailbox_day", ""),
        ("idle_graph_polls_per_mailbox_day", ""),
        ("idle_salesforce_calls_per_hour", "at the bench's 3 s poll"),
        ("idle_salesforce_calls_per_hour_at_default_60s_poll", "derived per poll cycle"),
        ("idle_graph_calls_per_mailbox_day_at_default_300s_backoff", "derived per poll cycle"),
    ):
        if key in r:
            lines.append(_row(key, r[key], goal))
    for service, mb in (r.get("peak_rss_mb") or {}).items():
        lines.append(_row(f"peak RSS MB {service}", mb))
    for name, reason in (r.get("failed") or {}).items():
        lines.append(f"  FAILED {name}: {reason}")
    return "\n".join(lines)


def main() -> int:
    results = asyncio.run(main_async())
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    print(f"\nwritten to {RESULTS}")
    return 1 if results.get("failed") else 0


if __name__ == "__main__":
    sys.exit(main())
