"""Command outcomes: applied writes update the link, conflicts re-merge, failures retry or fail."""

from __future__ import annotations

from syncmodel import (
    CommandAction,
    CommandOutcome,
    Contact,
    Event,
    SyncError,
)

from reconcile.changes import change
from reconcile.decision import (
    Decision,
    Outcome,
    Reason,
    RecordError,
)
from reconcile.effects import (
    Effects,
    Message,
    Rule,
    Situation,
    finish,
    issue_delete,
    noop,
    push,
    source_gone_before_create_landed,
)
from reconcile.fields import to_canonical
from reconcile.link import Link, LinkState
from reconcile.normalize import fingerprint


def applied(link: Link | None, message: Message, sx: Situation) -> Decision:
    assert isinstance(message, CommandOutcome)
    pending = link.pending_by_id(message.command_id) if link else None
    if link is None or pending is None:
        return noop(Reason.STALE_OUTCOME, link)
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
    if command.action is CommandAction.CREATE and source_gone_before_create_landed(link, side, sx):
        issue_delete(fx, sx, side)
        return finish(fx, Reason.DELETED)
    push(fx, sx, previous=link.snapshot, force=True)
    return finish(fx, Reason.UPDATED if fx.commands else Reason.APPLIED, changed=True)


def conflict(link: Link | None, message: Message, sx: Situation) -> Decision:
    """The target changed under our write: merge its fresh state, then write again."""
    assert isinstance(message, CommandOutcome)
    pending = link.pending_by_id(message.command_id) if link else None
    if link is None or pending is None:
        return noop(Reason.STALE_OUTCOME, link)
    side = pending.command.side
    link = link.without_pending(side)
    record = message.record
    if link.state is not LinkState.LINKED:
        return noop(Reason.CONFLICT_AWAITING_FRESH_STATE, link)
    if not isinstance(record, Contact | Event):
        if not pending.observed_after:
            # The edit that beat our write is on its way as a capture; it brings the fresh
            # state, and deciding it writes again.
            return noop(Reason.CONFLICT_AWAITING_FRESH_STATE, link)
        # Its capture came first and is merged already (the record may be quiet from now on,
        # so nothing else would write): write what the snapshot holds beyond it, against the
        # version that capture saw.
        fx = Effects(link)
    else:
        decision = change(
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
    return finish(fx, Reason.CONFLICT_RETRIED, changed=True)


def failed(link: Link | None, message: Message, sx: Situation) -> Decision:
    """Transient failures are retried (same command id) up to a bound; the rest are errors."""
    assert isinstance(message, CommandOutcome)
    pending = link.pending_by_id(message.command_id) if link else None
    if link is None or pending is None:
        return noop(Reason.STALE_OUTCOME, link)
    error = message.error or SyncError(code="write_failed", message="the write failed")
    if pending.last_outcome_id == message.id:
        return noop(Reason.STALE_OUTCOME, link)  # the same failure delivered twice
    if error.retryable and pending.attempts < sx.settings.max_attempts:
        delay = error.retry_after_s or sx.settings.retry_base_s * 2 ** (pending.attempts - 1)
        retried = link.with_pending(
            pending.model_copy(
                update={"attempts": pending.attempts + 1, "last_outcome_id": message.id}
            )
        )
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


def forget_write(reason: Reason) -> Rule:
    """An outcome we no longer act on: the write is over, so it stops being in flight."""

    def rule(link: Link | None, message: Message, sx: Situation) -> Decision:
        assert isinstance(message, CommandOutcome)
        pending = link.pending_by_id(message.command_id) if link else None
        if link is None or pending is None:
            return noop(Reason.STALE_OUTCOME, link)
        return noop(reason, link.without_pending(pending.command.side))

    return rule
