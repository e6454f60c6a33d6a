"""EWS failures classified once, into the connector's error hierarchy (exchange_connector.errors).

Codes from the EWS reference `responsecode.md` and `ews-throttling-in-exchange.md` (protocols.md
B4, B5). Branch on the code, never on the message text.
"""

from __future__ import annotations

from syncmodel.messages import ErrorScope

from exchange_connector.errors import (
    AccessDenied,
    AuthenticationFailed,
    ExchangeError,
    InvalidRequest,
    ItemNotFound,
    MailboxNotFound,
    PermanentError,
    PreconditionFailed,
    SyncStateGone,
    Throttled,
    Unavailable,
)


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
        "Check that Autodiscover answers for the user's email domain, or set "
        "SYNCLINE_EXCHANGE_EWS_URL to the EWS endpoint (LS-61)."
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
