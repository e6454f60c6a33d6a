"""Connection-test stages for Salesforce: JWT bearer token, API access, object permissions
(LS-42), and the rep's user record. Errors are `[{"errorCode", "message"}]` or OAuth's
`{"error", "error_description"}`."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import httpx
import jwt

from status_api.connection_test.stages import (
    StageFailure,
    StageId,
    StageReport,
    StageResult,
    run_stages,
    tls_context,
)
from status_api.error_codes import ErrorCategory, categorize

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# LS-42: what the integration user needs on each object Syncline touches.
NEEDED = {
    "Event": ("queryable", "createable", "updateable"),
    "Contact": ("queryable", "createable", "updateable"),
    "Lead": ("queryable",),
}


def _failure(response: httpx.Response, what: str) -> StageFailure:
    code, message = "", response.text[:300]
    try:
        body = response.json()
        if isinstance(body, list) and body:
            code, message = str(body[0].get("errorCode", "")), str(body[0].get("message", ""))
        elif isinstance(body, dict):
            code = str(body.get("error", ""))
            message = str(body.get("error_description", message))
    except (ValueError, AttributeError):
        pass
    detail = f"{what}: HTTP {response.status_code} {code} {message}".strip()
    category = categorize(code)
    if category is ErrorCategory.OTHER and response.status_code in (401, 400):
        category = ErrorCategory.CREDENTIALS_INVALID
    if category is ErrorCategory.OTHER and response.status_code == 403:
        category = ErrorCategory.SALESFORCE_PERMISSION
    return StageFailure(detail, category, response.status_code)


class SalesforceProbe:
    def __init__(
        self,
        config: dict[str, Any],
        secret: dict[str, str],
        rep_user_id: str | None,
        ca_bundle: str | None,
        timeout_s: float,
    ) -> None:
        self.config = config
        self.secret = secret
        self.rep_user_id = rep_user_id
        self.verify: str | bool = ca_bundle or True
        self.timeout_s = timeout_s
        self.login_url = str(config.get("login_url", "https://login.salesforce.com")).rstrip("/")
        self.api_version = str(config.get("api_version", "v62.0"))
        self.client: httpx.AsyncClient | None = None
        self.token: str | None = None
        self.instance_url: str | None = None

    def _assertion(self) -> str:
        claims = {
            "iss": self.config["client_id"],
            "sub": self.config["username"],
            "aud": self.login_url,
            "exp": int(time.time()) + 180,  # at most 3 minutes ahead
        }
        return jwt.encode(claims, self.secret.get("private_key_pem", ""), algorithm="RS256")

    async def token_stage(self) -> StageResult:
        assert self.client is not None
        try:
            assertion = self._assertion()
        except (ValueError, TypeError, jwt.PyJWTError) as exc:
            raise StageFailure(
                f"the stored private key cannot sign: {type(exc).__name__}",
                ErrorCategory.CREDENTIALS_INVALID,
            ) from exc
        response = await self.client.post(
            f"{self.login_url}/services/oauth2/token",
            data={"grant_type": JWT_BEARER, "assertion": assertion},
        )
        if response.status_code != 200:
            raise _failure(response, "POST /services/oauth2/token")
        body = response.json()
        self.token = str(body["access_token"])
        self.instance_url = str(body["instance_url"]).rstrip("/")
        return StageResult(f"token for {self.config['username']} at {self.instance_url}")

    async def _get(self, path: str, params: dict[str, str] | None = None) -> httpx.Response:
        assert self.client is not None
        return await self.client.get(
            f"{self.instance_url}/services/data/{self.api_version}{path}",
            params=params,
            headers={"Authorization": f"Bearer {self.token}"},
        )

    async def api_stage(self) -> StageResult:
        response = await self._get("/limits")
        if response.status_code != 200:
            raise _failure(response, "GET /limits")
        daily = response.json().get("DailyApiRequests", {})
        remaining, maximum = daily.get("Remaining"), daily.get("Max")
        if isinstance(remaining, int) and remaining <= 0:
            raise StageFailure(
                f"daily API requests exhausted (0 of {maximum} left)", ErrorCategory.THROTTLED
            )
        return StageResult(f"API reachable; {remaining} of {maximum} daily API requests left")

    async def objects_stage(self) -> StageResult:
        missing: list[str] = []
        for name, flags in NEEDED.items():
            response = await self._get(f"/sobjects/{name}/describe")
            if response.status_code != 200:
                raise _failure(response, f"GET /sobjects/{name}/describe")
            describe = response.json()
            missing += [f"{name}.{flag}" for flag in flags if not describe.get(flag, False)]
        if missing:
            raise StageFailure(
                "missing object permissions: " + ", ".join(missing),
                ErrorCategory.SALESFORCE_PERMISSION,
            )
        return StageResult("Event and Contact readable, creatable, editable; Lead readable")

    async def rep_stage(self) -> StageResult:
        if self.rep_user_id is None:
            return StageResult("no rep given; skipped the user check", True)
        response = await self._get(f"/sobjects/User/{quote(self.rep_user_id)}")
        if response.status_code == 404:
            raise StageFailure(
                f"user {self.rep_user_id} not found", ErrorCategory.MAILBOX_NOT_FOUND, 404
            )
        if response.status_code != 200:
            raise _failure(response, f"GET /sobjects/User/{self.rep_user_id}")
        user = response.json()
        if not user.get("IsActive", True):
            raise StageFailure(f"user {self.rep_user_id} is inactive", ErrorCategory.NOT_ASSIGNED)
        if not user.get("Email"):
            raise StageFailure(f"user {self.rep_user_id} has no email", ErrorCategory.OTHER)
        return StageResult(
            f"user {user.get('Username') or self.rep_user_id} active, {user['Email']}"
        )

    async def run(self) -> list[StageReport]:
        context = tls_context(self.verify)
        async with httpx.AsyncClient(verify=context, timeout=self.timeout_s) as client:
            self.client = client
            return await run_stages(
                [
                    (StageId.SALESFORCE_TOKEN, self.token_stage),
                    (StageId.SALESFORCE_API, self.api_stage),
                    (StageId.SALESFORCE_OBJECTS, self.objects_stage),
                    (StageId.SALESFORCE_REP, self.rep_stage),
                ]
            )
