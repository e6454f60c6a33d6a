"""Turning a link's snapshot into commands, and the effects of one decision into a `Decision`.

`push` is the one place that emits create/update commands. It writes to a side only if the
direction flows there, no write to that side is already in flight (one at a time per side, so
versions stay ordered and echoes recognizable), and the side's known content differs from what it
should hold. In one-way sync the target is only overwritten when the source changed (LS-73), and
every overwrite of a target-only value is audited. `finish`/`noop` build the `Decision` the rules
in changes.py, deletes.py and outcomes.py return.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from syncmodel import (
    ChangeEvent,
    Command,
    CommandAction,
    CommandOutcome,
    Contact,
    Direction,
    Event,
    Kind,
    Side,
    SyncError,
)

from reconcile.decision import AuditEntry, DecideContext, Decision, Outcome, Reason, RecordError
from reconcile.errors import MappingError
from reconcile.fields import (
    Canonical,
    FieldMapping,
    TruncationNote,
    check_salesforce_record,
    effective_mappings,
    fit_for_salesforce,
    from_canonical,
    side_view,
    unstored_fields,
)
from reconcile.link import Link, LinkState, PendingWrite, command_id_for, record_digest
from reconcile.merge import Merge
from reconcile.settings import ConflictPolicy, SyncSettings

Message = ChangeEvent | CommandOutcome

MEETING_FIELDS = frozenset(
    {
        "start",
        "end",
        "start_date",
        "end_date",
        "location",
        "attendees",
        "recurrence",
        "is_cancelled",
    }
)
"""Changes that justify Exchange sending updated invitations (pain point #27)."""


@dataclass(frozen=True)
class Situation:
    """The fixed inputs of one decision."""

    settings: SyncSettings
    now: dt.datetime
    context: DecideContext

    def mappings(self, kind: Kind) -> tuple[FieldMapping, ...]:
        return effective_mappings(kind, self.settings.field_remapping.get(kind))


@dataclass
class Effects:
    """What one decision has produced so far (local to a single `decide` call)."""

    link: Link
    commands: list[Command] = field(default_factory=list)
    audit: list[AuditEntry] = field(default_factory=list)
    errors: list[RecordError] = field(default_factory=list)
    truncations: list[TruncationNote] = field(default_factory=list)


def effective_direction(link: Link, settings: SyncSettings) -> Direction:
    """The configured direction, narrowed for attendee copies (LS-39(b): Exchange -> SF only)."""
    direction = settings.direction(link.kind)
    if not link.attendee_copy:
        return direction
    if direction.flows_to(Side.SALESFORCE):
        return Direction.EXCHANGE_TO_SALESFORCE
    return Direction.NONE


def strips_attendees(link: Link, canonical: Canonical, side: Side) -> bool:
    """LS-35: private events sync without attendees; LS-39(b): attendee copies show none."""
    if side is not Side.SALESFORCE or link.kind is not Kind.EVENT:
        return False
    return link.attendee_copy or canonical.get("sensitivity") in ("private", "confidential")


def view(link: Link, canonical: Canonical, side: Side) -> Canonical:
    """What `side` holds once it holds `canonical` (truncated, attendees dropped if they must)."""
    seen = side_view(canonical, side, link.kind)
    if strips_attendees(link, canonical, side) and "attendees" in seen:
        seen = {**seen, "attendees": []}
    return seen


def push(
    fx: Effects,
    sx: Situation,
    *,
    previous: Canonical | None,
    force: bool,
    create_extra: dict[str, Any] | None = None,
) -> None:
    """Issue the writes that bring each side to the snapshot (see module docstring)."""
    link = fx.link
    if link.state in (LinkState.CLOSED, LinkState.HELD) or link.snapshot is None:
        return
    direction = effective_direction(link, sx.settings)
    for side in (Side.EXCHANGE, Side.SALESFORCE):
        state = fx.link.side(side)
        if not direction.flows_to(side) or fx.link.pending_to(side) or state.deleted:
            continue
        wanted = view(fx.link, link.snapshot, side)
        if state.record_id is None:
            _issue(fx, sx, side, CommandAction.CREATE, wanted, tuple(sorted(wanted)), create_extra)
            continue
        have = state.content or {}
        if have is wanted:
            continue  # the side holds this very content (a record just captured there)
        unstored = unstored_fields(wanted, side, link.kind)
        changed = tuple(
            sorted(
                name for name in wanted if wanted[name] != have.get(name) and name not in unstored
            )
        )
        if not changed:
            continue
        one_way = direction is not Direction.BOTH
        if one_way and previous == link.snapshot and not force:
            continue  # LS-73: target-only edits persist until the next source change
        if one_way:
            _audit_overwrites(fx, sx, side, changed, have, wanted, previous)
        _issue(fx, sx, side, CommandAction.UPDATE, wanted, changed, None)


def _audit_overwrites(
    fx: Effects,
    sx: Situation,
    side: Side,
    changed: tuple[str, ...],
    have: Canonical,
    wanted: Canonical,
    previous: Canonical | None,
) -> None:
    before = view(fx.link, previous, side) if previous is not None else {}
    for name in changed:
        old = have.get(name)
        if old in (None, [], {}) or old == before.get(name):
            continue
        fx.audit.append(
            AuditEntry(
                link_id=fx.link.link_id,
                kind=fx.link.kind,
                side=side,
                field=name,
                old_value=old,
                new_value=wanted.get(name),
                reason=Reason.TARGET_ONLY_DATA_OVERWRITTEN,
                ts=sx.now,
            )
        )


def _notify(record: Any, side: Side, action: CommandAction, changed: tuple[str, ...]) -> bool:
    if side is not Side.EXCHANGE or not isinstance(record, Event) or not record.attendees:
        return False
    if not record.is_organizer:
        return False
    return action is CommandAction.CREATE or bool(MEETING_FIELDS.intersection(changed))


def _issue(
    fx: Effects,
    sx: Situation,
    side: Side,
    action: CommandAction,
    wanted: Canonical,
    changed: tuple[str, ...],
    create_extra: dict[str, Any] | None,
) -> None:
    link = fx.link
    state = link.side(side)
    extra: dict[str, Any] = {"marker": link.link_id, **(create_extra or {})}
    if link.kind is Kind.EVENT and link.ical_uid and side is Side.SALESFORCE:
        extra.setdefault("ical_uid", link.ical_uid)
    try:
        if side is Side.SALESFORCE:
            assert link.snapshot is not None
            check_salesforce_record(link.snapshot, link.kind)
            fx.truncations.extend(fit_for_salesforce(link.snapshot, link.kind)[1])
        record = from_canonical(wanted, side, link.kind, sx.mappings(link.kind), extra=extra)
    except MappingError as error:
        fx.errors.append(
            RecordError(
                link_id=link.link_id,
                kind=link.kind,
                side=side,
                record_id=state.record_id,
                error=SyncError(code=error.code, message=error.message),
            )
        )
        return
    base = state.version
    if action is CommandAction.CREATE:
        base = "from:" + (link.side(side.other).version or "-")
    command = Command(
        id=command_id_for(link.link_id, side, action, base, record_digest(record)),
        tenant=link.tenant,
        user=link.user,
        side=side,
        kind=link.kind,
        action=action,
        link_id=link.link_id,
        record_id=state.record_id,
        if_version=state.version if action is CommandAction.UPDATE else None,
        record=record,
        changed_fields=changed,
        notify_attendees=_notify(record, side, action, changed),
        issued_ts=sx.now,
    )
    if action is CommandAction.CREATE and link.state in (LinkState.LINKED, LinkState.ERROR):
        link = link.model_copy(update={"state": LinkState.PENDING_CREATE})
    fx.link = link.with_pending(PendingWrite(command=command))
    fx.commands.append(command)


def source_gone_before_create_landed(link: Link, side: Side, sx: Situation) -> bool:
    """Our create of an event reached `side` after its source was deleted (the link was closed
    meanwhile): with "remove deleted events" (LS-36) the new copy goes too."""
    return (
        link.state is LinkState.CLOSED
        and link.kind is Kind.EVENT
        and link.side(side.other).deleted
        and sx.settings.remove_deleted_events
    )


def issue_delete(fx: Effects, sx: Situation, side: Side) -> None:
    """Delete the record on `side` (events with "remove deleted events", LS-36). Unconditional."""
    link = fx.link
    state = link.side(side)
    command = Command(
        id=command_id_for(link.link_id, side, "delete", state.version, "-"),
        tenant=link.tenant,
        user=link.user,
        side=side,
        kind=link.kind,
        action=CommandAction.DELETE,
        link_id=link.link_id,
        record_id=state.record_id,
        issued_ts=sx.now,
    )
    fx.link = link.with_pending(PendingWrite(command=command))
    fx.commands.append(command)


# ------------------------------------------------------------- building decisions

CONFLICT_REASON = {
    ConflictPolicy.SALESFORCE_WINS: Reason.CONFLICT_RESOLVED_SALESFORCE_WINS,
    ConflictPolicy.EXCHANGE_WINS: Reason.CONFLICT_RESOLVED_EXCHANGE_WINS,
    ConflictPolicy.LATEST_WINS: Reason.CONFLICT_RESOLVED_LATEST_WINS,
}


def noop(reason: Reason, link: Link | None) -> Decision:
    return Decision(outcome=Outcome.NOOP, reason=reason, next_link=link)


def finish(fx: Effects, reason: Reason, *, changed: bool = False, **extra: object) -> Decision:
    outcome = Outcome.APPLY if fx.commands or changed else Outcome.NOOP
    if fx.errors:
        outcome, reason = Outcome.ERROR, Reason.MAPPING_FAILED
    return Decision.model_validate(
        {
            "outcome": outcome,
            "reason": reason,
            "commands": tuple(fx.commands),
            "next_link": fx.link,
            "audit": tuple(fx.audit),
            "errors": tuple(fx.errors),
            "truncations": tuple(fx.truncations),
            **extra,
        }
    )


def scope_decision(
    reason: Reason, link: Link | None, change: ChangeEvent, settings: SyncSettings
) -> Decision:
    """Out of scope is a no-op; a Classic recurring event is an error the admin sees, but only
    when it would have gone to Exchange (with Exchange -> Salesforce only it is no one's loss)."""
    wanted = settings.direction(change.kind).flows_to(change.side.other)
    if reason is not Reason.CLASSIC_RECURRENCE_UNSUPPORTED or not wanted:
        return noop(reason, link)
    error = SyncError(
        code=reason.value,
        message="Salesforce Classic recurring events don't sync; only event series do (LS-33).",
        remediation="Recreate the series in Lightning Experience or the mobile app.",
    )
    return Decision(
        outcome=Outcome.ERROR,
        reason=reason,
        next_link=link,
        errors=(
            RecordError(
                link_id=link.link_id if link else None,
                kind=change.kind,
                side=change.side,
                record_id=change.record_id,
                error=error,
            ),
        ),
    )


def audit_conflicts(fx: Effects, sx: Situation, merge: Merge) -> None:
    reason = CONFLICT_REASON[sx.settings.conflict_policy]
    for conflict in merge.conflicts:
        fx.audit.append(
            AuditEntry(
                link_id=fx.link.link_id,
                kind=fx.link.kind,
                side=conflict.winner.other,
                field=conflict.field,
                old_value=conflict.loser_value,
                new_value=conflict.winner_value,
                reason=reason,
                ts=sx.now,
            )
        )


def change_ts(change: ChangeEvent) -> dt.datetime:
    return change.source_ts or change.captured_ts


def record_of(change: ChangeEvent) -> Contact | Event | None:
    record = change.after
    return record if isinstance(record, Contact | Event) else None


Rule = Callable[[Link | None, Message, Situation], Decision]
"""One rule of the transition table in decide.py."""
