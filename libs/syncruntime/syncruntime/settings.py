"""Settings blocks shared by every service, read from `SYNCLINE_*` environment variables.

Each service composes the blocks it needs; values are validated at start-up so a bad setting
fails fast with a clear message instead of at the first request.
"""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class KafkaSettings(BaseSettings):
    """Where the bus is. `SYNCLINE_KAFKA_BOOTSTRAP`, `SYNCLINE_KAFKA_CLIENT_PREFIX`."""

    model_config = SettingsConfigDict(env_prefix="SYNCLINE_KAFKA_", extra="ignore")

    bootstrap: str = Field(default="127.0.0.1:9092", description="host:port[,host:port]")
    topic_partitions: int = Field(default=12, ge=1, description="Partitions of keyed topics.")
    replication_factor: int = Field(default=1, ge=1)
    request_timeout_ms: int = Field(default=30_000, ge=1_000)


class PostgresSettings(BaseSettings):
    """Where the state is. `SYNCLINE_DATABASE_URL`, `SYNCLINE_DATABASE_POOL_MAX`."""

    model_config = SettingsConfigDict(env_prefix="SYNCLINE_DATABASE_", extra="ignore")

    url: str = Field(
        default="postgresql://syncline:syncline@127.0.0.1:5432/syncline",
        validation_alias="SYNCLINE_DATABASE_URL",
    )
    pool_min: int = Field(default=1, ge=0)
    pool_max: int = Field(default=10, ge=1)

    @field_validator("url")
    @classmethod
    def _postgres_scheme(cls, value: str) -> str:
        if not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("SYNCLINE_DATABASE_URL must be a postgresql:// URL")
        return value

    @property
    def database_url(self) -> str:
        return self.url


class ServiceSettings(BaseSettings):
    """Process-level settings. `SYNCLINE_LOG_LEVEL`, `SYNCLINE_HEALTH_PORT`."""

    model_config = SettingsConfigDict(env_prefix="SYNCLINE_", extra="ignore")

    log_level: str = Field(default="INFO")
    health_host: str = Field(default="127.0.0.1")
    health_port: int | None = Field(default=None, ge=0, le=65535)
