"""Deletes, the mass-delete guard, held links and tombstones (LS-28, LS-36, no resurrection)."""

from __future__ import annotations

from syncmodel import (
    ChangeEvent,
    CommandAction,
    Contact,
    ErrorScope,
    Event,
    Kind,
    SyncError,
)

from reconcile.changes import upsert
from reconcile.decision import (
    Decision,
    Outcome,
    Reason,
    RecordError,
    UserContext,
)
from reconcile.effects import (
    Effects,
    Message,
    Situation,
    change_ts,
    effective_direction,
    finish,
    issue_delete,
    noop,
    push,
    record_of,
)
from reconcile.fields import to_canonical
from reconcile.link import Link, LinkState, SideState
from reconcile.normalize import fingerprint
from reconcile.settings import SyncSettings


def guard_trips(user: UserContext | None, settings: SyncSettings) -> bool:
    if user is None or user.deletes_confirmed:
        return False
    deletes = user.recent_deletes + 1
    share = deletes / max(user.linked_records, 1)
    return deletes >= settings.mass_delete_min_count and share > settings.mass_delete_share


def delete(link: Link | None, message: Message, sx: Situation) -> Decision:
    assert link is not None
    assert isinstance(message, ChangeEvent)
    side = message.side
    state = link.side(side)
    if state.deleted:
        return noop(Reason.TOMBSTONED, link)
    if guard_trips(sx.context.user_context, sx.settings):
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
        return finish(fx, Reason.CONTACT_DELETE_NOT_PROPAGATED, changed=True)
    other = fx.link.side(side.other)
    if (
        sx.settings.remove_deleted_events
        and effective_direction(link, sx.settings).flows_to(side.other)
        and other.record_id is not None
        and not other.deleted
    ):
        issue_delete(fx, sx, side.other)
        return finish(fx, Reason.DELETED)
    return finish(fx, Reason.EVENT_DELETE_NOT_PROPAGATED, changed=True)


def held_upsert(link: Link | None, message: Message, sx: Situation) -> Decision:
    """A held record that shows up again (the folder came back) resumes syncing."""
    assert link is not None
    assert isinstance(message, ChangeEvent)
    if message.side is not link.deleted_side:
        return upsert(link, message, sx)
    restored = link.model_copy(update={"state": LinkState.LINKED, "deleted_side": None})
    decision = upsert(restored, message, sx)
    if decision.outcome is Outcome.NOOP:
        return decision.model_copy(
            update={"reason": Reason.RESTORED_AFTER_HOLD, "outcome": Outcome.APPLY}
        )
    return decision


def held_delete(link: Link | None, message: Message, sx: Situation) -> Decision:
    """Deletes of a held link go through the guard again (confirmed deletes pass)."""
    assert link is not None
    return delete(link.model_copy(update={"state": LinkState.LINKED}), message, sx)


def closed_upsert(link: Link | None, message: Message, sx: Situation) -> Decision:
    """Tombstones prevent resurrection; a surviving contact that changes again is recreated."""
    assert link is not None
    assert isinstance(message, ChangeEvent)
    side, record = message.side, record_of(message)
    state, pending = link.side(side), link.pending_to(side)
    written = pending.command.record if pending is not None else None
    if (
        record is not None
        and state.record_id is None
        and pending is not None
        and pending.command.action is CommandAction.CREATE
        and record.marker == link.link_id
        and isinstance(written, Contact | Event)
    ):  # our create landed after the other side was deleted: it is the survivor now
        state = SideState(
            record_id=message.record_id,
            fingerprint=fingerprint(written),
            content=to_canonical(written, side, sx.mappings(link.kind)),
            version_is_ours=True,
        )
        link = link.with_side(side, state)
    if record is None or state.deleted or state.record_id != message.record_id:
        return noop(Reason.TOMBSTONED, link)
    seen = state.model_copy(update={"version": message.version})
    if message.version == state.version or fingerprint(record) == state.fingerprint:
        return noop(Reason.TOMBSTONED, link.without_pending(side).with_side(side, seen))
    content = to_canonical(record, side, sx.mappings(link.kind))
    if isinstance(written, Contact | Event) and content == to_canonical(
        written, side, sx.mappings(link.kind)
    ):  # the echo of a write that was in flight when the other side was deleted
        echoed = seen.model_copy(
            update={"fingerprint": fingerprint(record), "content": content, "version_is_ours": True}
        )
        return noop(Reason.ECHO_OF_OWN_WRITE, link.without_pending(side).with_side(side, echoed))
    if pending is not None:
        link = link.with_pending(pending.model_copy(update={"observed_after": True}))
    other = link.side(side.other)
    direction = effective_direction(link, sx.settings)
    if link.kind is not Kind.CONTACT or not other.deleted or not direction.flows_to(side.other):
        return noop(Reason.TOMBSTONED, link.with_side(side, seen))
    revived = link.with_side(
        side,
        SideState(
            record_id=state.record_id,
            version=message.version,
            fingerprint=fingerprint(record),
            content=content,
            changed_ts=change_ts(message),
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
    return finish(fx, Reason.RECREATED_AFTER_CHANGE, changed=True)
