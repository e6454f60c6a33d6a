"""The EWS stages of the connection test (LS-70): Autodiscover, the service account's
credentials, impersonation of the rep's mailbox, the Salesforce_Sync folder and the calendar.

Stages run in order; the first failure skips the rest (fix the first problem first). Each
result carries the classified EWS code, the remediation text of its error class and the error
itself, so the status API (`status_api.connection_test.ews`) can report and categorise it; the
connector's tests run the same stages directly.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum

from ewsclient.client import EwsClient, raise_for_message
from ewsclient.errors import ExchangeError
from ewsclient.folders import find_sync_folder
from ewsclient.soap import el, m, t


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
    duration_ms: int = 0
    error: ExchangeError | None = field(default=None, compare=False, repr=False)


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
        started = time.perf_counter()
        try:
            detail = await check(client, mailbox)
        except _Warning as warning:
            results.append(
                ProbeResult(stage, Verdict.WARNING, str(warning), None, None, _ms(started))
            )
        except ExchangeError as exc:
            failed = True
            results.append(
                ProbeResult(
                    stage,
                    Verdict.FAILED,
                    exc.message,
                    exc.code,
                    exc.remediation,
                    _ms(started),
                    exc,
                )
            )
        else:
            results.append(ProbeResult(stage, Verdict.PASSED, detail, duration_ms=_ms(started)))
    return results


def _ms(started: float) -> int:
    return max(0, int((time.perf_counter() - started) * 1000))
