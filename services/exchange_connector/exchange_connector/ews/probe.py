"""The EWS stages of the connection test (LS-70): Autodiscover, the service account's
credentials, impersonation of the rep's mailbox, the Salesforce_Sync folder and the calendar.

Stages run in order; the first failure skips the rest (fix the first problem first). Each
result carries the classified EWS code and the remediation text of its error class, so the
status API can show it as is (its `ews` stage is a placeholder that can call `run_probe`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

from exchange_connector.errors import ExchangeError
from exchange_connector.ews.client import EwsClient, raise_for_message
from exchange_connector.ews.folders import find_sync_folder
from exchange_connector.ews.soap import el, m, t


class Verdict(StrEnum):
    PASSED = "passed"
    WARNING = "warning"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class ProbeResult:
    stage: str
    verdict: Verdict
    detail: str
    code: str | None = None
    remediation: str | None = None


async def _autodiscover(client: EwsClient, mailbox: str) -> str:
    if client.ews_url:
        return f"EWS URL configured: {client.ews_url}"
    client.urls.pop(mailbox.lower(), None)  # the test asks Autodiscover afresh
    return f"Autodiscover found {await client.url_for(mailbox)}"


async def _get_folder(client: EwsClient, mailbox: str | None, folder: str) -> None:
    request = el(
        m("GetFolder"),
        None,
        el(m("FolderShape"), None, el(t("BaseShape"), text="IdOnly")),
        el(m("FolderIds"), None, el(t("DistinguishedFolderId"), {"Id": folder})),
    )
    for message in await client.call(request, mailbox):
        raise_for_message(message)


async def _service_account(client: EwsClient, mailbox: str) -> str:
    # Without impersonation: proves the credentials (401 otherwise) and TLS, nothing more.
    # A mailbox-less service account answers ErrorMissingEmailAddress, which is fine here.
    url = await client.url_for(mailbox)
    request = el(
        m("ConvertId"),
        {"DestinationFormat": "EwsId"},
        el(
            m("SourceIds"),
            None,
            el(t("AlternateId"), {"Format": "EwsId", "Id": "AA==", "Mailbox": mailbox}),
        ),
    )
    await client.call(request, None, url=url)
    return "the service account's credentials were accepted"


async def _impersonation(client: EwsClient, mailbox: str) -> str:
    await _get_folder(client, mailbox, "contacts")
    return f"the service account may impersonate {mailbox}"


async def _sync_folder(client: EwsClient, mailbox: str) -> str:
    found = await find_sync_folder(client, mailbox)
    if found is None:
        raise _Warning("Salesforce_Sync does not exist yet; Syncline creates it on first sync")
    return "the Salesforce_Sync contacts folder is readable"


async def _calendar(client: EwsClient, mailbox: str) -> str:
    await _get_folder(client, mailbox, "calendar")
    return "the calendar is readable"


class _Warning(Exception):
    pass


STAGES: list[tuple[str, Callable[[EwsClient, str], Awaitable[str]]]] = [
    ("ews_autodiscover", _autodiscover),
    ("ews_service_account", _service_account),
    ("ews_impersonation", _impersonation),
    ("ews_contacts_folder", _sync_folder),
    ("ews_calendar", _calendar),
]


async def run_probe(client: EwsClient, mailbox: str) -> list[ProbeResult]:
    results: list[ProbeResult] = []
    failed = False
    for stage, check in STAGES:
        if failed:
            results.append(ProbeResult(stage, Verdict.SKIPPED, "an earlier stage failed"))
            continue
        try:
            detail = await check(client, mailbox)
        except _Warning as warning:
            results.append(ProbeResult(stage, Verdict.WARNING, str(warning)))
        except ExchangeError as exc:
            failed = True
            results.append(
                ProbeResult(stage, Verdict.FAILED, exc.message, exc.code, exc.remediation)
            )
        else:
            results.append(ProbeResult(stage, Verdict.PASSED, detail))
    return results
