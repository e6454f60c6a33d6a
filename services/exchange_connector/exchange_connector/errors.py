"""The Exchange connector's errors: the hierarchy of `ewsclient.errors`, re-exported (so both
transports and every `except` clause share one set of classes), plus the classification of a
Graph failure, once, here, at the edge.

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

The EWS-specific subclasses (ServiceAccountRejected, ImpersonationDenied, AutodiscoverFailed)
and the EWS classification are in `ewsclient.errors`.

Branch on `code`, never on the message (protocols.md A9); compare codes case-insensitively
because Outlook emits `SyncStateNotFound` where the docs say `syncStateNotFound` (A5).
"""

from __future__ import annotations

from typing import Any

import httpx
from ewsclient.errors import (
    AccessDenied,
    AuthenticationFailed,
    ClaimedByOtherTenant,
    ExchangeError,
    InvalidRequest,
    ItemNotFound,
    MailboxNotFound,
    PermanentError,
    PreconditionFailed,
    SyncStateGone,
    Throttled,
    TransientError,
    Unavailable,
)

__all__ = [
    "AccessDenied",
    "AuthenticationFailed",
    "ClaimedByOtherTenant",
    "ExchangeError",
    "InvalidRequest",
    "ItemNotFound",
    "MailboxNotFound",
    "PermanentError",
    "PreconditionFailed",
    "SyncStateGone",
    "Throttled",
    "TransientError",
    "Unavailable",
    "classify",
    "retry_after_of",
]

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
