"""OAuth 2.0 for server-to-server access: JWT bearer (RS256) or client credentials (C2).

There is no refresh token: a new session is minted with a new assertion whenever the old one
is refused with 401 INVALID_SESSION_ID. `instance_url` comes from the token response.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import httpx
import jwt

from salesforce_connector.errors import AuthFailed, TransientError
from salesforce_connector.settings import SalesforceSettings

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_ASSERTION_LIFETIME_S = 170  # Salesforce accepts exp at most 3 minutes ahead


@dataclass(frozen=True)
class Session:
    access_token: str
    instance_url: str


class Authenticator:
    """Sessions per subject (None = the integration user); each logs in once when first asked.

    Acting as a rep (LS-13: "Last Modified By" shows the rep) is a JWT with `sub` = the rep's
    username; the client credentials flow always runs as the app's "Run As" user.
    """

    def __init__(self, settings: SalesforceSettings, http: httpx.AsyncClient) -> None:
        self.settings = settings
        self.http = http
        self._sessions: dict[str | None, Session] = {}
        self._lock = asyncio.Lock()
        self.logins = 0

    def assertion(self, subject: str | None = None) -> str:
        s = self.settings
        claims = {
            "iss": s.client_id,
            "sub": subject or s.username,
            "aud": s.login_url.rstrip("/"),
            "exp": int(time.time()) + _ASSERTION_LIFETIME_S,
        }
        return jwt.encode(claims, s.key_pem(), algorithm="RS256")

    async def session(self, subject: str | None = None) -> Session:
        if self.settings.client_secret:
            subject = None
        found = self._sessions.get(subject)
        if found is not None:
            return found
        async with self._lock:
            if subject not in self._sessions:
                self._sessions[subject] = await self._login(subject)
            return self._sessions[subject]

    def invalidate(self, stale: Session) -> None:
        for subject, session in list(self._sessions.items()):
            if session == stale:
                del self._sessions[subject]

    async def _login(self, subject: str | None) -> Session:
        s = self.settings
        if s.client_secret:
            form = {"grant_type": "client_credentials"}
            auth: httpx.BasicAuth | None = httpx.BasicAuth(s.client_id, s.client_secret)
        else:
            form = {"grant_type": JWT_GRANT, "assertion": self.assertion(subject)}
            auth = None
        url = s.login_url.rstrip("/") + "/services/oauth2/token"
        try:
            response = await self.http.post(url, data=form, auth=auth)  # type: ignore[arg-type]
        except httpx.TransportError as exc:
            raise TransientError(f"token endpoint unreachable: {exc}") from exc
        if response.status_code >= 500:
            raise TransientError(f"token endpoint answered {response.status_code}")
        body = response.json()
        if response.status_code != 200:
            raise AuthFailed(str(body.get("error")), str(body.get("error_description")))
        self.logins += 1
        return Session(body["access_token"], body["instance_url"].rstrip("/"))
