"""The Exchange error hierarchy, and EWS failures classified into it once, here, at the edge.

    ExchangeError                   base; carries code, scope, retryable, retry_after
    ├── TransientError              retry later (the same request may succeed)
    │   ├── Throttled               429 / ErrorServerBusy / budget; honour retry_after
    │   └── Unavailable             5xx, network failures
    └── PermanentError              retrying the same request will not help
        ├── AuthenticationFailed    credentials or token refused (tenant scope)
        │   └── ServiceAccountRejected   EWS: the service account's 401
        ├── AccessDenied            access policy / missing role (mailbox scope)
        │   └── ImpersonationDenied      EWS: no ApplicationImpersonation on the mailbox
        ├── AutodiscoverFailed      EWS: no EWS URL found for the mailbox
        ├── ClaimedByOtherTenant    the mailbox carries another Syncline tenant's claim (LS-101)
        ├── MailboxNotFound         the mailbox does not exist (mailbox scope)
        ├── SyncStateGone           the sync cursor is no longer valid: re-baseline it
        ├── PreconditionFailed      the item changed since the version we were given
        ├── ItemNotFound            the item does not exist (record scope)
        └── InvalidRequest          other request errors (record scope)

The hierarchy lives in this library, not in the Exchange connector, because both the connector
(Graph and EWS transports, `exchange_connector.errors` re-exports it and adds the Graph
classification) and the status API's connection test catch it, and services may not import each
other. EWS codes are from the EWS reference `responsecode.md` and
`ews-throttling-in-exchange.md` (protocols.md B4, B5). Branch on the code, never on the message.
"""

from __future__ import annotations

from syncmodel.messages import ErrorScope, SyncError


class ExchangeError(Exception):
    scope: ErrorScope = ErrorScope.RECORD
    retryable: bool = False
    remediation: str | None = None

    def __init__(self, code: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retry_after = retry_after

    def to_sync_error(self) -> SyncError:
        return SyncError(
            code=self.code,
            message=self.message[:500],
            retryable=self.retryable,
            scope=self.scope,
            remediation=self.remediation,
            retry_after_s=self.retry_after,
        )


class TransientError(ExchangeError):
    retryable = True


class Throttled(TransientError):
    scope = ErrorScope.MAILBOX


class Unavailable(TransientError):
    scope = ErrorScope.MAILBOX


class PermanentError(ExchangeError):
    pass


class AuthenticationFailed(PermanentError):
    scope = ErrorScope.TENANT
    remediation = "Check the app registration's client id, secret or certificate and consent."


class AccessDenied(PermanentError):
    scope = ErrorScope.MAILBOX
    remediation = "Add the mailbox to the application access policy (or RBAC scope) of the app."


class ClaimedByOtherTenant(PermanentError):
    scope = ErrorScope.MAILBOX
    remediation = "Release the other tenant's claim on the mailbox (an explicit admin action)."


class MailboxNotFound(PermanentError):
    scope = ErrorScope.MAILBOX
    remediation = "Check the user's email address; the mailbox does not exist in Exchange Online."


class SyncStateGone(PermanentError):
    scope = ErrorScope.MAILBOX


class PreconditionFailed(PermanentError):
    pass


class ItemNotFound(PermanentError):
    pass


class InvalidRequest(PermanentError):
    pass


# --- EWS ------------------------------------------------------------------------------------


class ServiceAccountRejected(AuthenticationFailed):
    remediation = (
        "Check the service account's user name and password, and that Basic or NTLM "
        "authentication is enabled on the EWS and Autodiscover virtual directories (LS-61, LS-63)."
    )


class ImpersonationDenied(AccessDenied):
    remediation = (
        "Grant the service account the ApplicationImpersonation role with a scope that "
        "includes this mailbox (New-ManagementRoleAssignment, LS-63)."
    )


class AutodiscoverFailed(PermanentError):
    scope = ErrorScope.MAILBOX
    remediation = (
        "Check that Autodiscover answers for the user's email domain, or configure the EWS "
        "endpoint (SYNCLINE_EXCHANGE_EWS_URL, or the connection's ews_url) (LS-61)."
    )


_TRANSIENT = {
    "ErrorExceededConnectionCount",
    "ErrorTimeoutExpired",
    "ErrorInternalServerTransientError",
    "ErrorInternalServerError",
    "ErrorMailboxMoveInProgress",
    "ErrorMailboxStoreUnavailable",
    "ErrorConnectionFailed",
}
_PERMANENT: dict[str, type[ExchangeError]] = {
    "ErrorImpersonateUserDenied": ImpersonationDenied,
    "ErrorImpersonationDenied": ImpersonationDenied,
    "ErrorAccessDenied": AccessDenied,
    "ErrorNonExistentMailbox": MailboxNotFound,
    "ErrorMissingEmailAddress": MailboxNotFound,
    "ErrorInvalidSyncStateData": SyncStateGone,
    "ErrorSyncFolderNotFound": SyncStateGone,
    "ErrorIrresolvableConflict": PreconditionFailed,
    "ErrorItemNotFound": ItemNotFound,
}


def classify_code(code: str, message: str, back_off_ms: int | None = None) -> ExchangeError:
    retry = back_off_ms / 1000 if back_off_ms is not None else None
    if code in ("ErrorServerBusy", "ErrorExceededConnectionCount") or back_off_ms is not None:
        return Throttled(code, message, retry)
    if code in _TRANSIENT:
        return Unavailable(code, message, retry)
    return _PERMANENT.get(code, InvalidRequest)(code, message)


def classify_status(status: int, text: str) -> ExchangeError:
    """An HTTP failure without a SOAP fault (401 from IIS, 503 from its queue, ...)."""
    if status == 401:
        return ServiceAccountRejected("Http401", "the service account's credentials were refused")
    if status == 403:
        return AccessDenied("Http403", text[:200])
    if status in (429, 503) or status >= 500:
        return Unavailable(f"Http{status}", text[:200])
    if status == 404:
        return AutodiscoverFailed("Http404", "no EWS endpoint at this URL")
    return InvalidRequest(f"Http{status}", text[:200])
