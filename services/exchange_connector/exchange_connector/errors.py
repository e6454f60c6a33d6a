"""The Exchange connector's errors, each Graph failure classified once, here, at the edge.

    ExchangeError                   base; carries code, scope, retryable, retry_after
    ├── TransientError              retry later (the same request may succeed)
    │   ├── Throttled               429 / MailboxConcurrency / budget; honour retry_after
    │   └── Unavailable             5xx, network failures
    └── PermanentError              retrying the same request will not help
        ├── AuthenticationFailed    token cannot be obtained or is refused (tenant scope)
        ├── AccessDenied            application access policy / missing consent (mailbox scope)
        ├── ClaimedByOtherTenant    the mailbox carries another Syncline tenant's claim (LS-101)
        ├── MailboxNotFound         404 on the user (mailbox scope)
        ├── SyncStateGone           410 syncStateNotFound / resync*: re-baseline the cursor
        ├── PreconditionFailed      412: the item changed since the version we were given
        ├── ItemNotFound            404 on an item (record scope)
        └── InvalidRequest          400 and other 4xx (record scope)

Branch on `code`, never on the message (protocols.md A9); compare codes case-insensitively
because Outlook emits `SyncStateNotFound` where the docs say `syncStateNotFound` (A5).
"""

from __future__ import annotations

from typing import Any

import httpx
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


_SYNC_STATE_CODES = {"syncstatenotfound", "resyncrequired", "syncstateinvalid"}


def _error_fields(response: httpx.Response) -> tuple[str, str]:
    try:
        body: Any = response.json()
    except ValueError:
        return f"Http{response.status_code}", response.text[:200]
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return f"Http{response.status_code}", str(body)[:200]
    return str(error.get("code") or f"Http{response.status_code}"), str(error.get("message") or "")


def retry_after_of(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def classify(response: httpx.Response, *, item_path: bool = True) -> ExchangeError:
    """Map an unsuccessful Graph response to the exception that says what to do about it."""
    status = response.status_code
    code, message = _error_fields(response)
    retry = retry_after_of(response)
    if status == 429:
        return Throttled(code, message, retry)
    if status >= 500:
        return Unavailable(code, message, retry)
    if status == 401:
        return AuthenticationFailed(code, message)
    if status == 403:
        return AccessDenied(code, message)
    if status == 410 or code.lower() in _SYNC_STATE_CODES:
        return SyncStateGone(code, message)
    if status == 412:
        return PreconditionFailed(code, message)
    if status == 404:
        if (
            code in ("ErrorInvalidUser", "MailboxNotEnabledForRESTAPI", "ResourceNotFound")
            or not item_path
        ):
            return MailboxNotFound(code, message)
        return ItemNotFound(code, message)
    return InvalidRequest(code, message)
