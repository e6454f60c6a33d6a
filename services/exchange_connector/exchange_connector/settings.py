"""The Exchange connector's settings (`SYNCLINE_EXCHANGE_*`), validated at start-up."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from exchange_connector.auth import GRAPH_SCOPE, AppCredentials


class ExchangeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SYNCLINE_EXCHANGE_", extra="ignore")

    tenant: str = Field(description="The Syncline tenant this deployment serves.")
    authority: str = Field(description="https://login.microsoftonline.com/<directory tenant id>")
    client_id: str
    client_secret: SecretStr | None = None
    certificate_file: Path | None = Field(default=None, description="PEM certificate")
    certificate_key_file: Path | None = Field(default=None, description="PEM private key")
    graph_base_url: str = "https://graph.microsoft.com/v1.0"
    scope: str = GRAPH_SCOPE
    ca_bundle: Path | None = Field(default=None, description="Extra CA (the simulator's).")
    instance_discovery: bool = True
    group_id: str = "syncline-exchange-connector"
    poll_min_s: float = Field(default=15.0, gt=0, description="Polling interval when active.")
    poll_max_s: float = Field(default=300.0, gt=0, description="Backed-off interval when idle.")
    window_past_days: int = Field(default=30, ge=0)
    window_future_days: int = Field(default=365, ge=1)
    max_parallel_mailboxes: int = Field(
        default=32,
        ge=1,
        description="Mailbox passes in flight at once: mailboxes / poll_min_s * a pass's "
        "duration (about 2 calls) must fit, e.g. 500 mailboxes at 15 s and 0.5 s per call: 33.",
    )
    notification_url: str | None = Field(
        default=None, description="Public https URL of this replica's receiver; enables webhooks."
    )
    notification_host: str = "0.0.0.0"
    notification_port: int = Field(default=8089, ge=1, le=65535)
    client_state: SecretStr | None = Field(
        default=None, description="clientState secret for subscriptions (random if unset)."
    )

    @model_validator(mode="after")
    def _one_credential(self) -> ExchangeSettings:
        has_cert = self.certificate_file is not None and self.certificate_key_file is not None
        if self.client_secret is None and not has_cert:
            raise ValueError("set SYNCLINE_EXCHANGE_CLIENT_SECRET or the certificate file pair")
        if not self.authority.startswith("https://"):
            raise ValueError("the authority must be an https URL (MSAL refuses others)")
        return self

    def credentials(self) -> AppCredentials:
        return AppCredentials(
            authority=self.authority,
            client_id=self.client_id,
            client_secret=self.client_secret.get_secret_value() if self.client_secret else None,
            certificate_pem=self.certificate_file.read_text() if self.certificate_file else None,
            certificate_key_pem=(
                self.certificate_key_file.read_text() if self.certificate_key_file else None
            ),
            ca_bundle=self.ca_bundle,
            instance_discovery=self.instance_discovery,
            scope=self.scope,
        )
