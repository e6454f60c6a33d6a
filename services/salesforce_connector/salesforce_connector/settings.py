"""Connector settings (`SYNCLINE_SALESFORCE_*`), validated at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from syncmodel import topics


class SalesforceSettings(BaseSettings):
    """One org per process: which tenant, how to log in, how much of the budget we may use."""

    model_config = SettingsConfigDict(env_prefix="SYNCLINE_SALESFORCE_", extra="ignore")

    tenant: str = Field(default="demo", description="Syncline tenant id of this org.")
    login_url: str = Field(
        default="https://login.salesforce.com", description="or test., or My Domain"
    )
    api_version: str = "62.0"
    client_id: str = ""
    client_secret: str = Field(default="", description="Set to use the client credentials flow.")
    username: str = Field(default="", description="Integration user (JWT `sub`).")
    private_key_pem: str = ""
    private_key_file: Path | None = None
    ca_bundle: Path | None = Field(default=None, description="Extra CA bundle (e.g. simulator).")
    budget_share: float = Field(default=0.5, gt=0, le=1, description="Max share of daily calls.")
    quota_pause_s: float = Field(
        default=3600.0, gt=0, description="Pause after the budget is spent."
    )
    poll_interval_s: float = Field(default=60.0, gt=0)
    overlap_s: float = Field(default=120.0, ge=0, description="SystemModstamp overlap window.")
    act_as_rep: bool = Field(default=False, description="Write as the rep (JWT sub), LS-13.")
    idempotency: Literal["upsert", "lookup"] = "upsert"
    marker_field: str = Field(default="Syncline_Id__c", description="External-id field we write.")
    consumer_group: str = "syncline-salesforce-connector"
    # The commands of all partitions of a poll go out together, so sObject Collections calls
    # carry up to 200 records each instead of one partition's few (issue 5, `window`).
    batch_window_s: float = Field(
        default=0.05, ge=0, description="How long commands wait for others to batch with."
    )
    batch_max: int = Field(
        default=1000, ge=1, description="Commands per poll and per batch (multiple of 200)."
    )
    parallel_calls: int = Field(
        default=4,
        ge=1,
        le=20,
        description="Write calls of one batch in flight at once (independent chunks and reps; "
        "well under the org's 25 concurrent long requests).",
    )
    roster_topic: str = topics.ROSTER
    control_topic: str = topics.CONTROL
    changes_topic: str = topics.CHANGES
    commands_topic: str = topics.COMMANDS_SALESFORCE
    timeout_s: float = 30.0

    def key_pem(self) -> str:
        if self.private_key_pem:
            return self.private_key_pem
        if self.private_key_file is not None:
            return self.private_key_file.read_text()
        return ""
