"""HTTP authentication as IIS does it for EWS and Autodiscover (protocols.md B2): Basic, and
NTLM (the 3-leg handshake, with the connection authenticated afterwards).

NTLM is connection-oriented: the negotiate (type 1) and authenticate (type 3) messages must
arrive on the same keep-alive TCP connection, so the handshake state is keyed by the client's
address and port. The type-3 check uses pyspnego's NTLM acceptor, which reads the account from
the file named by `NTLM_USER_FILE` (`DOMAIN:user:password`); the simulator writes that file.
"""

from __future__ import annotations

import base64
import binascii
import os
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import spnego
from fastapi import Request, Response
from spnego.exceptions import SpnegoError

from simulators.ews.store import EwsStore

_MAX_CONNECTIONS = 10_000


def _connection(request: Request) -> tuple[Any, ...]:
    client = request.scope.get("client") or ("?", 0)
    return tuple(client)


class HttpAuth:
    """Checks a request's credentials; answers the 401 challenges (both schemes offered)."""

    def __init__(self, store: EwsStore) -> None:
        self.store = store
        self._pending: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._authenticated: OrderedDict[tuple[Any, ...], bool] = OrderedDict()
        self._lock = threading.Lock()
        domain, _, user = store.username.rpartition("\\")
        directory = Path(tempfile.mkdtemp(prefix="ews-sim-ntlm-"))
        users = directory / "ntlm-users.txt"
        users.write_text(f"{domain or 'CONTOSO'}:{user}:{store.password}\n")
        users.chmod(0o600)
        os.environ["NTLM_USER_FILE"] = str(users)

    def challenge(self, token: bytes | None = None) -> Response:
        response = Response(status_code=401, content=b"")
        if token is not None:
            response.headers.append("WWW-Authenticate", "NTLM " + base64.b64encode(token).decode())
        else:
            response.headers.append("WWW-Authenticate", "NTLM")
            response.headers.append("WWW-Authenticate", "Negotiate")
            response.headers.append("WWW-Authenticate", 'Basic realm="ews-sim"')
        return response

    def check(self, request: Request) -> Response | None:
        """None when the request may proceed, else the 401 to send."""
        header = request.headers.get("authorization") or ""
        scheme, _, value = header.partition(" ")
        connection = _connection(request)
        if scheme.lower() == "basic":
            return None if self._basic(value) else self.challenge()
        if scheme.lower() in ("ntlm", "negotiate"):
            return self._ntlm(connection, value.strip())
        with self._lock:
            if connection in self._authenticated:  # IIS keeps NTLM auth per connection
                return None
        return self.challenge()

    def _basic(self, value: str) -> bool:
        try:
            user, _, password = base64.b64decode(value).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        names = {self.store.username.lower(), self.store.username.split("\\")[-1].lower()}
        return user.lower() in names and password == self.store.password

    def _ntlm(self, connection: tuple[Any, ...], value: str) -> Response | None:
        try:
            token = base64.b64decode(value)
        except binascii.Error:
            return self.challenge()
        kind = int.from_bytes(token[8:12], "little") if token.startswith(b"NTLMSSP\0") else 0
        with self._lock:
            self._authenticated.pop(connection, None)
            if kind == 1:
                context = spnego.server(protocol="ntlm")
                try:
                    answer = context.step(token)
                except SpnegoError:
                    return self.challenge()
                self._pending[connection] = context
                while len(self._pending) > _MAX_CONNECTIONS:
                    self._pending.popitem(last=False)
                return self.challenge(answer)
            context = self._pending.pop(connection, None)
            if kind != 3 or context is None:
                return self.challenge()
            try:
                context.step(token)
            except SpnegoError:
                return self.challenge()
            if not context.complete:
                return self.challenge()
            self._authenticated[connection] = True
            while len(self._authenticated) > _MAX_CONNECTIONS:
                self._authenticated.popitem(last=False)
        return None
