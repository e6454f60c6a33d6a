"""`decide`: the sync rules as one pure function of (link, message, settings, now).

Theory of operation
-------------------
Every message about one user's record arrives in order on one partition: a change captured on
one side (create/update/snapshot read/delete) or the outcome of a command we sent. The shell
loads the record's link (by side + record id, or by the Syncline marker on an item we created),
calls `decide`, and stores what comes back: the next link, commands (outbox), audit entries and
per-record errors. Nothing here reads a clock, a database or the network.

* Three-way state. A link keeps, per side, the id, the native version, the fingerprint and the
  canonical content last seen there, plus the snapshot: the content both sides are being brought
  to. A change counts only if its version *and* fingerprint differ from what the link knows
  (vdirsyncer); its fields are then merged against the snapshot (see merge.py).
* One write in flight per side. A side whose write is in flight gets no second one; when the
  outcome (or the echo) comes back, `push` sends whatever the snapshot has gained meanwhile.
  Updates carry the version they were computed from, so a concurrent edit comes back as a
  `conflict` outcome with the fresh record and is merged like any change.
* Echo suppression. An applied outcome records the version and content our write produced; a
  capture of that version, or of exactly the content in flight, is our own echo and costs
  nothing. A create's echo is recognized by the marker (the link id) we put on the item.
* Deletes. Contact deletes never propagate (LS-28): the link is closed and tombstoned, and the
  survivor is recreated on the other side only if it changes again. Event deletes follow
  "remove deleted events" (LS-36). A burst of deletes from one side beyond the configured share
  is held as a suspected logical delete (vdirsyncer's StorageEmpty guard), never executed.
* Scope. Out-of-scope records (private, excluded, not selected, Classic recurrence, other
  organizers' Salesforce copies, other owners' contacts) are not created, and a linked record
  that leaves the scope keeps its synced copy untouched (LS-35).

The transition table below maps (link situation, what happened) to the rule that handles it,
the way h11 keeps its state machine as data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from enum import StrEnum

from syncmodel import (
    ChangeEvent,
    CommandAction,
    CommandOutcome,
    Contact,
    ErrorScope,
    Event,
    Kind,
    Op,
    OutcomeStatus,
    Side,
    SyncError,
)

from reconcile.decision import (
    AuditEntry,
    DecideContext,
    Decision,
    Outcome,
    Reason,
    RecordError,
    UserContext,
)
from reconcile.effects import Effects, Situation, effective_direction, issue_delete, push, view
from reconcile.fields import to_canonical
from reconcile.link import Link, LinkState, SideState, link_id_for
from reconcile.match import match_record
from reconcile.merge import Merge, merge_change, merge_matched
from reconcile.normalize import fingerprint
from reconcile.relate import auto_relate
from reconcile.scope import out_of_scope
from reconcile.settings import ConflictPolicy, SyncSettings

Message = ChangeEvent | CommandOutcome


class LinkSituation(StrEnum):
    NO_LINK = "no_link"
    ACTIVE = "active"  # pending_create, linked or error
    HELD = "held"
    CLOSED = "closed"


class Happening(StrEnum):
    UPSERT = "upsert"  # op c / u / r
    DELETE = "delete"
    APPLIED = "applied"
    CONFLICT = "conflict"
    FAILED = "failed"


Rule = Callable[[Link | None, Message, Situation], Decision]

_CONFLICT_REASON = {
    ConflictPolicy.SALESFORCE_WINS: Reason.CONFLICT_RESOLVED_SALESFORCE_WINS,
    ConflictPolicy.EXCHANGE_WINS: Reason.CONFLICT_RESOLVED_EXCHANGE_WINS,
    ConflictPolicy.LATEST_WINS: Reason.CONFLICT_RESOLVED_LATEST_WINS,
}


def decide(
    link: Link | None,
    message: Message,
    settings: SyncSettings,
    now: dt.datetime,
    *,
    context: DecideContext | None = None,
) -> Decision:
    """Decide what one message means for one link. Pure and deterministic; never raises for
    expected situations (they come back as `Decision.outcome`/`reason`)."""
    sx = Situation(settings=settings, now=now, context=context or DecideContext())
    rule = TRANSITIONS[(_situation(link), _happening(message))]
    return rule(link, message, sx)


def _situation(link: Link | None) -> LinkSituation:
    if link is None:
        return LinkSituation.NO_LINK
    if link.state is LinkState.HELD:
        return LinkSituation.HELD
    if link.state is LinkState.CLOSED:
        return LinkSituation.CLOSED
    return LinkSituation.ACTIVE


def _happening(message: Message) -> Happening:
    if isinstance(message, CommandOutcome):
        return {
            OutcomeStatus.APPLIED: Happening.APPLIED,
            OutcomeStatus.CONFLICT: Happening.CONFLICT,
            OutcomeStatus.FAILED: Happening.FAILED,
        }[message.status]
    return Happening.DELETE if message.op is Op.DELETE else Happening.UPSERT


# ---------------------------------------------------------------------------------- helpers


def _noop(reason: Reason, link: Link | None) -> Decision:
    return Decision(outcome=Outcome.NOOP, reason=reason, next_link=link)


def _finish(fx: Effects, reason: Reason, *, changed: bool = False, **extra: object) -> Decision:
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


def _scope_decision(reason: Reason, link: Link | None, change: ChangeEvent) -> Decision:
    if reason is not Reason.CLASSIC_RECURRENCE_UNSUPPORTED:
        return _noop(reason, link)
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


def _conflict_audit(fx: Effects, sx: Situation, merge: Merge) -> None:
    reason = _CONFLICT_REASON[sx.settings.conflict_policy]
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


def _change_ts(change: ChangeEvent) -> dt.datetime:
    return change.source_ts or change.captured_ts


def _record(change: ChangeEvent) -> Contact | Event | None:
    record = change.after
    return record if isinstance(record, Contact | Event) else None


# ------------------------------------------------------------------------------------ rules


def _new_record(link: Link | None, message: Message, sx: Situation) -> Decision:
    """No link yet: match before create (LS-71/72), else create on the other side."""
    assert isinstance(message, ChangeEvent)
    record, side, kind = _record(message), message.side, message.kind
    if record is None or kind not in (Kind.CONTACT, Kind.EVENT):
        return _noop(Reason.NOT_A_SYNCED_KIND, None)
    direction = sx.settings.direction(kind)
    if not (direction.flows_to(side) or direction.flows_to(side.other)):
        return _noop(Reason.DIRECTION_DISALLOWS, None)
    if (reason := out_of_scope(record, side, sx.settings, message.user)) is not None:
        return _scope_decision(reason, None, message)
    mappings = sx.mappings(kind)
    content = to_canonical(record, side, mappings)
    candidates = [c for c in sx.context.candidates if c.side is side.other]
    match = match_record(record, candidates)
    link_id = link_id_for(message.tenant, message.user, kind, side, message.record_id)
    if match.is_ambiguous:
        error = SyncError(
            code="ambiguous_match",
            message=f"{match.rule} matches {', '.join(match.ambiguous)}",
            remediation="Link the right record by hand or make them distinct.",
        )
        return Decision(
            outcome=Outcome.ERROR,
            reason=Reason.AMBIGUOUS_MATCH,
            errors=(
                RecordError(
                    link_id=None, kind=kind, side=side, record_id=message.record_id, error=error
                ),
            ),
        )
    attendee_copy = isinstance(record, Event) and side is Side.EXCHANGE and not record.is_organizer
    seen = SideState(
        record_id=message.record_id,
        version=message.version,
        fingerprint=fingerprint(record),
        content=content,
        changed_ts=_change_ts(message),
    )
    base = Link(
        link_id=link_id,
        tenant=message.tenant,
        user=message.user,
        kind=kind,
        attendee_copy=attendee_copy,
        ical_uid=record.ical_uid if isinstance(record, Event) else None,
    ).with_side(side, seen)
    if match.candidate is not None:
        found = match.candidate
        theirs = to_canonical(found.record, side.other, mappings)
        source = (
            None
            if direction.flows_to(side) and direction.flows_to(side.other)
            else (side if direction.flows_to(side.other) else side.other)
        )
        merge = merge_matched(
            incoming=content,
            existing=theirs,
            side=side,
            source=source,
            policy=sx.settings.conflict_policy,
            incoming_ts=_change_ts(message),
            existing_ts=found.modified_ts,
        )
        other = SideState(
            record_id=found.record_id,
            version=found.version,
            fingerprint=fingerprint(found.record),
            content=theirs,
            changed_ts=found.modified_ts,
        )
        fx = Effects(
            base.with_side(side.other, other).model_copy(update={"snapshot": merge.snapshot})
        )
        _conflict_audit(fx, sx, merge)
        push(fx, sx, previous=None, force=True)
        return _finish(fx, Reason.MATCHED_EXISTING, changed=True)
    if not effective_direction(base, sx.settings).flows_to(side.other):
        return _noop(Reason.DIRECTION_DISALLOWS, None)
    fx = Effects(base.model_copy(update={"state": LinkState.PENDING_CREATE, "snapshot": content}))
    extra: dict[str, object] = {}
    unresolved: tuple[str, ...] = ()
    over: tuple[str, ...] = ()
    directory = sx.context.directory
    if (
        isinstance(record, Event)
        and side is Side.EXCHANGE
        and sx.settings.auto_relate
        and directory is not None
        and not record.is_private
        and not attendee_copy
    ):
        relation = auto_relate(record, directory, rep_email=sx.context.user_email)
        extra["related"] = relation.related
        unresolved, over = relation.unresolved, relation.over_limit
    push(fx, sx, previous=content, force=True, create_extra=extra)
    return _finish(
        fx, Reason.CREATED, changed=True, unresolved_attendees=unresolved, unrelated_attendees=over
    )


def _upsert(link: Link | None, message: Message, sx: Situation) -> Decision:
    assert link is not None
    assert isinstance(message, ChangeEvent)
    record = _record(message)
    if record is None:
        return _noop(Reason.NOT_A_SYNCED_KIND, link)
    return _change(
        link,
        message.side,
        message.record_id,
        message.version,
        record,
        _change_ts(message),
        sx,
        message,
    )


def _change(
    link: Link,
    side: Side,
    record_id: str,
    version: str | None,
    record: Contact | Event,
    ts: dt.datetime,
    sx: Situation,
    change: ChangeEvent | None,
) -> Decision:
    """A record of a linked pair was reported by `side` (a capture, or a conflict's fresh state)."""
    mappings = sx.mappings(link.kind)
    state, pending = link.side(side), link.pending_to(side)
    if state.record_id is None:  # our create's echo, found by its marker
        if pending is not None and pending.command.action is CommandAction.CREATE:
            written = pending.command.record
            assert isinstance(written, Contact | Event)
            state = SideState(
                record_id=record_id,
                fingerprint=fingerprint(written),
                content=to_canonical(written, side, mappings),
                version_is_ours=True,
            )
            link = link.without_pending(side)  # `pending` stays: the echo branch below applies
            if link.state is LinkState.PENDING_CREATE:
                link = link.model_copy(update={"state": LinkState.LINKED})
        else:
            state = SideState(record_id=record_id, content=view(link, link.snapshot or {}, side))
        link = link.with_side(side, state)
    if version is not None and version == state.version:
        return _noop(
            Reason.ECHO_OF_OWN_WRITE if state.version_is_ours else Reason.REPLAYED_CHANGE, link
        )
    content = to_canonical(record, side, mappings)
    written = pending.command.record if pending is not None else None
    if isinstance(written, Contact | Event) and content == to_canonical(written, side, mappings):
        fx = Effects(
            link.without_pending(side).with_side(
                side,
                state.model_copy(
                    update={
                        "version": version,
                        "fingerprint": fingerprint(record),
                        "content": content,
                        "version_is_ours": True,
                    }
                ),
            )
        )
        push(fx, sx, previous=fx.link.snapshot, force=True)
        return _finish(fx, Reason.ECHO_OF_OWN_WRITE)
    if pending is not None and link.pending_by_id(pending.command.id) is None:
        pending = None  # an adopted create that the user already edited: a plain change
    if fingerprint(record) == state.fingerprint:
        return _noop(
            Reason.UNCHANGED_FINGERPRINT,
            link.with_side(
                side, state.model_copy(update={"version": version, "version_is_ours": False})
            ),
        )
    if (
        change is not None
        and (reason := out_of_scope(record, side, sx.settings, link.user)) is not None
    ):
        return _scope_decision(
            reason, link.with_side(side, state.model_copy(update={"version": version})), change
        )
    if pending is not None:
        link = link.with_pending(pending.model_copy(update={"observed_after": True}))
    direction = effective_direction(link, sx.settings)
    previous = link.snapshot or {}
    merge = merge_change(
        snapshot=previous,
        previous=state.content or {},
        current=content,
        expected=view(link, previous, side),
        side=side,
        is_source=direction.flows_to(side.other),
        policy=sx.settings.conflict_policy,
        change_ts=ts,
        other_ts=link.side(side.other).changed_ts,
    )
    seen = SideState(
        record_id=state.record_id,
        version=version,
        fingerprint=fingerprint(record),
        content=content,
        changed_ts=ts if merge.accepted else state.changed_ts,
    )
    recovered = link.state if link.state is not LinkState.ERROR else LinkState.LINKED
    fx = Effects(
        link.with_side(side, seen).model_copy(
            update={"snapshot": merge.snapshot, "state": recovered, "last_error": None}
        )
    )
    _conflict_audit(fx, sx, merge)
    push(fx, sx, previous=previous, force=False)
    if merge.conflicts:
        reason = _CONFLICT_REASON[sx.settings.conflict_policy]
    elif merge.accepted:
        reason = Reason.UPDATED
    elif merge.target_edits and link.attendee_copy and side is Side.SALESFORCE:
        reason = Reason.ATTENDEE_EDIT_NOT_SYNCED
    elif merge.target_edits:
        reason = Reason.TARGET_EDIT_KEPT if direction.flows_to(side) else Reason.DIRECTION_DISALLOWS
    else:
        reason = Reason.NO_SYNCED_FIELD_CHANGED
    return _finish(fx, reason, changed=bool(merge.accepted or merge.conflicts))


def _guard_trips(user: UserContext | None, settings: SyncSettings) -> bool:
    if user is None or user.deletes_confirmed:
        return False
    deletes = user.recent_deletes + 1
    share = deletes / max(user.linked_records, 1)
    return deletes >= settings.mass_delete_min_count and share > settings.mass_delete_share


def _delete(link: Link | None, message: Message, sx: Situation) -> Decision:
    assert link is not None
    assert isinstance(message, ChangeEvent)
    side = message.side
    state = link.side(side)
    if state.deleted:
        return _noop(Reason.TOMBSTONED, link)
    if _guard_trips(sx.context.user_context, sx.settings):
        held = link.model_copy(update={"state": LinkState.HELD, "deleted_side": side})
        error = SyncError(
            code="suspected_logical_delete",
            scope=ErrorScope.USER,
            message=f"{side.value} reported a large share of this user's records deleted",
            remediation="Check the folder and access; confirm the deletes to let them through.",
        )
        return Decision(
            outcome=Outcome.PARK,
            reason=Reason.MASS_DELETE_GUARD,
            next_link=held,
            errors=(
                RecordError(
                    link_id=link.link_id,
                    kind=link.kind,
                    side=side,
                    record_id=message.record_id,
                    error=error,
                ),
            ),
        )
    fx = Effects(
        link.without_pending(side)
        .with_side(side, state.model_copy(update={"deleted": True, "version": message.version}))
        .model_copy(
            update={"state": LinkState.CLOSED, "deleted_side": side, "tombstoned_ts": sx.now}
        )
    )
    if link.kind is Kind.CONTACT:
        return _finish(fx, Reason.CONTACT_DELETE_NOT_PROPAGATED, changed=True)
    other = fx.link.side(side.other)
    if (
        sx.settings.remove_deleted_events
        and effective_direction(link, sx.settings).flows_to(side.other)
        and other.record_id is not None
        and not other.deleted
    ):
        issue_delete(fx, sx, side.other)
        return _finish(fx, Reason.DELETED)
    return _finish(fx, Reason.EVENT_DELETE_NOT_PROPAGATED, changed=True)


def _held_upsert(link: Link | None, message: Message, sx: Situation) -> Decision:
    """A held record that shows up again (the folder came back) resumes syncing."""
    assert link is not None
    assert isinstance(message, ChangeEvent)
    if message.side is not link.deleted_side:
        return _upsert(link, message, sx)
    restored = link.model_copy(update={"state": LinkState.LINKED, "deleted_side": None})
    decision = _upsert(restored, message, sx)
    if decision.outcome is Outcome.NOOP:
        return decision.model_copy(
            update={"reason": Reason.RESTORED_AFTER_HOLD, "outcome": Outcome.APPLY}
        )
    return decision


def _held_delete(link: Link | None, message: Message, sx: Situation) -> Decision:
    """Deletes of a held link go through the guard again (confirmed deletes pass)."""
    assert link is not None
    return _delete(link.model_copy(update={"state": LinkState.LINKED}), message, sx)


def _closed_upsert(link: Link | None, message: Message, sx: Situation) -> Decision:
    """Tombstones prevent resurrection; a surviving contact that changes again is recreated."""
    assert link is not None
    assert isinstance(message, ChangeEvent)
    side, record = message.side, _record(message)
    state = link.side(side)
    if record is None or state.deleted or state.record_id != message.record_id:
        return _noop(Reason.TOMBSTONED, link)
    seen = state.model_copy(update={"version": message.version})
    if message.version == state.version or fingerprint(record) == state.fingerprint:
        return _noop(Reason.TOMBSTONED, link.with_side(side, seen))
    content = to_canonical(record, side, sx.mappings(link.kind))
    pending = link.pending_to(side)
    written = pending.command.record if pending is not None else None
    if isinstance(written, Contact | Event) and content == to_canonical(
        written, side, sx.mappings(link.kind)
    ):  # the echo of a write that was in flight when the other side was deleted
        echoed = seen.model_copy(
            update={"fingerprint": fingerprint(record), "content": content, "version_is_ours": True}
        )
        return _noop(Reason.ECHO_OF_OWN_WRITE, link.without_pending(side).with_side(side, echoed))
    if pending is not None:
        link = link.with_pending(pending.model_copy(update={"observed_after": True}))
    other = link.side(side.other)
    direction = effective_direction(link, sx.settings)
    if link.kind is not Kind.CONTACT or not other.deleted or not direction.flows_to(side.other):
        return _noop(Reason.TOMBSTONED, link.with_side(side, seen))
    revived = link.with_side(
        side,
        SideState(
            record_id=state.record_id,
            version=message.version,
            fingerprint=fingerprint(record),
            content=content,
            changed_ts=_change_ts(message),
        ),
    ).with_side(side.other, SideState())
    fx = Effects(
        revived.model_copy(
            update={
                "state": LinkState.PENDING_CREATE,
                "snapshot": content,
                "deleted_side": None,
                "tombstoned_ts": None,
            }
        )
    )
    push(fx, sx, previous=content, force=True)
    return _finish(fx, Reason.RECREATED_AFTER_CHANGE, changed=True)


def _applied(link: Link | None, message: Message, sx: Situation) -> Decision:
    assert isinstance(message, CommandOutcome)
    pending = link.pending_by_id(message.command_id) if link else None
    if link is None or pending is None:
        return _noop(Reason.STALE_OUTCOME, link)
    command, side = pending.command, pending.command.side
    state = link.side(side)
    written = message.record if isinstance(message.record, Contact | Event) else command.record
    link = link.without_pending(side)
    if command.action is CommandAction.DELETE:
        state = state.model_copy(update={"deleted": True})
    elif command.action is CommandAction.CREATE or not pending.observed_after:
        assert isinstance(written, Contact | Event)
        state = state.model_copy(
            update={
                "record_id": message.record_id or state.record_id,
                "version": message.version,
                "fingerprint": fingerprint(written),
                "version_is_ours": True,
                "content": to_canonical(written, side, sx.mappings(link.kind)),
            }
        )
    link = link.with_side(side, state)
    if link.state is LinkState.PENDING_CREATE and command.action is CommandAction.CREATE:
        link = link.model_copy(update={"state": LinkState.LINKED})
    fx = Effects(link)
    other = link.side(side.other)
    if (
        command.action is CommandAction.CREATE
        and link.state is LinkState.CLOSED
        and link.kind is Kind.EVENT
        and other.deleted
        and sx.settings.remove_deleted_events
    ):
        issue_delete(fx, sx, side)  # the source was deleted while our create was in flight
        return _finish(fx, Reason.DELETED)
    push(fx, sx, previous=link.snapshot, force=True)
    return _finish(fx, Reason.UPDATED if fx.commands else Reason.APPLIED, changed=True)


def _conflict(link: Link | None, message: Message, sx: Situation) -> Decision:
    """The target changed under our write: merge its fresh state, then write again."""
    assert isinstance(message, CommandOutcome)
    pending = link.pending_by_id(message.command_id) if link else None
    if link is None or pending is None:
        return _noop(Reason.STALE_OUTCOME, link)
    side = pending.command.side
    link = link.without_pending(side)
    record = message.record
    if not isinstance(record, Contact | Event) or link.state is not LinkState.LINKED:
        return _noop(Reason.CONFLICT_AWAITING_FRESH_STATE, link)
    decision = _change(
        link,
        side,
        message.record_id or link.side(side).record_id or "",
        message.version,
        record,
        message.applied_ts,
        sx,
        None,
    )
    fx = Effects(
        decision.next_link or link,
        list(decision.commands),
        list(decision.audit),
        list(decision.errors),
        list(decision.truncations),
    )
    if not fx.commands:
        push(fx, sx, previous=fx.link.snapshot, force=True)
    return _finish(fx, Reason.CONFLICT_RETRIED, changed=True)


def _failed(link: Link | None, message: Message, sx: Situation) -> Decision:
    """Transient failures are retried (same command id) up to a bound; the rest are errors."""
    assert isinstance(message, CommandOutcome)
    pending = link.pending_by_id(message.command_id) if link else None
    if link is None or pending is None:
        return _noop(Reason.STALE_OUTCOME, link)
    error = message.error or SyncError(code="write_failed", message="the write failed")
    if error.retryable and pending.attempts < sx.settings.max_attempts:
        delay = error.retry_after_s or sx.settings.retry_base_s * 2 ** (pending.attempts - 1)
        retried = link.with_pending(pending.model_copy(update={"attempts": pending.attempts + 1}))
        return Decision(
            outcome=Outcome.APPLY,
            reason=Reason.RETRY_SCHEDULED,
            commands=(pending.command,),
            next_link=retried,
            retry_after_s=delay,
        )
    side = pending.command.side
    state = LinkState.CLOSED if link.state is LinkState.CLOSED else LinkState.ERROR
    failed = link.without_pending(side).model_copy(update={"state": state, "last_error": error})
    return Decision(
        outcome=Outcome.ERROR,
        reason=Reason.WRITE_FAILED,
        next_link=failed,
        errors=(
            RecordError(
                link_id=link.link_id,
                kind=link.kind,
                side=side,
                record_id=pending.command.record_id,
                error=error,
            ),
        ),
    )


def _forget_write(reason: Reason) -> Rule:
    """An outcome we no longer act on: the write is over, so it stops being in flight."""

    def rule(link: Link | None, message: Message, sx: Situation) -> Decision:
        assert isinstance(message, CommandOutcome)
        pending = link.pending_by_id(message.command_id) if link else None
        if link is None or pending is None:
            return _noop(Reason.STALE_OUTCOME, link)
        return _noop(reason, link.without_pending(pending.command.side))

    return rule


def _ignore(reason: Reason) -> Rule:
    return lambda link, message, sx: _noop(reason, link)


TRANSITIONS: dict[tuple[LinkSituation, Happening], Rule] = {
    # a record we have never paired: match it, else create its twin
    (LinkSituation.NO_LINK, Happening.UPSERT): _new_record,
    # a delete of something we never synced
    (LinkSituation.NO_LINK, Happening.DELETE): _ignore(Reason.UNKNOWN_RECORD),
    # outcomes for links that no longer exist (reset) are history
    (LinkSituation.NO_LINK, Happening.APPLIED): _ignore(Reason.STALE_OUTCOME),
    (LinkSituation.NO_LINK, Happening.CONFLICT): _ignore(Reason.STALE_OUTCOME),
    (LinkSituation.NO_LINK, Happening.FAILED): _ignore(Reason.STALE_OUTCOME),
    # the everyday case: three-way merge and push
    (LinkSituation.ACTIVE, Happening.UPSERT): _upsert,
    # deletes: guard, then LS-28 / LS-36
    (LinkSituation.ACTIVE, Happening.DELETE): _delete,
    (LinkSituation.ACTIVE, Happening.APPLIED): _applied,
    (LinkSituation.ACTIVE, Happening.CONFLICT): _conflict,
    (LinkSituation.ACTIVE, Happening.FAILED): _failed,
    # held by the mass-delete guard: a record that reappears resumes; deletes re-check the guard
    (LinkSituation.HELD, Happening.UPSERT): _held_upsert,
    (LinkSituation.HELD, Happening.DELETE): _held_delete,
    (LinkSituation.HELD, Happening.APPLIED): _applied,
    (LinkSituation.HELD, Happening.CONFLICT): _forget_write(Reason.MASS_DELETE_GUARD),
    (LinkSituation.HELD, Happening.FAILED): _failed,
    # tombstoned: nothing comes back unless the survivor changes again (contacts)
    (LinkSituation.CLOSED, Happening.UPSERT): _closed_upsert,
    (LinkSituation.CLOSED, Happening.DELETE): _ignore(Reason.TOMBSTONED),
    (LinkSituation.CLOSED, Happening.APPLIED): _applied,
    (LinkSituation.CLOSED, Happening.CONFLICT): _forget_write(Reason.TOMBSTONED),
    (LinkSituation.CLOSED, Happening.FAILED): _failed,
}
