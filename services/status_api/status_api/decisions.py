"""Why a record did (or did not) sync: the reconciler's `Reason` values, each explained.

The reconciler records `reconcile.decision.Reason` in `links.last_reason`; record explain shows
the value with the sentence below. `DecisionReason` mirrors `Reason` so the OpenAPI schema can
document every value; a unit test keeps the two in step.
"""

from __future__ import annotations

from status_api.catalog import DocumentedEnum, Entry, document, entry


class DecisionReason(DocumentedEnum):
    """The reconciler's last decision about a record, and why."""

    ECHO_OF_OWN_WRITE = "echo_of_own_write"
    REPLAYED_CHANGE = "replayed_change"
    UNCHANGED_FINGERPRINT = "unchanged_fingerprint"
    NO_SYNCED_FIELD_CHANGED = "no_synced_field_changed"
    TARGET_EDIT_KEPT = "target_edit_kept"
    WRITE_IN_FLIGHT = "write_in_flight"
    STALE_OUTCOME = "stale_outcome"
    UNKNOWN_RECORD = "unknown_record"
    NOT_A_SYNCED_KIND = "not_a_synced_kind"
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
    CONTACT_DELETE_NOT_PROPAGATED = "contact_delete_not_propagated"
    EVENT_DELETE_NOT_PROPAGATED = "event_delete_not_propagated"
    TOMBSTONED = "tombstoned"
    MASS_DELETE_GUARD = "mass_delete_guard"
    RESTORED_AFTER_HOLD = "restored_after_hold"
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
    APPLIED = "applied"
    CONFLICT_RETRIED = "conflict_retried"
    CONFLICT_AWAITING_FRESH_STATE = "conflict_awaiting_fresh_state"
    RETRY_SCHEDULED = "retry_scheduled"
    WRITE_FAILED = "write_failed"
    MAPPING_FAILED = "mapping_failed"


_CONFIG = "Change the user's configuration if this should sync."

document(
    DecisionReason,
    {
        "echo_of_own_write": Entry("Skipped: this change is Syncline's own write coming back."),
        "replayed_change": Entry("Skipped: this change was already applied (a replay)."),
        "unchanged_fingerprint": Entry("Skipped: the version changed but the content did not."),
        "no_synced_field_changed": Entry("Skipped: only fields Syncline does not sync changed."),
        "target_edit_kept": Entry(
            "The edit on the target side was kept (one-way sync: it lasts until the source "
            "changes again, LS-73)."
        ),
        "write_in_flight": Entry("Waiting: a write for this record is still in flight."),
        "stale_outcome": Entry("Ignored: the result of an older write arrived late."),
        "unknown_record": Entry("Ignored: a change for a record Syncline has no link for."),
        "not_a_synced_kind": Entry("Ignored: this kind of record does not sync."),
        "direction_disallows": Entry(
            "Skipped: the configuration does not sync this object in this direction.", _CONFIG
        ),
        "outside_contact_filter": Entry(
            "Skipped: the contact is outside the configuration's contact filter.", _CONFIG
        ),
        "private_not_synced": Entry(
            "Skipped: the event is private and the configuration does not sync private events.",
            _CONFIG,
        ),
        "excluded_category": Entry(
            'Skipped: the item carries the exclusion category ("Don\'t sync with Salesforce").',
            "Remove the category in Outlook to sync it.",
        ),
        "not_selected": Entry(
            "Skipped: the configuration syncs only selected events and this one is not selected.",
            "Add the selection category in Outlook, or sync all events.",
        ),
        "series_not_synced": Entry("Skipped: recurring series do not sync in this configuration."),
        "classic_recurrence_unsupported": Entry(
            "Skipped: a classic Salesforce recurring event cannot be synced (LS-35).",
            "Recreate it as a Lightning event series.",
        ),
        "existing_salesforce_event_untouched": Entry(
            "Waiting: this Salesforce event predates sync; it goes to Exchange once it is edited "
            "(LS-31), or at once if a matching Exchange event turns up.",
            "Edit the event in Salesforce, or enable push_existing_salesforce_events.",
        ),
        "organizer_not_syncing": Entry(
            "Skipped: the organizer does not sync; the attendee copy follows the organizer."
        ),
        "attendee_edit_not_synced": Entry(
            "Skipped: attendees' edits of a meeting do not sync back (LS-39)."
        ),
        "contact_delete_not_propagated": Entry(
            "The contact was deleted on one side; by design the delete is not propagated."
        ),
        "event_delete_not_propagated": Entry(
            "The event was deleted on one side; 'remove deleted events' is off.", _CONFIG
        ),
        "tombstoned": Entry("The link is closed after a delete; the record is not recreated."),
        "mass_delete_guard": Entry(
            "Held: many records vanished at once, which looks like a logical delete.",
            "Check the mailbox/org; confirm or restore, then reset the user if needed.",
        ),
        "restored_after_hold": Entry("Restored after a held mass delete was released."),
        "matched_existing": Entry("Linked to an existing record (LS-71/72 matching)."),
        "ambiguous_match": Entry(
            "Not linked: several records match equally well.",
            "Remove the duplicate, then reset the user's sync for this object.",
        ),
        "created": Entry("Synced: created on the other side."),
        "recreated_after_change": Entry(
            "Recreated after a change to a record deleted on the other side."
        ),
        "updated": Entry("Synced: updated on the other side."),
        "deleted": Entry("Synced: deleted on the other side."),
        "conflict_resolved_salesforce_wins": Entry(
            "Both sides changed the same field; Salesforce won by policy."
        ),
        "conflict_resolved_exchange_wins": Entry(
            "Both sides changed the same field; Exchange won by policy."
        ),
        "conflict_resolved_latest_wins": Entry(
            "Both sides changed the same field; the later change won by policy."
        ),
        "target_only_data_overwritten": Entry(
            "Target-only data was overwritten (logged in the audit trail, LS-73)."
        ),
        "applied": Entry("The write was applied."),
        "conflict_retried": Entry("The write lost a version race and is retried."),
        "conflict_awaiting_fresh_state": Entry(
            "The write lost a version race; waiting for the fresh version."
        ),
        "retry_scheduled": Entry("A transient failure; the write will be retried."),
        "write_failed": Entry(
            "The write failed permanently (see errors).", "See the error's remediation."
        ),
        "mapping_failed": Entry(
            "The record could not be converted for the other side (see errors).",
            "See the error's remediation.",
        ),
    },
)


def explain(reason: str | None) -> tuple[DecisionReason | None, str | None]:
    if reason is None:
        return None, None
    try:
        known = DecisionReason(reason)
    except ValueError:
        return None, reason.replace("_", " ").capitalize()
    return known, entry(known).meaning
