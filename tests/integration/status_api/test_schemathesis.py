"""Property-based run of the app's own OpenAPI schema (schemathesis) against a real server
process (`syncline status-api`): no server error and no response outside the schema.

Requests authenticate with an admin key of a real tenant, and every generated `tenant_id` is
replaced by that tenant's id half of the time, so the runs reach the handlers and not only the
auth layer. The connection test is left out: it makes outbound calls to generated hosts
(covered by test_connection_test.py against the simulators).
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from status_api.main import create_app

from tests.integration.status_api.helpers import ENCRYPTION_KEY, Tenant, api_settings, new_tenant

SCHEMA = schemathesis.openapi.from_dict(create_app(api_settings()).openapi()).exclude(
    path_regex="connection-tests"
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    ignored_auth,
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="session")
async def live_server(status_database: str) -> AsyncIterator[str]:
    port = _free_port()
    env = os.environ | {
        "SYNCLINE_DATABASE_URL": status_database,
        "SYNCLINE_ENCRYPTION_KEYS": ENCRYPTION_KEY,
        "SYNCLINE_CONNECTION_TEST_TIMEOUT_S": "2",
    }
    syncline = Path(sys.executable).with_name("syncline")
    process = await asyncio.create_subprocess_exec(
        str(syncline),
        "status-api",
        "--port",
        str(port),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(100):
                try:
                    if (await client.get(f"{base}/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError("status-api did not become ready")
        yield base
    finally:
        process.terminate()
        await process.wait()


@pytest.fixture(scope="session")
async def fuzz_tenant(status_database: str) -> Tenant:
    return await new_tenant(status_database, "fuzz")


@SCHEMA.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_conforms_to_its_schema(case: Any, live_server: str, fuzz_tenant: Tenant) -> None:
    if "tenant_id" in (case.path_parameters or {}) and len(repr(case.path_parameters)) % 2:
        case.path_parameters["tenant_id"] = fuzz_tenant.id
    case.call_and_validate(
        base_url=live_server, headers=fuzz_tenant.admin, checks=CHECKS, timeout=10
    )
