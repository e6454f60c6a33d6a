"""Settings of the EWS connection method (`SYNCLINE_EXCHANGE_METHOD=service_account_ews`).

| variable | meaning |
|---|---|
| `SYNCLINE_EXCHANGE_METHOD` | `oauth2_graph` (default), `service_account_ews` or `hybrid` |
| `SYNCLINE_EXCHANGE_EWS_DOMAINS` | hybrid: email domains served on premises (comma-separated) |
| `SYNCLINE_EXCHANGE_EWS_URL` | the EWS endpoint; when unset, Autodiscover finds it per mailbox |
| `SYNCLINE_EXCHANGE_EWS_AUTODISCOVER_URL` | POX Autodiscover URL (else from the email domain) |
| `SYNCLINE_EXCHANGE_EWS_USERNAME` / `_EWS_PASSWORD` | the service account (LS-63), `DOMAIN\\user` |
| `SYNCLINE_EXCHANGE_EWS_AUTH` | `basic` (default) or `ntlm` (LS-61) |
| `SYNCLINE_EXCHANGE_CA_BUNDLE` | extra CA for an on-premises certificate (LS-62) |
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Literal

from ewsclient.client import EwsClient
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConnectionMethod(StrEnum):
    OAUTH2_GRAPH = "oauth2_graph"
    SERVICE_ACCOUNT_EWS = "service_account_ews"
    HYBRID = "hybrid"
    """Both: mailboxes in `SYNCLINE_EXCHANGE_EWS_DOMAINS` over EWS, the rest over Graph."""


class MethodSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SYNCLINE_EXCHANGE_", extra="ignore")

    method: ConnectionMethod = ConnectionMethod.OAUTH2_GRAPH
    ews_domains: str = ""


class EwsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SYNCLINE_EXCHANGE_", extra="ignore")

    tenant: str = Field(description="The Syncline tenant this deployment serves.")
    method: ConnectionMethod = ConnectionMethod.SERVICE_ACCOUNT_EWS
    ews_url: str | None = None
    ews_autodiscover_url: str | None = None
    ews_username: str
    ews_password: SecretStr
    ews_auth: Literal["basic", "ntlm"] = "basic"
    ca_bundle: Path | None = Field(default=None, description="Extra CA (on-premises or simulator).")
    group_id: str = "syncline-exchange-connector"
    poll_min_s: float = Field(default=15.0, gt=0)
    poll_max_s: float = Field(default=300.0, gt=0)
    max_parallel_mailboxes: int = Field(default=16, ge=1)

    @model_validator(mode="after")
    def _tls_only(self) -> EwsSettings:
        for url in (self.ews_url, self.ews_autodiscover_url):
            if url is not None and not url.startswith("https://"):
                # Basic credentials never travel in clear text (LS-61: TLS 1.2+).
                raise ValueError("EWS and Autodiscover URLs must be https")
        return self

    def client(self) -> EwsClient:
        return EwsClient(
            self.ews_username,
            self.ews_password.get_secret_value(),
            ews_url=self.ews_url,
            autodiscover_url=self.ews_autodiscover_url,
            ca_bundle=self.ca_bundle,
            auth=self.ews_auth,
        )
