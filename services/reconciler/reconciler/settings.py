"""Reconciler settings (`SYNCLINE_RECONCILER_*`)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ReconcilerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SYNCLINE_RECONCILER_", extra="ignore")

    group_id: str = Field(default="syncline-reconciler", description="Kafka consumer group.")
    batch_size: int = Field(
        default=2000,
        ge=1,
        description="Max messages per poll, split into one transaction per partition. Larger "
        "polls mean fewer round trips per change: 2,000 reconciled ~20% more changes per second "
        "than 500 in bench/reconciler.py; under light load polls are small anyway.",
    )
    relay_batch_size: int = Field(
        default=2000,
        ge=1,
        description="Outbox rows per publish (one transaction and one wait for the acks). The "
        "relay shares its process with the batches it publishes for: under load, 500 took 21 "
        "rounds for 10,600 commands and left up to 3,700 behind when the last batch committed.",
    )
    outbox_retention_hours: float = Field(
        default=168.0,
        gt=0,
        description="How long sent outbox messages are kept before the relay prunes them (an "
        "append of a message id seen in that window stays a no-op).",
    )
