"""Sync settings of a configuration, and which configuration applies to a user (LS-50..LS-56).

A `Configuration` is the admin's named, assignable bundle of `SyncSettings`; an `Assignment`
ties it to a user or a profile. `effective_configuration` resolves the one that applies:
an individual assignment beats a profile assignment, only active configurations count, and a
user has at most one individual assignment (LS-53).
"""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from syncmodel import Direction, Kind

DEFAULT_EXCLUSION_CATEGORY = "Don't sync with Salesforce"
DEFAULT_SELECTION_CATEGORY = "Salesforce"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ConflictPolicy(StrEnum):
    """Who wins a field changed on both sides since the last sync (after field-level merge)."""

    SALESFORCE_WINS = "salesforce_wins"
    EXCHANGE_WINS = "exchange_wins"
    LATEST_WINS = "latest_wins"


class EventSelection(StrEnum):
    """LS-32: every event of the default calendar, or only the ones the rep selects."""

    ALL = "all"
    SELECTED = "selected"


class SyncSettings(_Frozen):
    """Everything one configuration says about how a user syncs (LS-10, LS-52)."""

    contacts: Direction = Direction.BOTH
    contact_filter: Literal["my_records", "all_accessible"] = "my_records"
    events: Direction = Direction.BOTH
    event_selection: EventSelection = EventSelection.ALL
    selection_category: str = DEFAULT_SELECTION_CATEGORY
    sync_private_events: bool = False
    remove_deleted_events: bool = True
    auto_relate: bool = True
    sync_series: bool = True
    push_existing_salesforce_events: bool = Field(
        default=False,
        description="LS-31/LS-76: Salesforce events that existed before sync started go to "
        "Exchange only once they are edited (matching Exchange events are linked at once). "
        "True pushes all of them on the initial sync.",
    )
    conflict_policy: ConflictPolicy = ConflictPolicy.LATEST_WINS
    exclusion_category: str = DEFAULT_EXCLUSION_CATEGORY
    field_remapping: dict[Kind, dict[str, str | None]] = Field(
        default_factory=dict,
        description="Per kind: Salesforce field -> Exchange field (None = don't sync it). "
        "Only customizable fields may appear (matching fields stay fixed, LS-29/LS-41).",
    )
    mass_delete_share: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="Share of a user's linked records deleted by one side within the shell's "
        "window above which deletes are held as suspected logical deletes.",
    )
    mass_delete_min_count: int = Field(
        default=10, ge=1, description="Below this many recent deletes the guard never trips."
    )
    max_attempts: int = Field(default=5, ge=1, description="Transient failures retried up to.")
    retry_base_s: float = Field(default=30.0, gt=0, description="Back-off base, doubled per try.")

    @field_validator("field_remapping")
    @classmethod
    def _only_customizable_fields(
        cls, value: dict[Kind, dict[str, str | None]]
    ) -> dict[Kind, dict[str, str | None]]:
        # Imported here: fields.py imports nothing from settings, but keep the dependency local.
        from reconcile.fields import check_remapping

        for kind, remapping in value.items():
            check_remapping(kind, remapping)
        return value

    def direction(self, kind: Kind) -> Direction:
        if kind is Kind.CONTACT:
            return self.contacts
        if kind is Kind.EVENT:
            return self.events
        return Direction.NONE

    def digest(self) -> str:
        """A short stable digest, published on the roster so connectors notice changes."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]


class Configuration(_Frozen):
    """A named Lightning Sync configuration (LS-52)."""

    id: str
    name: str
    active: bool = True
    settings: SyncSettings = Field(default_factory=SyncSettings)


class Assignment(_Frozen):
    """One configuration assigned to one user or to every user of one profile (LS-53)."""

    configuration_id: str
    user_id: str | None = None
    profile_id: str | None = None

    @model_validator(mode="after")
    def _exactly_one_target(self) -> Assignment:
        if (self.user_id is None) == (self.profile_id is None):
            raise ValueError("an assignment names exactly one of user_id or profile_id")
        return self


class ConfigurationReason(StrEnum):
    """Why a user has (or lacks) an effective configuration; shown by the status API."""

    INDIVIDUAL_ASSIGNMENT = "individual_assignment"
    PROFILE_ASSIGNMENT = "profile_assignment"
    NOT_ASSIGNED = "not_assigned"
    ONLY_INACTIVE_ASSIGNED = "only_inactive_assigned"
    SEVERAL_INDIVIDUAL_ASSIGNMENTS = "several_individual_assignments"
    SEVERAL_PROFILE_CONFIGURATIONS = "several_profile_configurations"


def effective_configuration(
    user_id: str,
    profile_id: str | None,
    configurations: dict[str, Configuration] | list[Configuration],
    assignments: list[Assignment],
) -> tuple[Configuration | None, ConfigurationReason]:
    """The configuration a user syncs under, and why (LS-53).

    Individual assignments beat profile ones. Only active configurations count, so an inactive
    individual assignment falls back to an active profile one (the SFO analogue in LS-53).
    Two individual assignments are a data error (the admin UI moves the user instead), and two
    active profile configurations are ambiguous: both are reported, neither is guessed.
    """
    by_id = (
        configurations
        if isinstance(configurations, dict)
        else {configuration.id: configuration for configuration in configurations}
    )
    individual = [a for a in assignments if a.user_id == user_id]
    if len(individual) > 1:
        return None, ConfigurationReason.SEVERAL_INDIVIDUAL_ASSIGNMENTS
    saw_inactive = False
    for assignment in individual:
        configuration = by_id.get(assignment.configuration_id)
        if configuration is not None and configuration.active:
            return configuration, ConfigurationReason.INDIVIDUAL_ASSIGNMENT
        saw_inactive = saw_inactive or configuration is not None
    profile_ids = {
        a.configuration_id
        for a in assignments
        if profile_id is not None and a.profile_id == profile_id
    }
    active = sorted(
        (by_id[cid] for cid in profile_ids if cid in by_id and by_id[cid].active),
        key=lambda configuration: configuration.id,
    )
    saw_inactive = saw_inactive or any(cid in by_id for cid in profile_ids)
    if len(active) > 1:
        return None, ConfigurationReason.SEVERAL_PROFILE_CONFIGURATIONS
    if active:
        return active[0], ConfigurationReason.PROFILE_ASSIGNMENT
    if saw_inactive:
        return None, ConfigurationReason.ONLY_INACTIVE_ASSIGNED
    return None, ConfigurationReason.NOT_ASSIGNED
