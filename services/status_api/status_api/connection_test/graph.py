"""Connection-test stages for Exchange Online through Microsoft Graph (LS-70, LS-67).

The token comes from MSAL against the configured authority (client credentials with a secret or
a certificate); the mailbox probes are plain Graph GETs with httpx. Graph error bodies are
`{"error": {"code": …, "message": …}}`; we branch on status and code, never on the message.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import msal
import requests

from status_api.connection_test.stages import (
    StageFailure,
    StageId,
    StageReport,
    StageResult,
    run_stages,
    tls_context,
)
from status_api.error_codes import ErrorCategory, categorize

SYNC_FOLDER = "Salesforce_Sync"


def graph_scope(graph_url: str) -> str:
    parts = urlsplit(graph_url)
    return f"{parts.scheme}://{parts.netloc}/.default"


def _token_failure(result: dict[str, Any]) -> StageFailure:
    error = str(result.get("error", "unknown_error"))
    description = str(result.get("error_description", "")).splitlines()[0:1]
    detail = f"{error}: {description[0] if description else ''}".strip()
    if error in ("invalid_client", "unauthorized_client"):
        category = ErrorCategory.CREDENTIALS_INVALID
    elif error in ("invalid_tenant", "invalid_request", "invalid_scope"):
        category = ErrorCategory.CONSENT_MISSING
    else:
        category = categorize(error)
    return StageFailure(detail, category)


def _graph_failure(response: httpx.Response, what: str) -> StageFailure:
    code = _graph_code(response) or ""
    message = response.text[:300]
    with contextlib.suppress(ValueError, KeyError, TypeError):
        message = str(response.json()["error"]["message"])
    detail = f"{what}: HTTP {response.status_code} {code} {message}".strip()
    if response.status_code == 404:
        category = ErrorCategory.MAILBOX_NOT_FOUND
    elif response.status_code == 403:
        category = ErrorCategory.ACCESS_DENIED
    elif response.status_code == 401:
        category = ErrorCategory.CREDENTIALS_INVALID
    elif response.status_code in (429, 503):
        category = ErrorCategory.THROTTLED
    else:
        category = categorize(code)
    return StageFailure(detail, category, response.status_code)


def _graph_code(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return str(error.get("code")) if isinstance(error, dict) else None


def _user_lookup_unavailable(response: httpx.Response) -> bool:
    """GET /users/{upn} refused for lack of User.Read.All, or not served at all (no Graph
    error body) — as opposed to a Graph answer about the mailbox itself."""
    code = _graph_code(response)
    if code is None:
        return response.status_code in (403, 404, 405)
    return response.status_code == 403 and code == "Authorization_RequestDenied"


class _TrustedSession(requests.Session):
    """requests lets REQUESTS_CA_BUNDLE override a session's `verify`; the configured CA
    bundle (SYNCLINE_CA_BUNDLE) must win, or a private CA could never be trusted."""

    def merge_environment_settings(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        settings: dict[str, Any] = super().merge_environment_settings(*args, **kwargs)
        settings["verify"] = self.verify
        return settings


def msal_http_client(verify: str | bool, timeout_s: float) -> requests.Session:
    session = _TrustedSession()
    session.verify = verify
    session.request = functools.partial(session.request, timeout=timeout_s)  # type: ignore[method-assign]
    return session


class GraphProbe:
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
        self.verify: str | bool = ca_bundle or True
        self.timeout_s = timeout_s
        self.graph_url = str(config.get("graph_url", "https://graph.microsoft.com/v1.0")).rstrip(
            "/"
        )
        self.token: str | None = None
        self.client: httpx.AsyncClient | None = None
        self.http_session = msal_http_client(self.verify, self.timeout_s)

    def _credential(self) -> str | dict[str, str]:
        if "client_secret" in self.secret:
            return self.secret["client_secret"]
        return {
            "private_key": self.secret.get("certificate_private_key_pem", ""),
            "thumbprint": str(self.config.get("certificate_thumbprint", "")),
        }

    def _acquire(self) -> dict[str, Any]:
        authority_host = str(self.config.get("authority_host", "https://login.microsoftonline.com"))
        app = msal.ConfidentialClientApplication(
            str(self.config["client_id"]),
            client_credential=self._credential(),
            authority=f"{authority_host.rstrip('/')}/{self.config['directory_tenant_id']}",
            http_client=self.http_session,
            instance_discovery=False,
            token_cache=msal.TokenCache(),
        )
        result: dict[str, Any] = app.acquire_token_for_client(scopes=[graph_scope(self.graph_url)])
        return result

    async def token_stage(self) -> StageResult:
        try:
            result = await asyncio.to_thread(self._acquire)
        except ValueError as exc:  # MSAL: authority metadata unreachable / invalid
            raise StageFailure(f"authority: {exc}", ErrorCategory.CONSENT_MISSING) from exc
        except Exception as exc:  # requests' errors, surfaced by MSAL without wrapping
            text = f"{type(exc).__name__}: {exc}"
            category = (
                ErrorCategory.TLS_UNTRUSTED
                if "CERTIFICATE_VERIFY_FAILED" in text or "SSLError" in text
                else ErrorCategory.ENDPOINT_UNREACHABLE
            )
            raise StageFailure(text[:500], category) from exc
        if "access_token" not in result:
            raise _token_failure(result)
        self.token = str(result["access_token"])
        return StageResult(f"token acquired (expires in {result.get('expires_in', '?')} s)")

    async def _get(self, path: str, params: dict[str, str] | None = None) -> httpx.Response:
        assert self.client is not None
        return await self.client.get(
            f"{self.graph_url}/users/{quote(self.mailbox)}{path}",
            params=params,
            headers={"Authorization": f"Bearer {self.token}", "Prefer": 'IdType="ImmutableId"'},
        )

    async def mailbox_stage(self) -> StageResult:
        response = await self._get("")
        if response.status_code == 200:
            body = response.json()
            return StageResult(f"resolved to {body.get('userPrincipalName') or body.get('mail')}")
        if _graph_code(response) == "ErrorAccessDenied":
            # The mailbox exists (Graph would say ErrorInvalidUser otherwise); the access stage
            # reports the denial with its own remediation.
            return StageResult("mailbox exists; Graph denies access to it (see graph_access)")
        if not _user_lookup_unavailable(response):
            raise _graph_failure(response, f"GET /users/{self.mailbox}")
        # Reading /users needs User.Read.All, which a least-privilege app (Contacts + Calendars
        # only) lacks: resolve the mailbox through one of its own folders instead.
        probe = await self._get("/contactFolders", {"$top": "1"})
        if probe.status_code == 404:
            raise _graph_failure(probe, "GET /contactFolders")
        return StageResult(
            "mailbox exists (GET /users not permitted for this app; resolved via its folders)",
            True,
        )

    async def access_stage(self) -> StageResult:
        response = await self._get("/contactFolders", {"$top": "1"})
        if response.status_code != 200:
            raise _graph_failure(response, "GET /contactFolders")
        return StageResult("the app may read this mailbox's contacts")

    async def folder_stage(self) -> StageResult:
        response = await self._get(
            "/contactFolders", {"$filter": f"displayName eq '{SYNC_FOLDER}'"}
        )
        if response.status_code != 200:
            raise _graph_failure(response, "GET /contactFolders?$filter=displayName")
        folders = [
            f for f in response.json().get("value", []) if f.get("displayName") == SYNC_FOLDER
        ]
        if not folders:
            return StageResult(
                f"no {SYNC_FOLDER} folder yet: Syncline creates it on the first sync", True
            )
        return StageResult(f"{SYNC_FOLDER} folder found")

    async def calendar_stage(self) -> StageResult:
        response = await self._get("/calendar")
        if response.status_code != 200:
            raise _graph_failure(response, "GET /calendar")
        return StageResult(f"calendar '{response.json().get('name', 'Calendar')}' readable")

    async def run(self) -> list[StageReport]:
        context = tls_context(self.verify)
        try:
            async with httpx.AsyncClient(verify=context, timeout=self.timeout_s) as client:
                self.client = client
                return await run_stages(
                    [
                        (StageId.GRAPH_TOKEN, self.token_stage),
                        (StageId.GRAPH_MAILBOX, self.mailbox_stage),
                        (StageId.GRAPH_ACCESS, self.access_stage),
                        (StageId.GRAPH_CONTACTS_FOLDER, self.folder_stage),
                        (StageId.GRAPH_CALENDAR, self.calendar_stage),
                    ]
                )
        finally:
            self.http_session.close()
