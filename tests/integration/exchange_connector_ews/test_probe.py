"""The EWS connection-test stages (LS-70) against the EWS simulator over HTTPS."""

from __future__ import annotations

import asyncio

import pytest
from ewsclient.client import EwsClient
from ewsclient.errors import ServiceAccountRejected
from ewsclient.folders import ensure_sync_folder, find_sync_folder
from ewsclient.probe import Verdict, run_probe

from tests.integration.exchange_connector_ews.conftest import Sim

pytestmark = pytest.mark.integration


async def test_all_stages_pass_through_autodiscover(sim: Sim) -> None:
    mailbox = await sim.new_mailbox()
    client = sim.client(ews_url=None, autodiscover_url=sim.credentials["autodiscover_url"])
    try:
        results = await run_probe(client, mailbox)
    finally:
        await client.aclose()
    assert [(r.stage, r.verdict) for r in results] == [
        ("ews_autodiscover", Verdict.PASSED),
        ("ews_service_account", Verdict.PASSED),
        ("ews_impersonation", Verdict.PASSED),
        # Not created yet: Syncline makes it on the first sync.
        ("ews_contacts_folder", Verdict.WARNING),
        ("ews_calendar", Verdict.PASSED),
    ]
    assert sim.credentials["ews_url"] in results[0].detail


async def test_the_first_failure_is_named_and_later_stages_skipped(sim: Sim) -> None:
    denied = await sim.new_mailbox(impersonable=False)
    client = sim.client()
    try:
        results = await run_probe(client, denied)
    finally:
        await client.aclose()
    verdicts = {r.stage: r for r in results}
    assert verdicts["ews_service_account"].verdict is Verdict.PASSED
    failed = verdicts["ews_impersonation"]
    assert (failed.verdict, failed.code) == (Verdict.FAILED, "ErrorImpersonateUserDenied")
    assert failed.remediation is not None
    assert "ApplicationImpersonation" in failed.remediation
    assert verdicts["ews_calendar"].verdict is Verdict.SKIPPED
    wrong = sim.client()
    wrong.http.auth = ("CONTOSO\\svc-syncline", "wrong")
    try:
        results = await run_probe(wrong, denied)
    finally:
        await wrong.aclose()
    assert (results[1].verdict, results[1].code) == (Verdict.FAILED, "Http401")


async def test_ntlm_service_account_under_concurrency(sim: Sim) -> None:
    """NTLM (B2) through the connector's client: many concurrent calls share one pool."""
    mailbox = await sim.new_mailbox()
    client = sim.client(auth="ntlm")
    try:
        results = await run_probe(client, mailbox)
        assert [r.verdict for r in results].count(Verdict.FAILED) == 0
        folders = await asyncio.gather(*(ensure_sync_folder(client, mailbox) for _ in range(12)))
        assert len(set(folders)) == 1
    finally:
        await client.aclose()
    wrong = EwsClient(
        sim.credentials["username"],
        "wrong",
        ews_url=sim.credentials["ews_url"],
        ca_bundle=sim.ca_file,
        auth="ntlm",
    )
    try:
        with pytest.raises(ServiceAccountRejected):
            await ensure_sync_folder(wrong, mailbox)
    finally:
        await wrong.aclose()


async def test_an_ntlm_lane_handshakes_once_then_reuses_its_connection(sim: Sim) -> None:
    mailbox = await sim.new_mailbox()
    client = sim.client(auth="ntlm", ntlm_lanes=1)
    try:
        for _ in range(5):
            await find_sync_folder(client, mailbox)
    finally:
        await client.aclose()
    counters = (await sim.control.get("/_sim/counters")).json()
    # type 1 (401 + challenge), type 3 (200), then four requests on the authenticated connection.
    assert counters["by_subject"][mailbox.lower()] == 6
