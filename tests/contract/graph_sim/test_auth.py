"""Identity and access: protocols.md A1 (learn.microsoft.com/graph/auth-v2-service,
/entra/identity-platform/access-tokens, /graph/auth-limit-mailbox-access) and A9 (errors)."""

from __future__ import annotations

import time
from typing import Any

import httpx
from simulators.common.tls import ServerTLS

from tests.contract.graph_sim.conftest import ca_context, msal_app


def test_a1_unmodified_msal_gets_token_with_client_secret_and_instance_discovery(
    credentials: dict[str, Any], graph_tls: ServerTLS
) -> None:
    app = msal_app(
        credentials, graph_tls.ca_file, instance_discovery=credentials["instance_discovery_url"]
    )
    result = app.acquire_token_for_client(scopes=[credentials["scope"]])
    assert result["token_type"] == "Bearer"
    # Entra issues a random lifetime of 60-90 minutes; clients must read expires_in.
    assert 3600 <= result["expires_in"] <= 5400
    again = app.acquire_token_for_client(scopes=[credentials["scope"]])
    assert again["token_source"] == "cache"


def test_a1_unmodified_msal_gets_token_with_certificate_assertion(
    credentials: dict[str, Any], graph_tls: ServerTLS
) -> None:
    cert = {
        "private_key": credentials["client_private_key_pem"],
        "public_certificate": credentials["client_certificate_pem"],
    }
    result = msal_app(
        credentials, graph_tls.ca_file, client_credential=cert
    ).acquire_token_for_client(scopes=[credentials["scope"]])
    assert "access_token" in result, result


def test_a1_wrong_secret_is_invalid_client(
    credentials: dict[str, Any], graph_tls: ServerTLS
) -> None:
    result = msal_app(
        credentials, graph_tls.ca_file, client_credential="wrong"
    ).acquire_token_for_client(scopes=[credentials["scope"]])
    assert result["error"] == "invalid_client"
    assert 7000215 in result["error_codes"]


def test_a1_openid_configuration_names_token_endpoint(
    sim: httpx.Client, credentials: dict[str, Any]
) -> None:
    doc = sim.get(f"/{credentials['tenant_id']}/v2.0/.well-known/openid-configuration").json()
    assert doc["token_endpoint"] == f"{credentials['authority']}/oauth2/v2.0/token"
    assert doc["authorization_endpoint"].startswith("https://")


def test_a1_a9_expired_and_missing_token_get_invalid_authentication_token(
    sim: httpx.Client,
    graph: httpx.Client,
    credentials: dict[str, Any],
    graph_tls: ServerTLS,
    mailbox: dict[str, Any],
) -> None:
    assert (
        graph.get(f"/users/{mailbox['upn']}/contacts", headers={"Authorization": ""}).status_code
        == 401
    )
    sim.post("/_sim/config", json={"token_lifetime_s": [1, 1]})
    short = msal_app(credentials, graph_tls.ca_file).acquire_token_for_client(
        scopes=[credentials["scope"]]
    )
    assert short["expires_in"] == 1
    time.sleep(1.1)
    response = graph.get(
        f"/users/{mailbox['upn']}/contacts",
        headers={"Authorization": f"Bearer {short['access_token']}"},
    )
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "InvalidAuthenticationToken"
    assert error["innerError"]["request-id"] == response.headers["request-id"]


def test_a1_revoked_tokens_are_refused(
    sim: httpx.Client, credentials: dict[str, Any], graph_tls: ServerTLS, mailbox: dict[str, Any]
) -> None:
    fresh = msal_app(credentials, graph_tls.ca_file).acquire_token_for_client(
        scopes=[credentials["scope"]]
    )
    headers = {"Authorization": f"Bearer {fresh['access_token']}"}
    url = f"{credentials['graph_base_url']}/users/{mailbox['upn']}/contacts"
    assert httpx.get(url, headers=headers, verify=ca_context(graph_tls)).status_code == 200
    assert sim.post("/_sim/revoke-tokens").json()["revoked"] >= 1
    assert httpx.get(url, headers=headers, verify=ca_context(graph_tls)).status_code == 401


def test_a1_application_access_policy_denies_mailbox_with_error_access_denied(
    graph: httpx.Client, credentials: dict[str, Any]
) -> None:
    denied = credentials["mailboxes_denied_by_policy"][0]
    response = graph.get(f"/users/{denied}/events")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "ErrorAccessDenied"


def test_a9_unknown_mailbox_is_404(graph: httpx.Client) -> None:
    response = graph.get("/users/nobody@contoso-sim.example/contacts")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "ErrorInvalidUser"


def test_user_list_get_and_me_is_refused_for_app_only(
    graph: httpx.Client, credentials: dict[str, Any]
) -> None:
    upn = credentials["mailboxes"][0]
    listed = graph.get("/users", params={"$filter": f"userPrincipalName eq '{upn}'"}).json()[
        "value"
    ]
    assert [u["userPrincipalName"] for u in listed] == [upn]
    user = graph.get(f"/users/{upn}").json()
    assert graph.get(f"/users/{user['id']}").json()["mail"] == upn
    assert graph.get("/me").status_code == 400
