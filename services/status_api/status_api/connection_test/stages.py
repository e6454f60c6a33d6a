"""Stage vocabulary of the connection test and the harness that runs stages in order.

A stage that fails makes every later stage of the same system `skipped`: there is no point
probing a mailbox without a token, and the admin should fix the first failure first.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
from pydantic import BaseModel, Field

from status_api.catalog import DocumentedEnum, Entry, document, entry
from status_api.error_codes import ErrorCategory

_GRAPH = "Exchange (Graph)"
_EWS = "Exchange (EWS)"
_SF = "Salesforce"


class StageId(DocumentedEnum):
    """Stages of the connection test, in the order they run."""

    GRAPH_TOKEN = "graph_token"
    GRAPH_MAILBOX = "graph_mailbox"
    GRAPH_ACCESS = "graph_access"
    GRAPH_CONTACTS_FOLDER = "graph_contacts_folder"
    GRAPH_CALENDAR = "graph_calendar"
    EWS_AUTODISCOVER = "ews_autodiscover"
    EWS_SERVICE_ACCOUNT = "ews_service_account"
    EWS_IMPERSONATION = "ews_impersonation"
    EWS_CONTACTS_FOLDER = "ews_contacts_folder"
    EWS_CALENDAR = "ews_calendar"
    SALESFORCE_TOKEN = "salesforce_token"
    SALESFORCE_API = "salesforce_api"
    SALESFORCE_OBJECTS = "salesforce_objects"
    SALESFORCE_REP = "salesforce_rep"


document(
    StageId,
    {
        "graph_token": Entry(
            "An app-only token from the configured authority (client secret or certificate).",
            "Check the directory tenant id, client id and secret/certificate; have a global "
            "administrator grant consent (LS-67).",
            _GRAPH,
        ),
        "graph_mailbox": Entry(
            "The mailbox resolves (GET /users/{mailbox}).",
            "Check the rep's email is the mailbox's primary SMTP address and it is licensed.",
            _GRAPH,
        ),
        "graph_access": Entry(
            "The app may read the mailbox's contacts (application access policy / RBAC).",
            "Add the mailbox to the group of the application access policy, or grant the app "
            "an Exchange RBAC role scoped to it; changes can take an hour to apply.",
            _GRAPH,
        ),
        "graph_contacts_folder": Entry(
            "The Salesforce_Sync contacts folder exists (warning if not yet: Syncline creates "
            "it on the first sync).",
            "If it was renamed or deleted after sync started, reset the user's contact sync.",
            _GRAPH,
        ),
        "graph_calendar": Entry(
            "The default calendar is readable.", "Grant Calendars.ReadWrite (application).", _GRAPH
        ),
        "ews_autodiscover": Entry(
            "The EWS URL of the mailbox: the connection's ews_url, or found by Autodiscover "
            "(SOAP GetUserSettings, then POX).",
            "Check the Autodiscover DNS record and virtual directory for the email domain, or "
            "set ews_url on the connection (LS-61).",
            _EWS,
        ),
        "ews_service_account": Entry(
            "The service account's credentials are accepted by EWS (Basic or NTLM over TLS).",
            "Check the user name (DOMAIN\\user or UPN), the password and its expiry, and that "
            "Basic or NTLM authentication is enabled on the EWS virtual directory (LS-61, LS-63).",
            _EWS,
        ),
        "ews_impersonation": Entry(
            "The service account may impersonate the rep's mailbox (ExchangeImpersonation).",
            "Grant the service account the ApplicationImpersonation role with a management "
            "scope that includes this mailbox (New-ManagementRoleAssignment, LS-63).",
            _EWS,
        ),
        "ews_contacts_folder": Entry(
            "The Salesforce_Sync contacts folder is readable (warning if not yet: Syncline "
            "creates it on the first sync).",
            "If it was renamed or deleted after sync started, reset the user's contact sync.",
            _EWS,
        ),
        "ews_calendar": Entry(
            "The mailbox's calendar is readable through impersonation.",
            "Check the impersonation scope covers the mailbox and the mailbox is not being moved.",
            _EWS,
        ),
        "salesforce_token": Entry(
            "A token for the integration user through the JWT bearer flow.",
            "Check the login URL, consumer key, username, and that the user is pre-authorized "
            "for the connected app whose certificate matches the private key.",
            _SF,
        ),
        "salesforce_api": Entry(
            "The REST API answers (GET /limits), with the daily API budget left.",
            "Check the user has 'API Enabled' and the org has API requests left.",
            _SF,
        ),
        "salesforce_objects": Entry(
            "The integration user can read/create/edit Event and Contact and read Lead.",
            "Grant the object permissions in the user's profile or a permission set (LS-42).",
            _SF,
        ),
        "salesforce_rep": Entry(
            "The rep exists, is active, and has an email address to link to a mailbox.",
            "Activate the user or fix their email address.",
            _SF,
        ),
    },
)


class StageOutcome(DocumentedEnum):
    """Result of one stage."""

    PASSED = "passed"
    WARNING = "warning"
    FAILED = "failed"
    SKIPPED = "skipped"


document(
    StageOutcome,
    {
        "passed": Entry("The stage succeeded."),
        "warning": Entry("Succeeded, with something to know (see detail)."),
        "failed": Entry("The stage failed; `detail` has the exact error.", "Follow `remediation`."),
        "skipped": Entry("Not run, because an earlier stage failed or it does not apply."),
    },
)


class StageReport(BaseModel):
    stage: StageId
    outcome: StageOutcome
    detail: str
    remediation: str | None = None
    category: ErrorCategory | None = None
    http_status: int | None = None
    duration_ms: int = Field(ge=0)


class StageFailure(Exception):
    """Raised inside a stage: the exact error, its category, and the HTTP status if any."""

    def __init__(
        self,
        detail: str,
        category: ErrorCategory,
        http_status: int | None = None,
        remediation: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.category = category
        self.http_status = http_status
        # A remedy more specific than the stage's catalog fix (e.g. an EWS error class's).
        self.remediation = remediation


@dataclass(frozen=True)
class StageResult:
    detail: str
    warning: bool = False


Stage = Callable[[], Awaitable[StageResult]]


def classify_transport(exc: httpx.HTTPError) -> StageFailure:
    """Transport errors, once, at the edge: TLS trust vs reachability."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc.__cause__, ssl.SSLError) or "CERTIFICATE_VERIFY_FAILED" in text:
        return StageFailure(f"TLS: {text}", ErrorCategory.TLS_UNTRUSTED)
    return StageFailure(f"{type(exc).__name__}: {text}", ErrorCategory.ENDPOINT_UNREACHABLE)


async def run_stages(stages: list[tuple[StageId, Stage]]) -> list[StageReport]:
    reports: list[StageReport] = []
    failed = False
    for stage_id, stage in stages:
        if failed:
            reports.append(
                StageReport(
                    stage=stage_id,
                    outcome=StageOutcome.SKIPPED,
                    detail="skipped: an earlier stage failed",
                    duration_ms=0,
                )
            )
            continue
        started = time.perf_counter()
        try:
            result = await stage()
        except StageFailure as exc:
            failed = True
            reports.append(failed_report(stage_id, exc, _ms(started)))
            continue
        except httpx.HTTPError as exc:
            failed = True
            reports.append(failed_report(stage_id, classify_transport(exc), _ms(started)))
            continue
        reports.append(
            StageReport(
                stage=stage_id,
                outcome=StageOutcome.WARNING if result.warning else StageOutcome.PASSED,
                detail=result.detail,
                remediation=entry(stage_id).fix if result.warning else None,
                duration_ms=_ms(started),
            )
        )
    return reports


def _ms(started: float) -> int:
    return max(0, int((time.perf_counter() - started) * 1000))


def failed_report(stage_id: StageId, exc: StageFailure, duration_ms: int) -> StageReport:
    fix = exc.remediation or entry(stage_id).fix
    return StageReport(
        stage=stage_id,
        outcome=StageOutcome.FAILED,
        detail=exc.detail[:2000],
        remediation=fix + " (" + entry(exc.category).fix + ")",
        category=exc.category,
        http_status=exc.http_status,
        duration_ms=duration_ms,
    )


def skipped(stage_id: StageId, detail: str) -> StageReport:
    return StageReport(
        stage=stage_id,
        outcome=StageOutcome.SKIPPED,
        detail=detail,
        remediation=entry(stage_id).fix,
        duration_ms=0,
    )


def tls_context(verify: str | bool) -> ssl.SSLContext:
    """System trust, or the configured CA bundle (SYNCLINE_CA_BUNDLE); TLS 1.2+ (LS-61)."""
    context = ssl.create_default_context(cafile=verify if isinstance(verify, str) else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context
