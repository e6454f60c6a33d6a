"""`syncline dev`: the whole system against the local Kafka and PostgreSQL, seeded with a demo
tenant (reps with contacts, leads and meetings on both sides), until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import httpx

from syncline_cli.devstack import Stack
from syncline_cli.processes import wait_for

DEMO_REPS = ["ada.lovelace@demo.example", "alan.turing@demo.example", "grace.hopper@demo.example"]


async def _run(args: argparse.Namespace) -> int:
    from syncruntime.settings import KafkaSettings, PostgresSettings

    stack = Stack(
        tenant=args.tenant,
        database_url=PostgresSettings().url,
        bootstrap=KafkaSettings().bootstrap,
        log_dir=Path(args.log_dir),
        graph_port=args.graph_port,
        salesforce_port=args.salesforce_port,
        api_port=args.port,
        poll_s=5.0,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stack.start_simulators()
        await stack.seed_reps(DEMO_REPS, contacts=10, leads=3, meetings=4)
        try:
            key = stack.create_tenant("Demo Co")
        except Exception:  # the tenant exists from an earlier run: keys are shown only once
            key = ""
        await stack.start_services()
        if key:
            await _configure_demo(stack)
        print(f"\nSyncline is running (logs in {args.log_dir}).")
        print(f"  status API:  {stack.status_url}/v1   docs: {stack.status_url}/docs")
        print(f"  tenant:      {stack.tenant}")
        print(f"  admin key:   {key or '(tenant existed; use a key from the first run)'}")
        print(f"  Graph sim:   {stack.graph_url}   Salesforce sim: {stack.salesforce_url}")
        print("Ctrl-C to stop.")
        await stop.wait()
    finally:
        stack.stop()
        print("stopped.")
    return 0


async def _configure_demo(stack: Stack) -> None:
    async with stack.api() as api:

        async def reps() -> list[str] | None:
            r = await api.get("/users", params={"limit": 100})
            found = [u["user_id"] for u in r.json()["items"] if u.get("email") in DEMO_REPS]
            return found if len(found) == len(DEMO_REPS) else None

        user_ids = await wait_for(reps, within=120, what="the demo reps captured")
        # Register the connections the services run with, so that the status API's system
        # status and connection test see what a real deployment would have configured.
        graph, sf = stack.graph_credentials, stack.salesforce_credentials
        authority_host, _, directory = graph["authority"].rpartition("/")
        r = await api.put(
            "/connections/exchange_graph",
            json={
                "kind": "exchange_graph",
                "directory_tenant_id": directory,
                "client_id": graph["client_id"],
                "authority_host": authority_host,
                "graph_url": graph["graph_base_url"],
                "client_secret": graph["client_secret"],
            },
        )
        _check(r)
        r = await api.put(
            "/connections/salesforce",
            json={
                "kind": "salesforce",
                "login_url": sf["login_url"],
                "client_id": sf["client_id"],
                "username": sf["username"],
                "private_key_pem": sf["private_key_pem"],
            },
        )
        _check(r)
        r = await api.post("/configurations", json={"name": "Demo", "active": True})
        _check(r)
        configuration_id = r.json()["id"]
        for user_id in user_ids:
            r = await api.put(f"/configurations/{configuration_id}/assignments/user/{user_id}")
            _check(r)


def _check(response: httpx.Response) -> None:
    if response.is_error:
        raise RuntimeError(
            f"{response.request.method} {response.request.url} -> {response.status_code}: "
            f"{response.text[:500]}"
        )


def main(argv: Sequence[str] = ()) -> int:
    parser = argparse.ArgumentParser(prog="syncline dev")
    parser.add_argument("--tenant", default="demo")
    parser.add_argument("--port", type=int, default=8080, help="status API port")
    parser.add_argument("--graph-port", type=int, default=8443)
    parser.add_argument("--salesforce-port", type=int, default=8444)
    parser.add_argument("--log-dir", default=".local/run")
    try:
        return asyncio.run(_run(parser.parse_args(list(argv))))
    except (httpx.HTTPError, RuntimeError) as exc:
        print(f"syncline dev: {exc}", file=sys.stderr)
        return 1
