"""The connector's exception tree and the one place Salesforce errors are classified.

    SalesforceError
    ├── AuthFailed          token endpoint refused us (tenant scope, permanent until fixed)
    ├── QuotaExhausted      daily API allocation or our share of it is spent (tenant, retry later)
    ├── TransientError      5xx, network trouble, row locks: retry the same request later
    └── RequestRejected     a 4xx the caller must handle (per record), with the error list

`classify()` turns a Salesforce errorCode/statusCode into the bus's `SyncError` (REST API
"Status Codes and Error Responses", protocols.md C3, C12).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from syncmodel.messages import ErrorScope, SyncError


class SalesforceError(Exception):
    """Base of everything this connector raises about Salesforce."""


class AuthFailed(SalesforceError):
    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description


class QuotaExhausted(SalesforceError):
    """Pause until `resume_at`: REQUEST_LIMIT_EXCEEDED or our configured share is spent."""

    def __init__(self, resume_at: dt.datetime, reason: str) -> None:
        super().__init__(f"API budget exhausted ({reason}); resuming at {resume_at.isoformat()}")
        self.resume_at = resume_at
        self.reason = reason


class TransientError(SalesforceError):
    """Worth retrying the same request after a pause."""


class RequestRejected(SalesforceError):
    """A 4xx answer: `errors` is Salesforce's `[{"message","errorCode","fields"}]` list."""

    def __init__(self, status: int, errors: list[dict[str, Any]]) -> None:
        first = errors[0] if errors else {}
        super().__init__(f"{status} {first.get('errorCode')}: {first.get('message')}")
        self.status = status
        self.errors = errors

    @property
    def code(self) -> str:
        first = self.errors[0] if self.errors else {}
        return str(first.get("errorCode") or first.get("statusCode") or f"HTTP_{self.status}")

    @property
    def message(self) -> str:
        return str((self.errors[0] if self.errors else {}).get("message") or "")


# errorCode -> (retryable, remediation). Anything not listed is a permanent record error.
_KNOWN: dict[str, tuple[bool, str | None]] = {
    "UNABLE_TO_LOCK_ROW": (True, None),
    "SERVER_UNAVAILABLE": (True, None),
    "UNKNOWN_EXCEPTION": (True, None),
    "ALL_OR_NONE_OPERATION_ROLLED_BACK": (True, None),
    "PROCESSING_HALTED": (True, None),
    "STRING_TOO_LONG": (False, "Shorten the field in Exchange; Salesforce limits its length."),
    "REQUIRED_FIELD_MISSING": (False, "Fill in the required field (e.g. Last Name)."),
    "FIELD_CUSTOM_VALIDATION_EXCEPTION": (False, "A Salesforce validation rule rejected it."),
    "DUPLICATES_DETECTED": (False, "A Salesforce duplicate rule blocked the record."),
    "DUPLICATE_VALUE": (False, "Another record already holds this unique value."),
    "INSUFFICIENT_ACCESS_OR_READONLY": (False, "Grant the integration user access."),
    "INSUFFICIENT_ACCESS": (False, "Grant the integration user access."),
    "ENTITY_IS_DELETED": (False, None),
    "INVALID_CROSS_REFERENCE_KEY": (False, "A related record no longer exists."),
    "MALFORMED_ID": (False, None),
    "FIELD_INTEGRITY_EXCEPTION": (False, None),
}


def classify(code: str, message: str) -> SyncError:
    retryable, remediation = _KNOWN.get(code, (False, None))
    return SyncError(
        code=code,
        message=message[:500],
        retryable=retryable,
        scope=ErrorScope.RECORD,
        remediation=remediation,
    )
