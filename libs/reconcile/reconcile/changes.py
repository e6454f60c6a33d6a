"""Changes of records: a new record is matched or created; a linked one is merged and pushed."""

from __future__ import annotations

import datetime as dt

from syncmodel import (
    ChangeEvent,
    CommandAction,
    Contact,
    Event,
    EventType,
    Kind,
    Op,
    Side,
    SyncError,
)

from reconcile.decision import (
    Decision,
    Outcome,
    Reason,
    RecordError,
)
from reconcile.effects import (
    CONFLICT_REASON,
    Effects,
    Message,
    Situation,
    audit_conflicts,
    change_ts,
    effective_direction,
    finish,
    issue_delete,
    noop,
    push,
    record_of,
    scope_decision,
    source_gone_before_create_landed,
    view,
)
from reconcile.fields import to_canonical
from reconcile.link import Link, LinkState, SideState, link_id_for
from reconcile.match import match_record
from reconcile.merge import merge_change, merge_matched
from reconcile.normalize import fingerprint
from reconcile.relate import auto_relate
from reconcile.scope import out_of_scope

PREDATES_SYNC_MARGIN = dt.timedelta(seconds=2)
"""Salesforce stamps to the second, and its clock is not ours: an event stamped this close to
the start of a user's sync counts as created after it."""


def predates_sync(message: ChangeEvent, sx: Situation) -> bool:
    """LS-31: the record was last changed before the user started syncing."""
    since = sx.context.syncing_since
    return since is None or change_ts(message) < since - PREDATES_SYNC_MARGIN


def new_record(link: Link | None, message: Message, sx: Situation) -> Decision:
    """No link yet: match before create (LS-71/72), else create on the other side."""
    assert isinstance(message, ChangeEvent)
    record, side, kind = record_of(message), message.side, message.kind
    if record is None or kind not in (Kind.CONTACT, Kind.EVENT):
        return noop(Reason.NOT_A_SYNCED_KIND, None)
    direction = sx.settings.direction(kind)
    if not (direction.flows_to(side) or direction.flows_to(side.other)):
        return noop(Reason.DIRECTION_DISALLOWS, None)
    if (reason := out_of_scope(record, side, sx.settings, message.user)) is not None:
        return scope_decision(reason, None, message, sx.settings)
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
    if (
        match.candidate is None
        and kind is Kind.EVENT
        and side is Side.SALESFORCE
        and message.op is Op.READ
        and not sx.settings.push_existing_salesforce_events
        and predates_sync(message, sx)
    ):
        # LS-31/LS-76: a Salesforce event that predates sync is matched, never bulk-pushed: it
        # goes to Exchange once it is edited (an `op u` capture). It stays a match candidate.
        return noop(Reason.EXISTING_SALESFORCE_EVENT_UNTOUCHED, None)
    attendee_copy = isinstance(record, Event) and side is Side.EXCHANGE and not record.is_organizer
    seen = SideState(
        record_id=message.record_id,
        version=message.version,
        fingerprint=fingerprint(record),
        content=content,
        changed_ts=change_ts(message),
    )
    base = Link.model_validate(
        {
            "link_id": link_id,
            "tenant": message.tenant,
            "user": message.user,
            "kind": kind,
            "attendee_copy": attendee_copy,
            "ical_uid": record.ical_uid if isinstance(record, Event) else None,
            side.value: seen,  # the `exchange` or `salesforce` side state
        }
    )
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
            incoming_ts=change_ts(message),
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
        audit_conflicts(fx, sx, merge)
        push(fx, sx, previous=None, force=True)
        return finish(fx, Reason.MATCHED_EXISTING, changed=True)
    if not effective_direction(base, sx.settings).flows_to(side.other):
        return noop(Reason.DIRECTION_DISALLOWS, None)
    # The snapshot is the side state's own (validated) copy of the content: push then sees at
    # once that this side holds it, without comparing field by field.
    snapshot = seen.content
    fx = Effects(base.model_copy(update={"state": LinkState.PENDING_CREATE, "snapshot": snapshot}))
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
    if (
        isinstance(record, Event)
        and side is Side.EXCHANGE
        and record.event_type is EventType.EXCEPTION
        and record.original_start is not None
    ):
        # LS-33: Salesforce keeps an occurrence record per occurrence (protocols.md C13
        # "Recurrence2"); its sink turns the one at the original start into this exception.
        extra["event_type"] = EventType.EXCEPTION
        extra["original_start"] = record.original_start
    push(fx, sx, previous=content, force=True, create_extra=extra)
    return finish(
        fx, Reason.CREATED, changed=True, unresolved_attendees=unresolved, unrelated_attendees=over
    )


def upsert(link: Link | None, message: Message, sx: Situation) -> Decision:
    assert link is not None
    assert isinstance(message, ChangeEvent)
    record = record_of(message)
    if record is None:
        return noop(Reason.NOT_A_SYNCED_KIND, link)
    return change(
        link,
        message.side,
        message.record_id,
        message.version,
        record,
        change_ts(message),
        sx,
        message,
    )


def change(
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
        stored = SideState(
            record_id=record_id,
            version=version,
            fingerprint=fingerprint(record),
            content=to_canonical(record, side, mappings),
            version_is_ours=True,
        )
        if pending is not None and pending.command.action is CommandAction.CREATE:
            # Ahead of the create's outcome: taken as the outcome would be, the record as the
            # side stored it (a zone or reminder it keeps its own way is no edit of the rep's),
            # so the result does not depend on which of the two arrives first.
            fx = Effects(link.without_pending(side).with_side(side, stored))
            if fx.link.state is LinkState.PENDING_CREATE:
                fx.link = fx.link.model_copy(update={"state": LinkState.LINKED})
            elif source_gone_before_create_landed(fx.link, side, sx):
                issue_delete(fx, sx, side)
                return finish(fx, Reason.DELETED)
        else:  # a create we had given up on landed after all: adopt it as it is
            fx = Effects(
                link.with_side(side, stored).model_copy(
                    update={"state": LinkState.LINKED, "last_error": None}
                )
            )
        push(fx, sx, previous=fx.link.snapshot, force=True)
        return finish(fx, Reason.ECHO_OF_OWN_WRITE, changed=True)
    if version is not None and version == state.version:
        return noop(
            Reason.ECHO_OF_OWN_WRITE if state.version_is_ours else Reason.REPLAYED_CHANGE, link
        )
    content = to_canonical(record, side, mappings)
    record_fingerprint = fingerprint(record)
    written = pending.command.record if pending is not None else None
    if isinstance(written, Contact | Event) and content == to_canonical(written, side, mappings):
        fx = Effects(
            link.without_pending(side).with_side(
                side,
                state.model_copy(
                    update={
                        "version": version,
                        "fingerprint": record_fingerprint,
                        "content": content,
                        "version_is_ours": True,
                    }
                ),
            )
        )
        push(fx, sx, previous=fx.link.snapshot, force=True)
        return finish(fx, Reason.ECHO_OF_OWN_WRITE)
    if pending is not None and link.pending_by_id(pending.command.id) is None:
        pending = None  # an adopted create that the user already edited: a plain change
    if record_fingerprint == state.fingerprint:
        return noop(
            Reason.UNCHANGED_FINGERPRINT,
            link.with_side(
                side, state.model_copy(update={"version": version, "version_is_ours": False})
            ),
        )
    if (
        change is not None
        and (reason := out_of_scope(record, side, sx.settings, link.user)) is not None
    ):
        return scope_decision(
            reason,
            link.with_side(side, state.model_copy(update={"version": version})),
            change,
            sx.settings,
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
        fingerprint=record_fingerprint,
        content=content,
        changed_ts=ts if merge.accepted else state.changed_ts,
    )
    recovered = link.state if link.state is not LinkState.ERROR else LinkState.LINKED
    fx = Effects(
        link.with_side(side, seen).model_copy(
            update={"snapshot": merge.snapshot, "state": recovered, "last_error": None}
        )
    )
    audit_conflicts(fx, sx, merge)
    push(fx, sx, previous=previous, force=False)
    if merge.conflicts:
        reason = CONFLICT_REASON[sx.settings.conflict_policy]
    elif merge.accepted:
        reason = Reason.UPDATED
    elif merge.target_edits and link.attendee_copy and side is Side.SALESFORCE:
        reason = Reason.ATTENDEE_EDIT_NOT_SYNCED
    elif merge.target_edits:
        reason = Reason.TARGET_EDIT_KEPT if direction.flows_to(side) else Reason.DIRECTION_DISALLOWS
    else:
        reason = Reason.NO_SYNCED_FIELD_CHANGED
    return finish(fx, reason, changed=bool(merge.accepted or merge.conflicts))
