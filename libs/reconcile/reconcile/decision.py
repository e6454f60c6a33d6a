"""What `decide` returns, and what the shell hands it besides the link and the message.

`Reason` is the stable vocabulary of "why did this (not) sync": the status API documents and
shows these values, so they are only ever added, never renamed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from enum import StrEnum

from pydantic import Field
from syncmodel import Command, Kind, Side, SyncError

from reconcile.fields import TruncationNote
from reconcile.frozen import Frozen
from reconcile.link import Link
from reconcile.match import Candidate
from reconcile.normalize import JsonValue


class Outcome(StrEnum):
    APPLY = "apply"
    """Something happened: commands were issued or a link was made, changed or closed."""
    NOOP = "noop"
    """Nothing to do beyond bookkeeping (echo, replay, out of scope...)."""
    PARK = "park"
    """Held for a human: suspected logical delete."""
    ERROR = "error"
    """A per-record error was recorded (see `Decision.errors`)."""


class Reason(StrEnum):
    # no-ops
    ECHO_OF_OWN_WRITE = "echo_of_own_write"
    REPLAYED_CHANGE = "replayed_change"
    UNCHANGED_FINGERPRINT = "unchanged_fingerprint"
    NO_SYNCED_FIELD_CHANGED = "no_synced_field_changed"
    TARGET_EDIT_KEPT = "target_edit_kept"
    WRITE_IN_FLIGHT = "write_in_flight"
    STALE_OUTCOME = "stale_outcome"
    UNKNOWN_RECORD = "unknown_record"
    NOT_A_SYNCED_KIND = "not_a_synced_kind"
    # scope rules
    DIRECTION_DISALLOWS = "direction_disallows"
    OUTSIDE_CONTACT_FILTER = "outside_contact_filter"
    PRIVATE_NOT_SYNCED = "private_not_synced"
    EXCLUDED_CATEGORY = "excluded_category"
    NOT_SELECTED = "not_selected"
    SERIES_NOT_SYNCED = "series_not_synced"
    CLASSIC_RECURRENCE_UNSUPPORTED = "classic_recurrence_unsupported"
    EXISTING_SALESFORCE_EVENT_UNTOUCHED = "existing_salesforce_event_untouched"
    ORGANIZER_NOT_SYNCING = "organizer_not_syncing"
    ATTENDEE_EDIT_NOT_SYNCED = "attendee_edit_not_synced"
    # deletes
    CONTACT_DELETE_NOT_PROPAGATED = "contact_delete_not_propagated"
    EVENT_DELETE_NOT_PROPAGATED = "event_delete_not_propagated"
    TOMBSTONED = "tombstoned"
    MASS_DELETE_GUARD = "mass_delete_guard"
    RESTORED_AFTER_HOLD = "restored_after_hold"
    # effects
    MATCHED_EXISTING = "matched_existing"
    AMBIGUOUS_MATCH = "ambiguous_match"
    CREATED = "created"
    RECREATED_AFTER_CHANGE = "recreated_after_change"
    UPDATED = "updated"
    DELETED = "deleted"
    CONFLICT_RESOLVED_SALESFORCE_WINS = "conflict_resolved_salesforce_wins"
    CONFLICT_RESOLVED_EXCHANGE_WINS = "conflict_resolved_exchange_wins"
    CONFLICT_RESOLVED_LATEST_WINS = "conflict_resolved_latest_wins"
    TARGET_ONLY_DATA_OVERWRITTEN = "target_only_data_overwritten"
    # command outcomes
    APPLIED = "applied"
    CONFLICT_RETRIED = "conflict_retried"
    CONFLICT_AWAITING_FRESH_STATE = "conflict_awaiting_fresh_state"
    RETRY_SCHEDULED = "retry_scheduled"
    WRITE_FAILED = "write_failed"
    MAPPING_FAILED = "mapping_failed"


class AuditEntry(Frozen):
    """One overwrite or conflict decision, for the audit log (LS-73, LS-75)."""

    link_id: str
    kind: Kind
    side: Side
    """The side whose value was overwritten."""
    field: str
    old_value: JsonValue = None
    new_value: JsonValue = None
    reason: Reason
    ts: dt.datetime


class RecordError(Frozen):
    """A per-record error for the error report (LS-82)."""

    link_id: str | None
    kind: Kind
    side: Side
    record_id: str | None
    error: SyncError


class UserContext(Frozen):
    """Counts only the shell can know, for the mass-delete guard (vdirsyncer's StorageEmpty).

    `linked_records`: this user's live links of the change's kind; `recent_deletes`: deletes
    from the same side already seen in the shell's window (not counting this one).
    """

    linked_records: int = 0
    recent_deletes: int = 0
    deletes_confirmed: bool = False


class RelateDirectory(Frozen):
    """Salesforce contacts and leads by lower-case e-mail, for auto-relate (LS-45..48)."""

    contacts: Mapping[str, tuple[str, ...]] = Field(default_factory=dict)
    leads: Mapping[str, tuple[str, ...]] = Field(default_factory=dict)


class DecideContext(Frozen):
    """Extra inputs the shell loads for some decisions; all optional."""

    candidates: tuple[Candidate, ...] = ()
    user_context: UserContext | None = None
    directory: RelateDirectory | None = None
    user_email: str | None = None
    syncing_since: dt.datetime | None = None
    """When the user started syncing: a Salesforce event last changed before that predates
    sync (LS-31). None: unknown (then every snapshot record counts as predating sync)."""


class Decision(Frozen):
    outcome: Outcome
    reason: Reason
    commands: tuple[Command, ...] = ()
    next_link: Link | None = None
    audit: tuple[AuditEntry, ...] = ()
    errors: tuple[RecordError, ...] = ()
    truncations: tuple[TruncationNote, ...] = ()
    unresolved_attendees: tuple[str, ...] = ()
    """Attendee e-mails auto-relate could not resolve (LS-46 Unresolved Items)."""
    unrelated_attendees: tuple[str, ...] = ()
    """Resolved attendees beyond Salesforce's relation limit: kept in Exchange only (LS-38)."""
    retry_after_s: float | None = None
