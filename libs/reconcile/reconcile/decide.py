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
from enum import StrEnum

from syncmodel import CommandOutcome, Op, OutcomeStatus

from reconcile.changes import new_record, upsert
from reconcile.decision import DecideContext, Decision, Reason
from reconcile.deletes import closed_upsert, delete, held_delete, held_upsert
from reconcile.effects import Message, Rule, Situation, noop
from reconcile.link import Link, LinkState
from reconcile.outcomes import applied, conflict, failed, forget_write
from reconcile.settings import SyncSettings


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


def _ignore(reason: Reason) -> Rule:
    return lambda link, message, sx: noop(reason, link)


TRANSITIONS: dict[tuple[LinkSituation, Happening], Rule] = {
    # a record we have never paired: match it, else create its twin
    (LinkSituation.NO_LINK, Happening.UPSERT): new_record,
    # a delete of something we never synced
    (LinkSituation.NO_LINK, Happening.DELETE): _ignore(Reason.UNKNOWN_RECORD),
    # outcomes for links that no longer exist (reset) are history
    (LinkSituation.NO_LINK, Happening.APPLIED): _ignore(Reason.STALE_OUTCOME),
    (LinkSituation.NO_LINK, Happening.CONFLICT): _ignore(Reason.STALE_OUTCOME),
    (LinkSituation.NO_LINK, Happening.FAILED): _ignore(Reason.STALE_OUTCOME),
    # the everyday case: three-way merge and push
    (LinkSituation.ACTIVE, Happening.UPSERT): upsert,
    # deletes: guard, then LS-28 / LS-36
    (LinkSituation.ACTIVE, Happening.DELETE): delete,
    (LinkSituation.ACTIVE, Happening.APPLIED): applied,
    (LinkSituation.ACTIVE, Happening.CONFLICT): conflict,
    (LinkSituation.ACTIVE, Happening.FAILED): failed,
    # held by the mass-delete guard: a record that reappears resumes; deletes re-check the guard
    (LinkSituation.HELD, Happening.UPSERT): held_upsert,
    (LinkSituation.HELD, Happening.DELETE): held_delete,
    (LinkSituation.HELD, Happening.APPLIED): applied,
    (LinkSituation.HELD, Happening.CONFLICT): forget_write(Reason.MASS_DELETE_GUARD),
    (LinkSituation.HELD, Happening.FAILED): failed,
    # tombstoned: nothing comes back unless the survivor changes again (contacts)
    (LinkSituation.CLOSED, Happening.UPSERT): closed_upsert,
    (LinkSituation.CLOSED, Happening.DELETE): _ignore(Reason.TOMBSTONED),
    (LinkSituation.CLOSED, Happening.APPLIED): applied,
    (LinkSituation.CLOSED, Happening.CONFLICT): forget_write(Reason.TOMBSTONED),
    (LinkSituation.CLOSED, Happening.FAILED): failed,
}
