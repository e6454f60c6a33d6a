"""Selecting the connection method and validating the EWS settings (SYNCLINE_EXCHANGE_*)."""

from __future__ import annotations

import pytest
from ewsclient.ntlm import NtlmAuth
from exchange_connector.ews.settings import ConnectionMethod, EwsSettings, MethodSettings
from pydantic import ValidationError


def test_graph_is_the_default_method(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SYNCLINE_EXCHANGE_METHOD", raising=False)
    assert MethodSettings().method is ConnectionMethod.OAUTH2_GRAPH
    monkeypatch.setenv("SYNCLINE_EXCHANGE_METHOD", "service_account_ews")
    assert MethodSettings().method is ConnectionMethod.SERVICE_ACCOUNT_EWS


async def test_ews_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCLINE_EXCHANGE_TENANT", "acme")
    monkeypatch.setenv("SYNCLINE_EXCHANGE_EWS_URL", "https://mail.acme.example/EWS/Exchange.asmx")
    monkeypatch.setenv("SYNCLINE_EXCHANGE_EWS_USERNAME", "ACME\\svc-syncline")
    monkeypatch.setenv("SYNCLINE_EXCHANGE_EWS_PASSWORD", "s3cret")
    monkeypatch.setenv("SYNCLINE_EXCHANGE_EWS_AUTH", "ntlm")
    settings = EwsSettings()
    assert "s3cret" not in repr(settings)  # a SecretStr never reaches logs
    client = settings.client()
    try:
        assert client.ews_url == "https://mail.acme.example/EWS/Exchange.asmx"
        assert isinstance(client.http.auth, NtlmAuth)
    finally:
        await client.aclose()


def test_basic_credentials_never_travel_over_plain_http(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCLINE_EXCHANGE_TENANT", "acme")
    monkeypatch.setenv("SYNCLINE_EXCHANGE_EWS_URL", "http://mail.acme.example/EWS/Exchange.asmx")
    monkeypatch.setenv("SYNCLINE_EXCHANGE_EWS_USERNAME", "svc")
    monkeypatch.setenv("SYNCLINE_EXCHANGE_EWS_PASSWORD", "x")
    with pytest.raises(ValidationError, match="https"):
        EwsSettings()
