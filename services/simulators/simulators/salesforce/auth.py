"""The connected app and its sessions: `/services/oauth2/token` (protocols.md C2).

JWT bearer: an RS256 assertion with `iss` = consumer key, `sub` = an active user's username,
`aud` = the login URL, `exp` at most 3 minutes ahead, verified against the certificate
registered on the connected app. Client credentials: consumer key + secret (Basic or form),
running as the app's "Run As" user. Sessions expire after the org's session timeout; an
expired or unknown token gets 401 `INVALID_SESSION_ID` with `WWW-Authenticate: Token`.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from simulators.salesforce.errors import ApiError
from simulators.salesforce.schema import ORG_ID
from simulators.salesforce.store import Store

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
PUBLIC_AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com")
_MAX_ASSERTION_LIFETIME_S = 180


class OAuthError(Exception):
    """A token endpoint error: 400 `{"error","error_description"}`."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


def _development_key() -> tuple[str, str]:
    """A fresh RSA key and a self-signed certificate: what an admin uploads to the app."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Syncline development key")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return key_pem, cert.public_bytes(serialization.Encoding.PEM).decode()


@dataclass
class Session:
    user_id: str
    expires_at: float


@dataclass
class ConnectedApp:
    client_id: str = field(default_factory=lambda: "3MVG9" + secrets.token_urlsafe(60)[:80])
    client_secret: str = field(default_factory=lambda: secrets.token_hex(32))
    private_key_pem: str = ""
    certificate_pem: str = ""
    run_as_username: str = "integration@syncline-demo.example.com"

    def __post_init__(self) -> None:
        if not self.certificate_pem:
            self.private_key_pem, self.certificate_pem = _development_key()


@dataclass
class Sessions:
    store: Store
    app: ConnectedApp = field(default_factory=ConnectedApp)
    by_token: dict[str, Session] = field(default_factory=dict)
    _signing_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    def _user_by_username(self, username: str) -> dict[str, Any] | None:
        for user in self.store.rows("User"):
            if str(user["Username"]).lower() == username.lower():
                return user
        return None

    def token_response(self, form: dict[str, str], authorization: str | None, base_url: str) -> Any:
        grant = form.get("grant_type", "")
        if grant == JWT_GRANT:
            username = self._verify_assertion(form.get("assertion", ""), base_url)
        elif grant == "client_credentials":
            self._verify_client_secret(form, authorization)
            username = self.app.run_as_username
        else:
            raise OAuthError("unsupported_grant_type", "grant type not supported")
        user = self._user_by_username(username)
        if user is None or not user["IsActive"]:
            raise OAuthError("invalid_grant", "user hasn't approved this consumer")
        return self._open_session(user["Id"], base_url, grant == "client_credentials")

    def _verify_assertion(self, assertion: str, base_url: str) -> str:
        try:
            claims = jwt.decode(
                assertion,
                self._public_key(),
                algorithms=["RS256"],
                options={"require": ["iss", "sub", "aud", "exp"], "verify_aud": False},
            )
        except jwt.ExpiredSignatureError as exc:
            raise OAuthError("invalid_grant", "expired authorization code") from exc
        except jwt.PyJWTError as exc:
            raise OAuthError("invalid_grant", "invalid assertion") from exc
        if claims["iss"] != self.app.client_id:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        allowed = {base_url.rstrip("/"), *PUBLIC_AUDIENCES}
        if not any(str(a).rstrip("/") in allowed for a in audiences):
            raise OAuthError("invalid_grant", "audience is invalid")
        if float(claims["exp"]) > time.time() + _MAX_ASSERTION_LIFETIME_S + 5:
            raise OAuthError("invalid_grant", "invalid assertion")
        return str(claims["sub"])

    def _public_key(self) -> Any:
        cert = x509.load_pem_x509_certificate(self.app.certificate_pem.encode())
        return cert.public_key()

    def _verify_client_secret(self, form: dict[str, str], authorization: str | None) -> None:
        client_id, secret = form.get("client_id"), form.get("client_secret")
        if authorization and authorization.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(authorization[6:]).decode()
            except (binascii.Error, UnicodeDecodeError) as exc:
                raise OAuthError("invalid_client", "invalid client credentials") from exc
            client_id, _, secret = decoded.partition(":")
        if client_id != self.app.client_id:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        if not secret or not hmac.compare_digest(secret, self.app.client_secret):
            raise OAuthError("invalid_client", "invalid client credentials")

    def _open_session(self, user_id: str, base_url: str, with_signature: bool) -> dict[str, Any]:
        token = f"{ORG_ID[:15]}!AQ{secrets.token_urlsafe(72)}"
        self.by_token[token] = Session(
            user_id, time.monotonic() + self.store.settings.session_timeout_s
        )
        issued_at = str(int(time.time() * 1000))
        base = base_url.rstrip("/")
        body: dict[str, Any] = {
            "access_token": token,
            "scope": "api",
            "instance_url": base,
            "id": f"{base}/id/{ORG_ID}/{user_id}",
            "token_type": "Bearer",
            "issued_at": issued_at,
        }
        if with_signature:
            digest = hmac.new(
                self._signing_key, (body["id"] + issued_at).encode(), hashlib.sha256
            ).digest()
            body["signature"] = base64.b64encode(digest).decode()
        return body

    def authenticate(self, authorization: str | None) -> Session:
        token = ""
        if authorization and authorization.lower().startswith(("bearer ", "oauth ")):
            token = authorization.split(" ", 1)[1].strip()
        session = self.by_token.get(token)
        if session is None or session.expires_at <= time.monotonic():
            self.by_token.pop(token, None)
            raise ApiError(
                401,
                "INVALID_SESSION_ID",
                "Session expired or invalid",
                headers={"WWW-Authenticate": "Token"},
            )
        return session

    def expire_all(self) -> int:
        count = len(self.by_token)
        self.by_token.clear()
        return count
