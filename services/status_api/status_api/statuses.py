"""The status vocabulary (spec §7, ST-n) and the per-record error categories (§7.4)."""

from __future__ import annotations

from status_api.catalog import DocumentedEnum, Entry, document

_CONN = "Run the connection test (POST …/connection-tests) and follow its remediation."


class StatusId(DocumentedEnum):
    """Lightning Sync status ids (spec §7) plus Syncline's own rows (SL-*)."""

    ST_1 = "ST-1"
    ST_2 = "ST-2"
    ST_3 = "ST-3"
    ST_4 = "ST-4"
    ST_5 = "ST-5"
    ST_6 = "ST-6"
    ST_10 = "ST-10"
    ST_11 = "ST-11"
    ST_12 = "ST-12"
    ST_13 = "ST-13"
    ST_14 = "ST-14"
    ST_15 = "ST-15"
    ST_20 = "ST-20"
    ST_21 = "ST-21"
    ST_22 = "ST-22"
    ST_30 = "ST-30"
    ST_31 = "ST-31"
    ST_32 = "ST-32"
    ST_33 = "ST-33"
    ST_34 = "ST-34"
    ST_35 = "ST-35"
    ST_36 = "ST-36"
    ST_37 = "ST-37"
    ST_38 = "ST-38"
    ST_39 = "ST-39"
    ST_40 = "ST-40"
    ST_41 = "ST-41"
    SL_SALESFORCE = "SL-SALESFORCE"
    SL_API_BUDGET = "SL-API-BUDGET"
    SL_THROTTLING = "SL-THROTTLING"
    SL_SYNC_ERROR = "SL-SYNC-ERROR"
    SL_OPEN_ERRORS = "SL-OPEN-ERRORS"


_SYNC_C = "Last sync activity (contacts)"
_SYNC_E = "Last sync activity (events)"
_ACCOUNT = "Microsoft Exchange service account / OAuth consent provided"
_LINKED = "Salesforce and Exchange email addresses linked"
_DIRECTION = "Sync status per direction"

document(
    StatusId,
    {
        "ST-1": Entry(
            "Contacts synced within the last 15 minutes: contact sync is generally working.",
            "If one user still reports missing contacts, check that user's status and errors.",
            _SYNC_C,
        ),
        "ST-2": Entry(
            "Last contact sync was minutes to 24 hours ago: initial sync may still be running "
            "(it can take hours), or contact sync has a problem.",
            "If this is not the first sync, watch the next 24 hours; check the error report.",
            _SYNC_C,
        ),
        "ST-3": Entry(
            "No contact sync for more than 24 hours, or never: contact sync is stalled.",
            "Check the connections and credentials; " + _CONN,
            _SYNC_C,
        ),
        "ST-4": Entry("Events synced within the last 15 minutes.", "", _SYNC_E),
        "ST-5": Entry(
            "Last event sync minutes to 24 hours ago; initial event sync can take a day or more.",
            "If this is not the first sync, watch the next 24 hours; check the error report.",
            _SYNC_E,
        ),
        "ST-6": Entry(
            "No event sync for more than 24 hours, or never: event sync is stalled.",
            "Check the connections and credentials; " + _CONN,
            _SYNC_E,
        ),
        "ST-10": Entry(
            "Exchange credentials are saved (the value names the account or app). This does not "
            "prove impersonation or the application access policy is set up.",
            "If sync still fails, " + _CONN,
            _ACCOUNT,
        ),
        "ST-11": Entry(
            "No Exchange credentials are saved.",
            "Create an exchange_graph or exchange_ews connection (PUT …/connections/{kind}).",
            _ACCOUNT,
        ),
        "ST-12": Entry(
            "Which Exchange connection method is configured ('No' when none: nothing can sync).",
            "Create an Exchange connection (OAuth 2.0 via Graph, or an EWS service account).",
            "Connection method configured",
        ),
        "ST-13": Entry(
            "Outlook integration ('sync only selected events') — Syncline syncs all events in the "
            "window, so this is always 'No'.",
            "",
            "Outlook Integration enabled",
        ),
        "ST-14": Entry(
            "How many users' Salesforce email addresses are linked to Exchange mailboxes. 0 means "
            "no one can sync.",
            "Check assignments, email addresses and mailbox access; " + _CONN,
            "Users with linked Exchange and Salesforce email addresses",
        ),
        "ST-15": Entry(
            "Users covered by an active configuration (value), and the number of active "
            "configurations.",
            "Assign users or profiles to an active configuration.",
            "Users assigned to active configurations",
        ),
        "ST-20": Entry(
            "The user is covered by an active configuration.", "", "Assigned to configuration"
        ),
        "ST-21": Entry(
            "The user is not in any active configuration, individually or by profile.",
            "Assign the user (or their profile) to a configuration, or activate it (LS-53).",
            "Assigned to configuration",
        ),
        "ST-22": Entry(
            "A reset is running; the row disappears when it completes.", "", "Reset sync status"
        ),
        "ST-30": Entry("The user's email is linked to an Exchange mailbox.", "", _LINKED),
        "ST-31": Entry(
            "Can't link the user because another active user has the same email address.",
            "Find the other user and change their email address; neither syncs until then.",
            _LINKED,
        ),
        "ST-32": Entry(
            "Not linked yet (e.g. just assigned).",
            "Wait one cycle; then check the email equals the primary SMTP address. " + _CONN,
            _LINKED,
        ),
        "ST-33": Entry(
            "The mailbox could not be found (Autodiscover or Graph user lookup failed).",
            "Fix the email address, Autodiscover DNS, or the mailbox's existence/licence.",
            _LINKED,
        ),
        "ST-34": Entry(
            "Access to the mailbox was denied (impersonation, application access policy or "
            "consent missing).",
            "Grant ApplicationImpersonation / widen the application access policy / consent. "
            + _CONN,
            _LINKED,
        ),
        "ST-35": Entry("Initial sync in progress (Salesforce to Exchange).", "", _DIRECTION),
        "ST-36": Entry("Initial sync completed.", "", _DIRECTION),
        "ST-37": Entry("In sync: incremental changes are flowing.", "", _DIRECTION),
        "ST-38": Entry(
            "Not syncing: the configuration doesn't sync this object in this direction.",
            "Change the configuration's direction if this object should sync.",
            _DIRECTION,
        ),
        "ST-39": Entry(
            "Initial sync in progress / completed / in sync (Exchange to Salesforce).",
            "",
            _DIRECTION,
        ),
        "ST-40": Entry(
            "The Salesforce_Sync contacts folder is missing or was renamed.",
            "Reset the user's contact sync (Syncline recreates the folder); tell the rep not to "
            "rename or delete it.",
            _DIRECTION,
        ),
        "ST-41": Entry(
            "The most recent successful pass for this user, object and direction.",
            "",
            "Last sync time",
        ),
        "SL-SALESFORCE": Entry(
            "Whether a Salesforce connection (JWT bearer integration user) is configured.",
            "Create the salesforce connection (PUT …/connections/salesforce).",
            "Salesforce connection configured",
        ),
        "SL-API-BUDGET": Entry(
            "Share of the org's daily Salesforce API allocation used (0..1).",
            "Above 0.8 Syncline slows down; raise the allocation or reduce polling.",
            "API budget used",
        ),
        "SL-THROTTLING": Entry(
            "Whether a side is currently throttled (Graph 429 / Salesforce REQUEST_LIMIT_EXCEEDED) "
            "and until when.",
            "Transient: Syncline waits and resumes by itself. Persistent throttling needs a "
            "higher quota.",
            "Throttling state",
        ),
        "SL-SYNC-ERROR": Entry(
            "A connector reports an error for this user and object.",
            "See the detail and the error report (GET …/errors).",
            _DIRECTION,
        ),
        "SL-OPEN-ERRORS": Entry(
            "How many per-record errors are unresolved across the tenant (LS-82).",
            "Open the error report (GET …/errors, CSV with Accept: text/csv).",
            "Open per-record errors",
        ),
    },
)


class Health(DocumentedEnum):
    """How an admin should read a status row."""

    OK = "ok"
    WARNING = "warning"
    ERROR = "error"
    INFO = "info"


document(
    Health,
    {
        "ok": Entry("Working as intended."),
        "warning": Entry("Possibly a problem; watch it.", "Follow the row's fix."),
        "error": Entry("Sync is blocked for the scope of the row.", "Follow the row's fix."),
        "info": Entry("Informational."),
    },
)


class LinkState(DocumentedEnum):
    """Whether a user's Salesforce email is linked to an Exchange mailbox (ST-30..34)."""

    LINKED = "linked"
    DUPLICATE_EMAIL = "duplicate_email"
    NOT_LINKED = "not_linked"
    MAILBOX_NOT_FOUND = "mailbox_not_found"
    ACCESS_DENIED = "access_denied"
    CLAIMED_BY_OTHER_TENANT = "claimed_by_other_tenant"


LINK_STATUS_ID = {
    LinkState.LINKED: StatusId.ST_30,
    LinkState.DUPLICATE_EMAIL: StatusId.ST_31,
    LinkState.NOT_LINKED: StatusId.ST_32,
    LinkState.MAILBOX_NOT_FOUND: StatusId.ST_33,
    LinkState.ACCESS_DENIED: StatusId.ST_34,
    LinkState.CLAIMED_BY_OTHER_TENANT: StatusId.ST_34,
}

document(
    LinkState,
    {
        "linked": Entry("ST-30: linked; sync can proceed."),
        "duplicate_email": Entry(
            "ST-31: another active user has the same email address.",
            "Change the other user's email address.",
        ),
        "not_linked": Entry("ST-32: not linked yet.", "Wait one cycle; " + _CONN),
        "mailbox_not_found": Entry(
            "ST-33: no mailbox for this email.", "Fix the email, Autodiscover or the licence."
        ),
        "access_denied": Entry(
            "ST-34: the mailbox exists but access is denied.",
            "Grant impersonation / application access policy / consent. " + _CONN,
        ),
        "claimed_by_other_tenant": Entry(
            "ST-34: this mailbox already syncs for another Syncline tenant.",
            "Release it from the other tenant first (a mailbox syncs into one org only).",
        ),
    },
)


class DirectionState(DocumentedEnum):
    """Sync state of one object in one direction for one user (ST-35..ST-40)."""

    NOT_SYNCING = "not_syncing"
    NOT_STARTED = "not_started"
    INITIAL_SYNC_IN_PROGRESS = "initial_sync_in_progress"
    INITIAL_SYNC_COMPLETED = "initial_sync_completed"
    IN_SYNC = "in_sync"
    FOLDER_MISSING = "folder_missing"
    ERROR = "error"


document(
    DirectionState,
    {
        "not_syncing": Entry(
            "ST-38: the configuration does not sync this object in this direction (or the user "
            "has no active configuration).",
            "Change the configuration or the assignment.",
        ),
        "not_started": Entry(
            "ST-32: assigned, but nothing captured yet (the user is not linked or waits for the "
            "first cycle).",
            "Wait one cycle; then check the link status.",
        ),
        "initial_sync_in_progress": Entry("ST-35/ST-39: the first full pass is running."),
        "initial_sync_completed": Entry("ST-36/ST-39: the first full pass finished."),
        "in_sync": Entry("ST-37/ST-39: incremental changes are flowing."),
        "folder_missing": Entry(
            "ST-40: the Salesforce_Sync folder is missing or renamed.",
            "Reset the user's contact sync; tell the rep not to rename the folder.",
        ),
        "error": Entry(
            "The connector reported an error for this user and object (see `detail`).",
            "See the detail and the error report.",
        ),
    },
)


class ResetState(DocumentedEnum):
    """Progress of a reset (LS-83, ST-22)."""

    QUEUED = "queued"
    DISPATCHED = "dispatched"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"


document(
    ResetState,
    {
        "queued": Entry("Accepted; the control message waits in the outbox."),
        "dispatched": Entry("The control message was published to syncline.control."),
        "in_progress": Entry(
            "Links cleared; both connectors are re-reading the user's items and matching "
            "rebuilds the links (ST-22). `progress.resnapshotted` lists the sides done."
        ),
        "completed": Entry("Both sides re-snapshotted; links rebuilt without duplicates."),
        "failed": Entry(
            "The reset failed (see `detail`).",
            "Retry the reset; if it fails again, check the error report.",
        ),
    },
)
