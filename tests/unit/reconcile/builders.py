"""Plain-data builders for the core's unit tests (h11 style: drive the machine with data)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from reconcile import Candidate, DecideContext, Decision, Link, LinkState, SyncSettings, decide
from syncmodel import (
    ChangeEvent,
    Command,
    CommandOutcome,
    Contact,
    Event,
    Kind,
    Op,
    OutcomeStatus,
    Side,
    SyncError,
)

EX, SF = Side.EXCHANGE, Side.SALESFORCE
NOW = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)
USER = "005U1"

ANN = Contact(first_name="Ann", last_name="Lee", email="ann@acme.example", company="Acme")


def meeting(**changes: object) -> Event:
    base = Event(
        subject="QBR",
        start=dt.datetime(2026, 3, 3, 9, 0, tzinfo=dt.UTC),
        end=dt.datetime(2026, 3, 3, 10, 0, tzinfo=dt.UTC),
        time_zone="Europe/Berlin",
        location="Room 1",
    )
    return base.model_copy(update=changes)


def change(
    side: Side,
    record_id: str,
    record: Any,
    *,
    version: str = "v1",
    op: Op = Op.UPDATE,
    ts: dt.datetime = NOW,
) -> ChangeEvent:
    kind = Kind.EVENT if isinstance(record, Event) else Kind.CONTACT
    return ChangeEvent(
        id=f"{side.value}/{record_id}/{version}",
        tenant="t1",
        user=USER,
        side=side,
        kind=kind,
        op=op,
        record_id=record_id,
        version=version,
        after=record,
        source_ts=ts,
        captured_ts=ts,
    )


def deleted(side: Side, record_id: str, kind: Kind = Kind.CONTACT) -> ChangeEvent:
    return ChangeEvent(
        id=f"{side.value}/{record_id}/gone",
        tenant="t1",
        user=USER,
        side=side,
        kind=kind,
        op=Op.DELETE,
        record_id=record_id,
        version="gone",
        captured_ts=NOW,
    )


def outcome(
    command: Command,
    status: OutcomeStatus = OutcomeStatus.APPLIED,
    *,
    version: str | None = "w1",
    record_id: str | None = None,
    record: Contact | Event | None = None,
    error: SyncError | None = None,
    attempt: int = 1,
) -> CommandOutcome:
    return CommandOutcome(
        id=f"out-{command.id}-{status.value}-{attempt}",
        command_id=command.id,
        tenant="t1",
        user=USER,
        side=command.side,
        kind=command.kind,
        link_id=command.link_id,
        status=status,
        record_id=record_id or command.record_id,
        version=version,
        record=record if record is not None else command.record,
        error=error,
        applied_ts=NOW,
    )


def linked(settings: SyncSettings, exchange: Contact | Event, salesforce: Contact | Event) -> Link:
    """A link made the way the core makes it: a new Exchange record matched to a Salesforce one.

    The two records must match (LS-71/72) and be equal, so no write is pending.
    """
    candidate = Candidate(side=SF, record_id="sf1", version="s1", record=salesforce)
    decision = decide(
        None,
        change(EX, "ex1", exchange, version="e1", op=Op.CREATE),
        settings,
        NOW,
        context=DecideContext(candidates=(candidate,)),
    )
    assert decision.next_link is not None
    assert decision.next_link.state is LinkState.LINKED
    assert not decision.commands
    return decision.next_link


def only_command(decision: Decision) -> Command:
    assert len(decision.commands) == 1, decision
    return decision.commands[0]
