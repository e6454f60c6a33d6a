"""Settings of the status API, read from `SYNCLINE_*` environment variables at start-up."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class StatusApiSettings(BaseSettings):
    """`SYNCLINE_ENCRYPTION_KEYS`, `SYNCLINE_OIDC_*`, `SYNCLINE_CA_BUNDLE`, `SYNCLINE_API_*`."""

    model_config = SettingsConfigDict(env_prefix="SYNCLINE_", extra="ignore")

    encryption_keys: str = Field(
        default="",
        description="Comma-separated Fernet keys. The first encrypts, all decrypt (rotation).",
    )
    oidc_issuer: str | None = Field(default=None, description="Enables OIDC bearer tokens.")
    oidc_audience: str | None = None
    oidc_jwks_url: str | None = None
    oidc_tenant_claim: str = Field(
        default="syncline_tenant", description="Claim naming the Syncline tenant of the caller."
    )
    oidc_admin_role: str = "Syncline.Admin"
    oidc_read_role: str = "Syncline.Read"
    ca_bundle: str | None = Field(
        default=None, description="PEM bundle trusted by the connection test (default: system)."
    )
    api_max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    connection_test_timeout_s: float = Field(default=15.0, gt=0)
