"""Connection-test stages for on-premises Exchange through EWS (LS-70, LS-60..LS-63).

The stages themselves are `ewsclient.probe`, the same code and client the Exchange connector
syncs with: the EWS URL (configured, or Autodiscover), the service account's credentials,
impersonation of the rep's mailbox, the Salesforce_Sync folder and the calendar. This module
builds the client from the connection's stored settings and decrypted password, with the API's
CA bundle and timeout, and turns each probe result into a `StageReport` with an error category.
The password goes to the client only; details come from classified EWS errors, never from the
request, so it cannot reach the report or the logs.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
from ewsclient.client import EwsClient
from ewsclient.errors import (
    AccessDenied,
    AuthenticationFailed,
    AutodiscoverFailed,
    ExchangeError,
    MailboxNotFound,
    Throttled,
    Unavailable,
)
from ewsclient.probe import ProbeResult, Verdict, run_probe

from status_api.catalog import entry
from status_api.connection_test.stages import (
    StageFailure,
    StageId,
    StageOutcome,
    StageReport,
    classify_transport,
    failed_report,
)
from status_api.error_codes import ErrorCategory, categorize

_HTTP_CODE = re.compile(r"^Http(\d{3})$")


def stage_failure(error: ExchangeError) -> StageFailure:
    """An EWS error as a stage failure: its code and message, a category, its remedy."""
    match = _HTTP_CODE.match(error.code)
    status = int(match.group(1)) if match else None
    detail = f"{error.code}: {error.message}"
    cause = error.__cause__
    if isinstance(cause, httpx.HTTPError):
        transport = classify_transport(cause)
        if transport.category is ErrorCategory.TLS_UNTRUSTED or not isinstance(
            error, AutodiscoverFailed
        ):
            # The client wraps transport failures (Unavailable("ConnectionFailed", …)); the
            # cause says whether the certificate or the network is at fault (LS-61, LS-62).
            return StageFailure(f"{detail} ({transport.detail})", transport.category, status)
    return StageFailure(detail, _category(error), status, error.remediation)


def _category(error: ExchangeError) -> ErrorCategory:
    if isinstance(error, AuthenticationFailed):
        return ErrorCategory.CREDENTIALS_INVALID
    if isinstance(error, AutodiscoverFailed):
        return ErrorCategory.AUTODISCOVER_FAILED
    if isinstance(error, AccessDenied):
        return ErrorCategory.ACCESS_DENIED
    if isinstance(error, MailboxNotFound):
        return ErrorCategory.MAILBOX_NOT_FOUND
    if isinstance(error, Throttled):
        return ErrorCategory.THROTTLED
    if isinstance(error, Unavailable):
        return ErrorCategory.ENDPOINT_UNREACHABLE
    return categorize(error.code)


def stage_report(result: ProbeResult) -> StageReport:
    stage = StageId(result.stage)
    if result.verdict is Verdict.FAILED:
        error = result.error or ExchangeError(result.code or "EwsError", result.detail)
        return failed_report(stage, stage_failure(error), result.duration_ms)
    if result.verdict is Verdict.SKIPPED:
        return StageReport(
            stage=stage,
            outcome=StageOutcome.SKIPPED,
            detail="skipped: an earlier stage failed",
            duration_ms=0,
        )
    warning = result.verdict is Verdict.WARNING
    return StageReport(
        stage=stage,
        outcome=StageOutcome.WARNING if warning else StageOutcome.PASSED,
        detail=result.detail,
        remediation=entry(stage).fix if warning else None,
        duration_ms=result.duration_ms,
    )


class EwsProbe:
    def __init__(
        self,
        config: dict[str, Any],
        secret: dict[str, str],
        mailbox: str,
        ca_bundle: str | None,
        timeout_s: float,
    ) -> None:
        self.config = config
        self.secret = secret
        self.mailbox = mailbox
        self.ca_bundle = Path(ca_bundle) if ca_bundle else None
        self.timeout_s = timeout_s

    def _client(self) -> EwsClient:
        # The configured URL wins; Autodiscover (from the configured Autodiscover URL, else the
        # email domain) only when none is set, as in the connector (ExchangeEwsConnection).
        return EwsClient(
            str(self.config["username"]),
            self.secret.get("password", ""),
            ews_url=self.config.get("ews_url") or None,
            autodiscover_url=self.config.get("autodiscover_url") or None,
            ca_bundle=self.ca_bundle,
            auth="ntlm" if self.config.get("auth") == "ntlm" else "basic",
            ntlm_lanes=1,  # the stages run one request at a time
            # Report the first failure as it is (throttling included) instead of retrying it
            # past the API's timeout; each request is bounded by the connection-test timeout.
            max_retries=0,
            timeout_s=self.timeout_s,
        )

    async def run(self) -> list[StageReport]:
        client = self._client()
        try:
            results = await run_probe(client, self.mailbox)
        finally:
            await client.aclose()
        return [stage_report(r) for r in results]
