"""OAuth 2.0 JWT bearer / client credentials, session expiry, versions, limits and quota.

Docs: Salesforce Help "OAuth 2.0 JWT Bearer Flow for Server-to-Server Integration" and
"OAuth 2.0 Client Credentials Flow"; REST API Developer Guide "Versions", "Limits",
"Limit Info Header", "Status Codes and Error Responses" (protocols.md C1-C3, C11).
"""

from __future__ import annotations

import base64
import time

from tests.contract.salesforce_sim.conftest import API, Org


def test_jwt_bearer_flow_returns_session_and_instance_url(org: Org) -> None:
    """Help: JWT Bearer Flow — a signed assertion gets access_token + instance_url, no refresh."""
    body = org.login().json()
    assert body["token_type"] == "Bearer"
    assert body["instance_url"] == org.credentials["instance_url"]
    assert body["access_token"].startswith("00D")
    assert "refresh_token" not in body
    assert body["id"].endswith(org.seeded["integration_user_id"])


def test_jwt_bearer_rejects_wrong_key_audience_and_expiry(org: Org) -> None:
    """Help: JWT Bearer Flow — errors are 400 {"error":"invalid_grant","error_description"}."""
    wrong_aud = org.login(aud="https://example.com")
    assert wrong_aud.status_code == 400
    assert wrong_aud.json() == {
        "error": "invalid_grant",
        "error_description": "audience is invalid",
    }
    expired = org.login(exp=int(time.time()) - 10)
    assert expired.json()["error_description"] == "expired authorization code"
    unknown_user = org.login(sub="nobody@example.com")
    assert unknown_user.json()["error_description"] == "user hasn't approved this consumer"
    import jwt
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    claims = {
        "iss": org.credentials["client_id"],
        "sub": org.credentials["username"],
        "aud": org.credentials["login_url"],
        "exp": int(time.time()) + 60,
    }
    forged = jwt.encode(claims, other_key, algorithm="RS256")
    bad = org.http.post(
        "/services/oauth2/token",
        data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": forged},
    )
    assert bad.status_code == 400
    assert bad.json()["error"] == "invalid_grant"


def test_client_credentials_flow_with_basic_auth(org: Org) -> None:
    """Help: Client Credentials Flow — Basic client_id:client_secret; response has signature."""
    pair = f"{org.credentials['client_id']}:{org.credentials['client_secret']}".encode()
    ok = org.http.post(
        "/services/oauth2/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": "Basic " + base64.b64encode(pair).decode()},
    )
    assert ok.status_code == 200
    assert {"access_token", "signature", "instance_url", "issued_at"} <= ok.json().keys()
    wrong = org.http.post(
        "/services/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": org.credentials["client_id"],
            "client_secret": "nope",
        },
    )
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_client"


def test_expired_session_gets_401_invalid_session_id(org: Org) -> None:
    """Status Codes: 401 with errorCode INVALID_SESSION_ID and WWW-Authenticate: Token."""
    assert org.get("/limits").status_code == 200
    org.http.post("/_sim/expire-sessions")
    expired = org.get("/limits")
    assert expired.status_code == 401
    assert expired.json() == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]
    assert expired.headers["www-authenticate"] == "Token"


def test_session_timeout_setting_expires_tokens(org: Org) -> None:
    """Session Settings timeout: a token older than the timeout is refused."""
    org.http.post("/_sim/settings", json={"session_timeout_s": 0.2})
    token = org.login().json()["access_token"]
    time.sleep(0.3)
    r = org.http.get(API + "/limits", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401


def test_versions_resource_lists_versions_without_auth(org: Org) -> None:
    """REST "Versions": GET /services/data/ → [{"label","url","version"}]."""
    versions = org.http.get("/services/data/").json()
    assert {"label", "url", "version"} == versions[-1].keys()
    assert "62.0" in [v["version"] for v in versions]
    assert org.get("").status_code == 200  # /services/data/v62.0 needs a session
    assert org.http.get("/services/data/v20.0/limits", headers=org.auth).status_code == 410


def test_limit_info_header_on_every_response_counts_calls(org: Org) -> None:
    """Limit Info Header: Sforce-Limit-Info: api-usage=N/M, incremented per call."""
    first = org.get("/limits")
    second = org.query("SELECT Id FROM User")
    used1 = int(first.headers["sforce-limit-info"].split("=")[1].split("/")[0])
    assert second.headers["sforce-limit-info"] == f"api-usage={used1 + 1}/100000"
    limits = org.get("/limits").json()
    assert limits["DailyApiRequests"]["Max"] == 100000
    assert limits["DailyApiRequests"]["Remaining"] == 100000 - (used1 + 2)


def test_daily_allocation_spent_gives_403_request_limit_exceeded(org: Org) -> None:
    """Limits: over the daily allocation → 403 REQUEST_LIMIT_EXCEEDED, no Retry-After."""
    org.http.post("/_sim/quota", json={"allocation": 3, "used": 2})
    assert org.get("/limits").status_code == 200
    refused = org.get("/limits")
    assert refused.status_code == 403
    assert refused.json()[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    assert refused.json()[0]["message"] == "TotalRequests Limit exceeded."
    assert "retry-after" not in refused.headers
    assert refused.headers["sforce-limit-info"] == "api-usage=3/3"
    org.http.post("/_sim/quota", json={"allocation": 10})
    assert org.get("/limits").status_code == 200
