"""How the connection test categorises EWS errors (status_api.connection_test.ews), pure: the
classified error classes of `ewsclient.errors`, and transport causes chained to them."""

from __future__ import annotations

import ssl

import httpx
import pytest
from ewsclient.errors import (
    AutodiscoverFailed,
    ExchangeError,
    Unavailable,
    classify_code,
    classify_status,
)
from status_api.connection_test.ews import stage_failure
from status_api.error_codes import ErrorCategory


def _chained(error: ExchangeError, cause: Exception) -> ExchangeError:
    try:
        raise error from cause
    except ExchangeError as exc:
        return exc


@pytest.mark.parametrize(
    ("error", "category", "status"),
    [
        (classify_status(401, ""), ErrorCategory.CREDENTIALS_INVALID, 401),
        (classify_code("ErrorImpersonateUserDenied", "no"), ErrorCategory.ACCESS_DENIED, None),
        (classify_code("ErrorNonExistentMailbox", "gone"), ErrorCategory.MAILBOX_NOT_FOUND, None),
        (classify_code("ErrorServerBusy", "busy", 500), ErrorCategory.THROTTLED, None),
        (classify_status(503, "queue full"), ErrorCategory.ENDPOINT_UNREACHABLE, 503),
        (classify_status(404, ""), ErrorCategory.AUTODISCOVER_FAILED, 404),
    ],
)
def test_classified_errors_keep_their_code_and_get_a_category(
    error: ExchangeError, category: ErrorCategory, status: int | None
) -> None:
    failure = stage_failure(error)
    assert failure.category is category
    assert failure.http_status == status
    assert failure.detail.startswith(f"{error.code}: ")
    assert failure.remediation == error.remediation


def test_an_untrusted_certificate_is_tls_whatever_stage_saw_it() -> None:
    tls = httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    tls.__cause__ = ssl.SSLError("CERTIFICATE_VERIFY_FAILED")
    for error in (
        Unavailable("ConnectionFailed", "ConnectError"),
        AutodiscoverFailed("AutodiscoverUnreachable", "no Autodiscover answered"),
    ):
        failure = stage_failure(_chained(error, tls))
        assert failure.category is ErrorCategory.TLS_UNTRUSTED
        assert "CERTIFICATE_VERIFY_FAILED" in failure.detail


def test_an_unreachable_host_is_an_autodiscover_failure_only_for_autodiscover() -> None:
    refused = httpx.ConnectError("[Errno 111] Connection refused")
    ews = stage_failure(_chained(Unavailable("ConnectionFailed", "ConnectError"), refused))
    assert ews.category is ErrorCategory.ENDPOINT_UNREACHABLE
    assert "Connection refused" in ews.detail
    autodiscover = stage_failure(
        _chained(AutodiscoverFailed("AutodiscoverUnreachable", "none answered"), refused)
    )
    assert autodiscover.category is ErrorCategory.AUTODISCOVER_FAILED
    assert autodiscover.remediation == AutodiscoverFailed.remediation
