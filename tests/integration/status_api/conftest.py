"""Fixtures for the status API tests: one fresh, migrated database for the session, the app
served in-process (httpx over ASGI), and a fresh tenant per test (with admin and read keys).

Only PostgreSQL is needed (the API writes Kafka messages through the outbox table).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from status_api.main import create_app
from syncruntime.postgres import create_pool
from syncruntime.postgres.migrate import upgrade
from syncruntime.settings import PostgresSettings

from tests.fixtures.infra import with_database
from tests.integration.status_api.helpers import Tenant, api_settings, new_tenant


@pytest.fixture(scope="session")
async def status_database() -> AsyncIterator[str]:
    base = PostgresSettings().url
    name = f"syncline_test_status_{secrets.token_hex(5)}"
    admin = await asyncpg.connect(base)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = with_database(base, name)
    try:
        upgrade(url)
        yield url
    finally:
        await _drop_database(base, name)


async def _drop_database(base: str, name: str) -> None:
    # FORCE cannot end another role's session (e.g. a monitoring connection that happened to
    # look at the database); such sessions are short, so retry before giving up.
    for attempt in range(10):
        admin = await asyncpg.connect(base)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except asyncpg.InsufficientPrivilegeError:
            if attempt == 9:
                raise
        finally:
            await admin.close()
        await asyncio.sleep(0.5)


@pytest.fixture(scope="session")
async def app(status_database: str) -> AsyncIterator[Any]:
    application = create_app(
        api_settings(), PostgresSettings(SYNCLINE_DATABASE_URL=status_database)
    )
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://status-api") as c:
        yield c


@pytest.fixture(scope="session")
async def db(status_database: str) -> AsyncIterator[asyncpg.Pool[Any]]:
    pool = await create_pool(PostgresSettings(SYNCLINE_DATABASE_URL=status_database))
    yield pool
    await pool.close()


@pytest.fixture
async def tenant(status_database: str) -> Tenant:
    """A fresh tenant per test: tests never depend on each other's data."""
    return await new_tenant(status_database, "acme")


@pytest.fixture
async def other_tenant(status_database: str) -> Tenant:
    return await new_tenant(status_database, "globex")
