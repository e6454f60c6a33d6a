"""App-only tokens for Graph through MSAL's ConfidentialClientApplication (protocols.md A1).

Client secret or certificate; authority configurable (Entra ID or the simulator). MSAL keeps the
token cache and returns the cached token until shortly before expiry. `invalidate()` drops cached
tokens so the next call fetches a fresh one (used once after a 401). MSAL is synchronous, so calls
run in a worker thread.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msal
import requests

from exchange_connector.errors import AuthenticationFailed

GRAPH_SCOPE = "https://graph.microsoft.com/.default"


@dataclass(frozen=True)
class AppCredentials:
    """How the connector authenticates: one of `client_secret` or the certificate pair."""

    authority: str
    client_id: str
    client_secret: str | None = None
    certificate_key_pem: str | None = None
    certificate_pem: str | None = None
    ca_bundle: Path | None = None
    instance_discovery: bool | str = True
    scope: str = GRAPH_SCOPE


def _http_client(ca_bundle: Path | None) -> requests.Session:
    session = requests.Session()
    if ca_bundle is not None:
        # REQUESTS_CA_BUNDLE in the environment would silently override Session.verify.
        session.trust_env = False
        session.verify = str(ca_bundle)
    return session


class TokenProvider:
    def __init__(self, credentials: AppCredentials) -> None:
        self.credentials = credentials
        self._app: msal.ConfidentialClientApplication | None = None
        self._lock = asyncio.Lock()
        self._cached: tuple[str, float] | None = None
        self.acquired = 0

    def _build(self) -> msal.ConfidentialClientApplication:
        c = self.credentials
        credential: Any
        if c.certificate_key_pem and c.certificate_pem:
            credential = {
                "private_key": c.certificate_key_pem,
                "public_certificate": c.certificate_pem,
            }
        elif c.client_secret:
            credential = c.client_secret
        else:
            raise AuthenticationFailed("NoCredential", "neither a client secret nor a certificate")
        return msal.ConfidentialClientApplication(
            c.client_id,
            client_credential=credential,
            authority=c.authority,
            http_client=_http_client(c.ca_bundle),
            instance_discovery=c.instance_discovery,
        )

    def _acquire(self) -> str:
        if self._app is None:
            try:
                self._app = self._build()
            except ValueError as exc:  # OIDC discovery failed: bad authority or tenant
                raise AuthenticationFailed("AuthorityDiscoveryFailed", str(exc)) from exc
        result = self._app.acquire_token_for_client(scopes=[self.credentials.scope])
        if "access_token" not in result:
            raise AuthenticationFailed(
                str(result.get("error", "token_error")),
                str(result.get("error_description", ""))[:300],
            )
        if result.get("token_source") != "cache":
            self.acquired += 1
        token = str(result["access_token"])
        # Refresh a little before expiry; Entra lifetimes vary (60-90 min), so read expires_in.
        lifetime = float(result.get("expires_in", 0))
        self._cached = (token, time.monotonic() + lifetime - min(300.0, lifetime / 2))
        return token

    async def token(self) -> str:
        cached = self._cached
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        async with self._lock:
            return await asyncio.to_thread(self._acquire)

    async def invalidate(self) -> None:
        async with self._lock:
            if self._app is None:
                return
            self._cached = None
            cache = self._app.token_cache
            for entry in list(cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)):
                cache.remove_at(entry)
