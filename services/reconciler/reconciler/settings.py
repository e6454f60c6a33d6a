"""Reconciler settings (`SYNCLINE_RECONCILER_*`)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ReconcilerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SYNCLINE_RECONCILER_", extra="ignore")

    group_id: str = Field(default="syncline-reconciler", description="Kafka consumer group.")
    batch_size: int = Field(default=500, ge=1, description="Max messages per partition batch.")
    relay_batch_size: int = Field(default=500, ge=1, description="Outbox rows per publish.")
