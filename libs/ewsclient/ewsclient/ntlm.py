"""NTLM for httpx (protocols.md B2): the 3-leg handshake through pyspnego, as an `httpx.Auth`.

NTLM authenticates a TCP connection, so the type-3 message must travel on the connection that
received the type-2 challenge. httpx cannot pin a connection for an auth flow, so the client
gives each NTLM request a single-connection httpx client of its own (a "lane", client.py); a
refused type-3 leg (e.g. the server closed the connection in between) retries the handshake.
"""

from __future__ import annotations

import base64
from collections.abc import Generator

import httpx
import spnego


def _challenge(response: httpx.Response) -> bytes | None:
    for value in response.headers.get_list("www-authenticate"):
        scheme, _, token = value.partition(" ")
        if scheme.lower() == "ntlm" and token.strip():
            return base64.b64decode(token.strip())
    return None


class NtlmAuth(httpx.Auth):
    """One lane's NTLM: after a handshake the lane's connection stays authenticated (IIS keeps
    NTLM auth per connection), so later requests go without a header until a 401 says the
    connection was replaced; only then is the handshake repeated."""

    requires_response_body = True  # read the 401 so its connection goes back to the pool

    def __init__(self, username: str, password: str, attempts: int = 3) -> None:
        self.username = username
        self.password = password
        self.attempts = attempts
        self.authenticated = False

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self.authenticated:
            response = yield request
            if response.status_code != 401:
                return
            self.authenticated = False
        for _ in range(self.attempts):
            context = spnego.client(self.username, self.password, protocol="ntlm")
            negotiate = context.step() or b""
            request.headers["Authorization"] = "NTLM " + base64.b64encode(negotiate).decode()
            response = yield request
            challenge = _challenge(response) if response.status_code == 401 else None
            if challenge is None:
                return  # not NTLM, or no challenge: the caller classifies the answer
            authenticate = context.step(challenge) or b""
            request.headers["Authorization"] = "NTLM " + base64.b64encode(authenticate).decode()
            response = yield request
            if response.status_code != 401:
                self.authenticated = True
                return
