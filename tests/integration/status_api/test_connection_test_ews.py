"""The connection test's EWS stages (LS-70, LS-60..63) end to end: the API, with an
`exchange_ews` connection, over real HTTPS against the EWS simulator (`syncline sim ews`),
trusting its CA through SYNCLINE_CA_BUNDLE: Autodiscover (or the configured URL), the service
account, impersonation of the rep's mailbox, the Salesforce_Sync folder, the calendar — each
stage pass/fail with the exact EWS error, a category and a remediation, the password never in
the report or the logs."""

from __future__ import annotations

import asyncio
import base64
import logging
import secrets
import socket
import ssl
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from status_api.main import create_app
from syncruntime.settings import PostgresSettings

from tests.integration.status_api.helpers import Tenant, api_settings

pytestmark = pytest.mark.integration

EWS_STAGES = [
    "ews_autodiscover",
    "ews_service_account",
    "ews_impersonation",
    "ews_contacts_folder",
    "ews_calendar",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
async def ews_sim(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[dict[str, Any]]:
    """`syncline sim ews` as a process; its credentials and CA file."""
    tls_dir = tmp_path_factory.mktemp("ews-sim-tls")
    port = _free_port()
    syncline = Path(sys.executable).with_name("syncline")
    process = await asyncio.create_subprocess_exec(
        *[str(syncline), "sim", "ews", "--port", str(port), "--tls-dir", str(tls_dir)],
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    base = f"https://127.0.0.1:{port}"
    ca = str(tls_dir / "ca.pem")
    try:
        async with httpx.AsyncClient(verify=False) as probe:  # the CA is not known yet
            for _ in range(150):
                try:
                    if (await probe.get(f"{base}/_sim/credentials")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError("EWS simulator did not start")
        async with httpx.AsyncClient(verify=ssl.create_default_context(cafile=ca)) as control:
            credentials = (await control.get(f"{base}/_sim/credentials")).json()
        yield {"base": base, "ca": ca, **credentials}
    finally:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 5)
        except TimeoutError:
            process.kill()
            await process.wait()


async def new_mailbox(
    sim: dict[str, Any], *, impersonable: bool = True, folder: bool = False
) -> str:
    smtp = f"rep-{uuid.uuid4().hex[:8]}@contoso-sim.example"
    async with httpx.AsyncClient(verify=ssl.create_default_context(cafile=sim["ca"])) as control:
        response = await control.post(
            f"{sim['base']}/_sim/mailboxes",
            json={"smtp": smtp, "impersonable": impersonable, "sync_folder": folder},
        )
    assert response.status_code == 201, response.text
    return smtp


@pytest.fixture(scope="module")
async def trusting_client(
    ews_sim: dict[str, Any], status_database: str
) -> AsyncIterator[httpx.AsyncClient]:
    """The API configured to trust the simulator's CA (SYNCLINE_CA_BUNDLE)."""
    app = create_app(
        api_settings(ca_bundle=ews_sim["ca"], connection_test_timeout_s=5),
        PostgresSettings(SYNCLINE_DATABASE_URL=status_database),
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://status-api") as c:
            yield c


def ews_connection(sim: dict[str, Any], **override: Any) -> dict[str, Any]:
    return {
        "kind": "exchange_ews",
        "username": sim["username"],
        "password": sim["password"],
        "ews_url": sim["ews_url"],
    } | override


async def _configure(client: httpx.AsyncClient, tenant: Tenant, body: dict[str, Any]) -> None:
    r = await client.put(
        f"/v1/tenants/{tenant.id}/connections/exchange_ews", json=body, headers=tenant.admin
    )
    assert r.status_code == 200, r.text
    assert "password" not in r.json()["config"]


async def _run(client: httpx.AsyncClient, tenant: Tenant, mailbox: str) -> dict[str, Any]:
    r = await client.post(
        f"/v1/tenants/{tenant.id}/connection-tests",
        json={"mailbox": mailbox, "systems": ["exchange"]},
        headers=tenant.admin,
    )
    assert r.status_code == 200, r.text
    report: dict[str, Any] = r.json()
    return report


def _stages(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    assert [s["stage"] for s in report["stages"]] == EWS_STAGES
    return {s["stage"]: s for s in report["stages"]}


async def test_every_stage_passes_through_the_configured_url(
    trusting_client: httpx.AsyncClient, ews_sim: dict[str, Any], tenant: Tenant
) -> None:
    mailbox = await new_mailbox(ews_sim, folder=True)
    await _configure(trusting_client, tenant, ews_connection(ews_sim))
    report = await _run(trusting_client, tenant, mailbox)
    stages = _stages(report)
    assert report["passed"] is True, report
    assert report["mailbox"] == mailbox
    assert {s: stages[s]["outcome"] for s in EWS_STAGES} == dict.fromkeys(EWS_STAGES, "passed")
    assert stages["ews_autodiscover"]["detail"] == f"EWS URL configured: {ews_sim['ews_url']}"
    assert mailbox in stages["ews_impersonation"]["detail"]
    assert all(s["remediation"] is None and s["category"] is None for s in stages.values())


async def test_autodiscover_and_ntlm_find_the_mailbox(
    trusting_client: httpx.AsyncClient, ews_sim: dict[str, Any], tenant: Tenant
) -> None:
    """No EWS URL: Autodiscover (POX, the simulator's endpoint) finds it; NTLM authenticates.
    A mailbox without Salesforce_Sync yet is a warning, not a failure."""
    mailbox = await new_mailbox(ews_sim)
    connection = ews_connection(
        ews_sim, ews_url=None, autodiscover_url=ews_sim["autodiscover_url"], auth="ntlm"
    )
    await _configure(trusting_client, tenant, connection)
    report = await _run(trusting_client, tenant, mailbox)
    stages = _stages(report)
    assert report["passed"] is True, report
    assert stages["ews_autodiscover"]["outcome"] == "passed"
    assert stages["ews_autodiscover"]["detail"] == f"Autodiscover found {ews_sim['ews_url']}"
    assert [stages[s]["outcome"] for s in EWS_STAGES[1:]] == [
        "passed",
        "passed",
        "warning",
        "passed",
    ]
    folder = stages["ews_contacts_folder"]
    assert "creates it on first sync" in folder["detail"]
    assert folder["remediation"]


async def test_wrong_password_fails_the_service_account_stage_without_leaking_it(
    trusting_client: httpx.AsyncClient,
    ews_sim: dict[str, Any],
    tenant: Tenant,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    mailbox = await new_mailbox(ews_sim)
    wrong = f"Wr0ng-{secrets.token_hex(8)}"
    await _configure(trusting_client, tenant, ews_connection(ews_sim, password=wrong))
    report = await _run(trusting_client, tenant, mailbox)
    stages = _stages(report)
    assert report["passed"] is False
    assert stages["ews_autodiscover"]["outcome"] == "passed"
    account = stages["ews_service_account"]
    assert account["outcome"] == "failed"
    assert account["category"] == "credentials_invalid"
    assert account["http_status"] == 401
    assert account["detail"].startswith("Http401")
    assert "password" in account["remediation"]
    assert "Basic or NTLM" in account["remediation"]
    for later in EWS_STAGES[2:]:
        assert stages[later]["outcome"] == "skipped"
    # Neither the wrong nor the right password, nor a Basic header made of them, anywhere.
    username = ews_sim["username"]
    for password in (wrong, ews_sim["password"]):
        basic = base64.b64encode(f"{username}:{password}".encode()).decode()
        for leaked in (password, basic):
            assert leaked not in str(report)
            assert leaked not in caplog.text
    assert caplog.records  # the logs were captured (httpx logs every request)


async def test_a_mailbox_without_impersonation_fails_the_impersonation_stage(
    trusting_client: httpx.AsyncClient, ews_sim: dict[str, Any], tenant: Tenant
) -> None:
    denied = await new_mailbox(ews_sim, impersonable=False)
    await _configure(trusting_client, tenant, ews_connection(ews_sim))
    report = await _run(trusting_client, tenant, denied)
    stages = _stages(report)
    assert report["passed"] is False
    assert [stages[s]["outcome"] for s in EWS_STAGES] == [
        "passed",
        "passed",
        "failed",
        "skipped",
        "skipped",
    ]
    impersonation = stages["ews_impersonation"]
    assert impersonation["detail"].startswith("ErrorImpersonateUserDenied")
    assert impersonation["category"] == "access_denied"
    assert "ApplicationImpersonation" in impersonation["remediation"]


async def test_an_unknown_mailbox_fails_autodiscover(
    trusting_client: httpx.AsyncClient, ews_sim: dict[str, Any], tenant: Tenant
) -> None:
    connection = ews_connection(ews_sim, ews_url=None, autodiscover_url=ews_sim["autodiscover_url"])
    await _configure(trusting_client, tenant, connection)
    report = await _run(trusting_client, tenant, "ghost@contoso-sim.example")
    stages = _stages(report)
    autodiscover = stages["ews_autodiscover"]
    assert autodiscover["outcome"] == "failed"
    assert autodiscover["category"] == "autodiscover_failed"
    assert autodiscover["detail"].startswith("Autodiscover500")
    assert "Autodiscover" in autodiscover["remediation"]
    assert stages["ews_service_account"]["outcome"] == "skipped"


async def test_untrusted_certificate_is_reported_as_tls(
    client: httpx.AsyncClient, ews_sim: dict[str, Any], tenant: Tenant
) -> None:
    """The session app has no CA bundle: the simulator's private CA is not trusted."""
    mailbox = await new_mailbox(ews_sim)
    await _configure(client, tenant, ews_connection(ews_sim))
    report = await _run(client, tenant, mailbox)
    account = _stages(report)["ews_service_account"]
    assert account["outcome"] == "failed"
    assert account["category"] == "tls_untrusted"
    assert "CERTIFICATE_VERIFY_FAILED" in account["detail"]
