"""The connection test (LS-70, LS-42) end to end: the API, over real HTTPS, against the Graph
and Salesforce simulators (`syncline sim graph|salesforce`), trusting their CA through
SYNCLINE_CA_BUNDLE; each stage passes or fails with the exact remote error and a remediation."""

from __future__ import annotations

import asyncio
import socket
import ssl
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from status_api.main import create_app
from syncruntime.settings import PostgresSettings

from tests.integration.status_api.helpers import Tenant, api_settings, seed_user


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def _start_simulator(name: str, tls_dir: Path) -> tuple[asyncio.subprocess.Process, str]:
    port = _free_port()
    syncline = Path(sys.executable).with_name("syncline")
    process = await asyncio.create_subprocess_exec(
        str(syncline),
        "sim",
        name,
        "--port",
        str(port),
        "--tls-dir",
        str(tls_dir),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    base = f"https://127.0.0.1:{port}"
    async with httpx.AsyncClient(verify=False) as client:  # the CA is not known yet
        for _ in range(150):
            try:
                if (await client.get(f"{base}/_sim/credentials")).status_code == 200:
                    return process, base
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    process.terminate()
    raise RuntimeError(f"{name} simulator did not start")


@pytest.fixture(scope="module")
async def simulators(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[dict[str, Any]]:
    tls_dir = tmp_path_factory.mktemp("sim-tls")
    graph, graph_url = await _start_simulator("graph", tls_dir)
    salesforce, salesforce_url = await _start_simulator("salesforce", tls_dir)
    try:
        ca = str(tls_dir / "ca.pem")
        async with httpx.AsyncClient(verify=ssl.create_default_context(cafile=ca)) as client:
            graph_creds = (await client.get(f"{graph_url}/_sim/credentials")).json()
            sf_creds = (await client.get(f"{salesforce_url}/_sim/credentials")).json()
            seeded = (await client.post(f"{salesforce_url}/_sim/seed", json={})).json()
        yield {"ca": ca, "graph": graph_creds, "salesforce": sf_creds, "reps": seeded["reps"]}
    finally:
        for process in (graph, salesforce):
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 5)
            except TimeoutError:
                process.kill()
                await process.wait()


@pytest.fixture(scope="module")
async def trusting_client(
    simulators: dict[str, Any], status_database: str
) -> AsyncIterator[httpx.AsyncClient]:
    """The API configured to trust the simulators' CA (SYNCLINE_CA_BUNDLE)."""
    app = create_app(
        api_settings(ca_bundle=simulators["ca"], connection_test_timeout_s=5),
        PostgresSettings(SYNCLINE_DATABASE_URL=status_database),
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://status-api") as c:
            yield c


def graph_connection(creds: dict[str, Any], **override: Any) -> dict[str, Any]:
    authority_host, _, _ = creds["authority"].rpartition("/")
    return {
        "kind": "exchange_graph",
        "directory_tenant_id": creds["tenant_id"],
        "client_id": creds["client_id"],
        "authority_host": authority_host,
        "graph_url": creds["graph_base_url"],
        "client_secret": creds["client_secret"],
    } | override


def salesforce_connection(creds: dict[str, Any], **override: Any) -> dict[str, Any]:
    return {
        "kind": "salesforce",
        "login_url": creds["login_url"],
        "client_id": creds["client_id"],
        "username": creds["username"],
        "private_key_pem": creds["private_key_pem"],
        "api_version": "v" + creds["api_version"],
    } | override


def _sf(simulators: dict[str, Any]) -> dict[str, Any]:
    return salesforce_connection(simulators["salesforce"])


async def _configure(
    client: httpx.AsyncClient, tenant: Tenant, graph: dict[str, Any] | None, sf: dict[str, Any]
) -> None:
    base = f"/v1/tenants/{tenant.id}/connections"
    if graph is not None:
        r = await client.put(f"{base}/exchange_graph", json=graph, headers=tenant.admin)
        assert r.status_code == 200, r.text
    r = await client.put(f"{base}/salesforce", json=sf, headers=tenant.admin)
    assert r.status_code == 200, r.text


async def _run(client: httpx.AsyncClient, tenant: Tenant, **body: Any) -> dict[str, Any]:
    r = await client.post(
        f"/v1/tenants/{tenant.id}/connection-tests", json=body, headers=tenant.admin
    )
    assert r.status_code == 200, r.text
    report: dict[str, Any] = r.json()
    return report


def _outcomes(report: dict[str, Any]) -> dict[str, str]:
    return {s["stage"]: s["outcome"] for s in report["stages"]}


async def test_every_stage_passes_for_a_permitted_mailbox_and_rep(
    trusting_client: httpx.AsyncClient, simulators: dict[str, Any], db: Any, tenant: Tenant
) -> None:
    graph, sf = simulators["graph"], simulators["salesforce"]
    await _configure(trusting_client, tenant, graph_connection(graph), salesforce_connection(sf))
    rep = simulators["reps"][0]
    await seed_user(db, tenant.id, rep["id"], email=graph["mailboxes"][0])
    report = await _run(trusting_client, tenant, user_id=rep["id"])
    assert report["mailbox"] == graph["mailboxes"][0]  # taken from the user
    outcomes = _outcomes(report)
    assert report["passed"] is True, report
    assert outcomes["graph_token"] == "passed"
    assert outcomes["graph_mailbox"] in ("passed", "warning")
    assert [outcomes[s] for s in ("graph_access", "graph_contacts_folder", "graph_calendar")] == [
        "passed"
    ] * 3
    assert [outcomes[s] for s in ("salesforce_token", "salesforce_api", "salesforce_objects")] == [
        "passed"
    ] * 3
    assert outcomes["salesforce_rep"] == "passed"


async def test_certificate_credential(
    trusting_client: httpx.AsyncClient, simulators: dict[str, Any], tenant: Tenant
) -> None:
    graph = simulators["graph"]
    connection = graph_connection(
        graph,
        client_secret=None,
        certificate={
            "private_key_pem": graph["client_private_key_pem"],
            "thumbprint": graph["client_certificate_thumbprint"],
        },
    )
    await _configure(trusting_client, tenant, connection, _sf(simulators))
    report = await _run(
        trusting_client, tenant, mailbox=graph["mailboxes"][1], systems=["exchange"]
    )
    assert _outcomes(report)["graph_token"] == "passed"
    assert report["passed"] is True


async def test_application_access_policy_denial_fails_the_access_stage(
    trusting_client: httpx.AsyncClient, simulators: dict[str, Any], tenant: Tenant
) -> None:
    graph = simulators["graph"]
    await _configure(
        trusting_client,
        tenant,
        graph_connection(graph),
        _sf(simulators),
    )
    denied = graph["mailboxes_denied_by_policy"][0]
    report = await _run(trusting_client, tenant, mailbox=denied, systems=["exchange"])
    stages = {s["stage"]: s for s in report["stages"]}
    assert report["passed"] is False
    assert stages["graph_access"]["outcome"] == "failed"
    assert stages["graph_access"]["http_status"] == 403
    assert "ErrorAccessDenied" in stages["graph_access"]["detail"]
    assert stages["graph_access"]["category"] == "access_denied"
    assert "application access policy" in stages["graph_access"]["remediation"]
    assert stages["graph_calendar"]["outcome"] == "skipped"


async def test_unknown_mailbox_and_wrong_secret(
    trusting_client: httpx.AsyncClient, simulators: dict[str, Any], tenant: Tenant
) -> None:
    graph = simulators["graph"]
    await _configure(
        trusting_client,
        tenant,
        graph_connection(graph),
        _sf(simulators),
    )
    missing = await _run(
        trusting_client, tenant, mailbox="ghost@contoso-sim.example", systems=["exchange"]
    )
    stage = {s["stage"]: s for s in missing["stages"]}["graph_mailbox"]
    assert stage["outcome"] == "failed"
    assert stage["category"] == "mailbox_not_found"

    await _configure(
        trusting_client,
        tenant,
        graph_connection(graph, client_secret="not-the-secret"),
        _sf(simulators),
    )
    wrong = await _run(trusting_client, tenant, mailbox=graph["mailboxes"][0], systems=["exchange"])
    token = wrong["stages"][0]
    assert token["stage"] == "graph_token"
    assert token["outcome"] == "failed"
    assert token["detail"].startswith("invalid_client")
    assert token["category"] == "credentials_invalid"
    assert "not-the-secret" not in str(wrong)


async def test_salesforce_key_mismatch_fails_the_token_stage(
    trusting_client: httpx.AsyncClient, simulators: dict[str, Any], tenant: Tenant
) -> None:
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    sf = salesforce_connection(simulators["salesforce"], private_key_pem=other_key.decode())
    await _configure(trusting_client, tenant, None, sf)
    report = await _run(trusting_client, tenant, systems=["salesforce"])
    stages = _outcomes(report)
    assert stages == {
        "salesforce_token": "failed",
        "salesforce_api": "skipped",
        "salesforce_objects": "skipped",
        "salesforce_rep": "skipped",
    }
    assert "invalid_grant" in report["stages"][0]["detail"]


async def test_untrusted_certificate_is_reported_as_tls(
    client: httpx.AsyncClient, simulators: dict[str, Any], tenant: Tenant
) -> None:
    """The session app has no CA bundle: the simulators' private CA is not trusted."""
    graph = simulators["graph"]
    await _configure(client, tenant, graph_connection(graph), _sf(simulators))
    report = await _run(client, tenant, mailbox=graph["mailboxes"][0])
    by_stage = {s["stage"]: s for s in report["stages"]}
    assert by_stage["graph_token"]["category"] == "tls_untrusted"
    assert by_stage["salesforce_token"]["category"] == "tls_untrusted"
