"""The whole system for the system-level benchmarks: both simulators and every service as its own
process (the same wiring as `make run` and the e2e tests, `syncline_cli.devstack`), plus what a
benchmark needs around it: the reps' own API clients (whose calls are counted so they can be
taken out of the simulators' API-call counters), counter snapshots, latency injection and the
services' peak RSS.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import jwt
from syncline_cli.devstack import Stack
from syncline_cli.processes import wait_for
from syncruntime.postgres.migrate import upgrade

TENANT = "bench"
LOGS = Path(__file__).resolve().parents[1] / ".local" / "bench"
SF_API = "/services/data/v62.0"


_TEMPLATES = (
    (re.compile(r"/users/[^/]+"), "/users/{user_id}"),
    (re.compile(r"/contactFolders/[^/]+"), "/contactFolders/{folder_id}"),
    (re.compile(r"/services/data/v[0-9.]+"), "/services/data/{version}"),
    (re.compile(r"/sobjects/[A-Za-z_]+$"), "/sobjects/{type_name}"),
)


def endpoint(method: str, path: str) -> str:
    """The simulators' counter label (route template) of the few calls the benchmark makes."""
    for pattern, template in _TEMPLATES:
        path = pattern.sub(template, path)
    return f"{method} {path}"


@dataclass
class OwnCalls:
    """Requests the benchmark itself sends to a simulator's counted API (as reps would)."""

    prefix: str
    by_endpoint: Counter[str] = field(default_factory=Counter)

    @property
    def count(self) -> int:
        return sum(self.by_endpoint.values())

    async def hook(self, request: httpx.Request) -> None:
        if request.url.path.startswith(self.prefix):
            self.by_endpoint[endpoint(request.method, request.url.path)] += 1


@dataclass
class Counted:
    """API calls a simulator counted between two snapshots, minus the benchmark's own calls."""

    total: int
    own: int
    by_endpoint: dict[str, int]
    """the services' calls per endpoint (the benchmark's own taken out)"""

    @property
    def service_calls(self) -> int:
        return self.total - self.own


@dataclass
class Bench:
    """A running stack, with authenticated clients acting as the reps on both sides."""

    stack: Stack
    graph_own: OwnCalls = field(default_factory=lambda: OwnCalls("/v1.0/"))
    salesforce_own: OwnCalls = field(default_factory=lambda: OwnCalls("/services/"))
    http: httpx.AsyncClient = field(init=False)
    graph_token: str = ""
    salesforce_token: str = ""
    reps: dict[str, str] = field(default_factory=dict)
    """rep e-mail -> Salesforce user id"""
    sync_folders: dict[str, str] = field(default_factory=dict)
    """rep e-mail -> id of the rep's Salesforce_Sync contact folder"""

    def __post_init__(self) -> None:
        self.http = httpx.AsyncClient(
            verify=self.stack.tls(),
            timeout=60,
            limits=httpx.Limits(max_connections=64),
            event_hooks={"request": [self._count]},
        )

    async def _count(self, request: httpx.Request) -> None:
        port = request.url.port
        if port == self.stack.graph_port:
            await self.graph_own.hook(request)
        elif port == self.stack.salesforce_port:
            await self.salesforce_own.hook(request)

    # --- the reps' side: authenticated calls ------------------------------------------------

    async def login_graph(self) -> None:
        graph = self.stack.graph_credentials
        r = await self.http.post(
            f"{graph['authority']}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": graph["client_id"],
                "client_secret": graph["client_secret"],
                "scope": graph["scope"],
            },
        )
        r.raise_for_status()
        self.graph_token = r.json()["access_token"]

    async def login_salesforce(self) -> None:
        """JWT bearer as the integration user (which exists once the org is seeded)."""
        sf = self.stack.salesforce_credentials
        assertion = jwt.encode(
            {
                "iss": sf["client_id"],
                "sub": sf["username"],
                "aud": sf["login_url"],
                "exp": int(time.time()) + 180,
            },
            sf["private_key_pem"],
            algorithm="RS256",
        )
        r = await self.http.post(
            f"{sf['login_url']}/services/oauth2/token",
            data={
                "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "assertion": assertion,
            },
        )
        r.raise_for_status()
        self.salesforce_token = r.json()["access_token"]

    async def graph(self, method: str, path: str, body: Any = None) -> Any:
        for _ in range(10):
            r = await self.http.request(
                method,
                f"{self.stack.graph_credentials['graph_base_url']}{path}",
                json=body,
                headers={"Authorization": f"Bearer {self.graph_token}"},
            )
            if r.status_code != 429:  # a rep's Outlook is throttled too, and retries
                break
            await asyncio.sleep(float(r.headers.get("Retry-After", "1")))
        r.raise_for_status()
        return r.json() if r.content else None

    async def salesforce(
        self, method: str, path: str, body: Any = None, params: dict[str, str] | None = None
    ) -> Any:
        r = await self.http.request(
            method,
            f"{self.stack.salesforce_url}{SF_API}{path}",
            json=body,
            params=params,
            headers={"Authorization": f"Bearer {self.salesforce_token}"},
        )
        r.raise_for_status()
        return r.json() if r.content else None

    async def soql(self, query: str) -> list[dict[str, Any]]:
        return list((await self.salesforce("GET", "/query", params={"q": query}))["records"])

    # --- the simulators' control API (never counted, never delayed) ------------------------

    async def graph_sim(self, method: str, path: str, body: Any = None) -> Any:
        r = await self.http.request(method, f"{self.stack.graph_url}/_sim{path}", json=body)
        r.raise_for_status()
        return r.json() if r.content else None

    async def salesforce_sim(self, method: str, path: str, body: Any = None) -> Any:
        r = await self.http.request(method, f"{self.stack.salesforce_url}/_sim{path}", json=body)
        r.raise_for_status()
        return r.json() if r.content else None

    async def set_latency(self, latency_ms: float) -> None:
        """A fixed extra latency on every API call of both simulators (`/_sim/faults`)."""
        await self.graph_sim("POST", "/faults", {"latency_ms": latency_ms})
        await self.salesforce_sim("POST", "/faults", {"latency_ms": latency_ms})

    async def reset_counters(self) -> None:
        await self.graph_sim("DELETE", "/counters")
        await self.salesforce_sim("DELETE", "/counters")
        self.graph_own.by_endpoint.clear()
        self.salesforce_own.by_endpoint.clear()

    async def counters(self) -> tuple[Counted, Counted]:
        """(Graph, Salesforce) calls since the last reset."""
        graph = await self.graph_sim("GET", "/counters")
        sf = await self.salesforce_sim("GET", "/counters")
        return (
            Counted(
                graph["total"],
                self.graph_own.count,
                diff(graph["by_endpoint"], self.graph_own.by_endpoint),
            ),
            Counted(
                sf["total"],
                self.salesforce_own.count,
                diff(sf["by_endpoint"], self.salesforce_own.by_endpoint),
            ),
        )

    # --- the admin's side: configuration through the status API ----------------------------

    async def configure_all(self, settings: dict[str, Any]) -> None:
        async with self.stack.api() as api:
            r = await api.post(
                "/configurations",
                json={
                    "name": f"bench-{secrets.token_hex(3)}",
                    "active": True,
                    "settings": settings,
                },
            )
            r.raise_for_status()
            configuration_id = r.json()["id"]
            for user_id in self.reps.values():
                r = await api.put(f"/configurations/{configuration_id}/assignments/user/{user_id}")
                r.raise_for_status()

    async def wait_reps_known(self, emails: list[str]) -> None:
        async def known() -> dict[str, str] | None:
            async with self.stack.api() as api:
                r = await api.get("/users", params={"limit": 500})
                r.raise_for_status()
                found = {
                    u["email"]: u["user_id"] for u in r.json()["items"] if u["email"] in emails
                }
                return found if len(found) == len(emails) else None

        self.reps = await wait_for(known, within=120, what="every rep captured from Salesforce")

    def peak_rss_mb(self) -> dict[str, float]:
        """VmHWM (peak resident set) of each service process so far."""
        peaks: dict[str, float] = {}
        for name, service in self.stack.services.items():
            if service.proc is None:
                continue
            try:
                status = Path(f"/proc/{service.proc.pid}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    peaks[name] = round(int(line.split()[1]) / 1024, 1)
        return peaks


def diff(after: Mapping[str, int], before: Mapping[str, int]) -> dict[str, int]:
    out = Counter(after)
    out.subtract(before)
    return {k: v for k, v in out.items() if v}


async def fresh_database(base_url: str, name: str) -> str:
    conn = await asyncpg.connect(base_url)
    try:
        for attempt in range(5):
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                break
            except asyncpg.InsufficientPrivilegeError:
                # FORCE cannot end a server process of another role (an autovacuum worker
                # busy in that database a moment ago): it is gone after a short wait.
                if attempt == 4:
                    raise
                await asyncio.sleep(1.0)
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = base_url.rsplit("/", 1)[0] + f"/{name}"
    await asyncio.to_thread(upgrade, url)
    return url


async def fresh_bus(bootstrap: str) -> None:
    """Delete and recreate Syncline's (fixed-name) topics so the services start from an empty bus:
    leftovers of other runs (other tenants) would otherwise be replayed into this one."""
    from aiokafka.admin import AIOKafkaAdminClient
    from syncruntime.kafka.topics import TOPICS, ensure_topics
    from syncruntime.settings import KafkaSettings

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        doomed = [s.name for s in TOPICS if s.name in set(await admin.list_topics())]
        if doomed:
            await admin.delete_topics(doomed)
        for _ in range(100):
            if not set(await admin.list_topics()) & set(doomed):
                break
            await asyncio.sleep(0.1)
    finally:
        await admin.close()
    for attempt in range(50):
        try:
            await ensure_topics(KafkaSettings(bootstrap=bootstrap), partitions=4)
            return
        except Exception:  # the broker may still be finishing the deletes
            if attempt == 49:
                raise
            await asyncio.sleep(0.2)


@asynccontextmanager
async def running_stack(
    database_url: str, bootstrap: str, poll_s: float
) -> AsyncIterator[tuple[Stack, Bench]]:
    """Simulators up (services not yet): the caller seeds, then calls `start_services`."""
    await fresh_bus(bootstrap)
    stack = Stack(
        tenant=TENANT, database_url=database_url, bootstrap=bootstrap, log_dir=LOGS, poll_s=poll_s
    )
    bench: Bench | None = None
    try:
        await stack.start_simulators()
        bench = Bench(stack)
        await bench.login_graph()
        yield stack, bench
    finally:
        if bench is not None:
            await bench.http.aclose()
        await asyncio.to_thread(stack.stop)
