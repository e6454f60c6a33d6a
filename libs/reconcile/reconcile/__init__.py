"""reconcile: Syncline's pure sync core (no I/O, no clock, no randomness).

Public API for the reconciler shell and the status API:

* `decide(link, message, settings, now, *, context=DecideContext(...)) -> Decision` — the sync
  rules. The shell, per batch and in partition order: loads each message's `Link` by
  (tenant, user, side, record_id) — or, when a change carries `after.marker`, by that link id
  (the echo of a create we issued) — calls `decide`, then stores `decision.next_link`
  (`Link.model_dump(mode="json")` into a JSONB column; `Link.model_validate` to load; `None`
  means "no link"), appends `decision.commands` to the outbox, and records `decision.audit`
  and `decision.errors`. `decision.retry_after_s` is the back-off before re-sending a retried
  command. `Reason` values are stable and meant for "why did this (not) sync". Outcomes are
  found by `CommandOutcome.link_id`. A `conflict` outcome should carry the target's current
  `record` and `version`; an update that finds its record gone should fail with code
  `not_found` (the delete capture then closes the link).
* `DecideContext`: `candidates` (records of the other side that no link owns and that carry no
  marker of a live link — only needed when no link was found — for matching, LS-71/72),
  `user_context` (`UserContext` counts for the mass-delete guard), `directory`
  (`RelateDirectory` for auto-relate, LS-45..48), `user_email`.
* Settings: `SyncSettings`, `Configuration`, `Assignment`, `effective_configuration`.
* Roster: `build_roster` (effective configurations + duplicate-e-mail detection, ST-31).
* Content: `normalize`, `fingerprint`, `VOLATILE_FIELDS`; field mappings in `reconcile.fields`.
* Translation helpers for connectors: `reconcile.timezones`, `reconcile.recurrence`.
"""

from reconcile.decide import TRANSITIONS, Happening, LinkSituation, decide
from reconcile.decision import (
    AuditEntry,
    DecideContext,
    Decision,
    Outcome,
    Reason,
    RecordError,
    RelateDirectory,
    UserContext,
)
from reconcile.errors import (
    MappingError,
    ReconcileError,
    RecurrenceError,
    RemappingError,
    UnknownTimeZone,
)
from reconcile.fields import FieldMapping, TruncationNote, effective_mappings
from reconcile.link import Link, LinkState, PendingWrite, SideState, link_id_for
from reconcile.match import Candidate, MatchResult, MatchRule, match_contact, match_event
from reconcile.normalize import VOLATILE_FIELDS, fingerprint, normalize
from reconcile.roster import RosterDecision, RosterReason, build_roster
from reconcile.settings import (
    Assignment,
    Configuration,
    ConfigurationReason,
    ConflictPolicy,
    EventSelection,
    SyncSettings,
    effective_configuration,
)

__all__ = [
    "TRANSITIONS",
    "VOLATILE_FIELDS",
    "Assignment",
    "AuditEntry",
    "Candidate",
    "Configuration",
    "ConfigurationReason",
    "ConflictPolicy",
    "DecideContext",
    "Decision",
    "EventSelection",
    "FieldMapping",
    "Happening",
    "Link",
    "LinkSituation",
    "LinkState",
    "MappingError",
    "MatchResult",
    "MatchRule",
    "Outcome",
    "PendingWrite",
    "Reason",
    "ReconcileError",
    "RecordError",
    "RecurrenceError",
    "RelateDirectory",
    "RemappingError",
    "RosterDecision",
    "RosterReason",
    "SideState",
    "SyncSettings",
    "TruncationNote",
    "UnknownTimeZone",
    "UserContext",
    "build_roster",
    "decide",
    "effective_configuration",
    "effective_mappings",
    "fingerprint",
    "link_id_for",
    "match_contact",
    "match_event",
    "normalize",
]
