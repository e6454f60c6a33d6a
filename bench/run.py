"""`make bench`: run the benchmarks, write `bench/results.json`, print a table.

Each part is measured on this machine in one run; parts whose services are not built yet are
reported as skipped with the reason, never invented.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import platform
import sys
from pathlib import Path
from typing import Any

import asyncpg
from syncruntime.postgres.migrate import upgrade
from syncruntime.settings import KafkaSettings, PostgresSettings

RESULTS = Path(__file__).resolve().parent / "results.json"


async def _bench_database(base_url: str) -> str:
    name = "syncline_bench"
    conn = await asyncpg.connect(base_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = base_url.rsplit("/", 1)[0] + f"/{name}"
    await asyncio.to_thread(upgrade, url)
    return url


def _machine() -> str:
    import os

    return f"{platform.machine()} {os.cpu_count()} cores, {platform.system()} {platform.release()}"


async def main_async() -> dict[str, Any]:
    from bench import reconciler

    kafka, postgres = KafkaSettings(), PostgresSettings()
    results: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": _machine(),
    }
    url = await _bench_database(postgres.url)
    results["reconciler"] = await reconciler.run(kafka.bootstrap, url)
    return results


def main() -> int:
    results = asyncio.run(main_async())
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"{'metric':<40}{'value':>14}")
    for section, values in results.items():
        if isinstance(values, dict):
            for key, value in values.items():
                print(f"{section + '.' + key:<40}{value!s:>14}")
        else:
            print(f"{section:<40}{values!s:>14}")
    print(f"\nwritten to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
