"""Commands a connector gave up on come back as failed outcomes.

A connector dead-letters a command its handler failed on `max_attempts` times in a row
(`syncruntime.kafka.consumer`); no outcome ever follows. The link would wait for it for good:
its pending write never settles, a record held as the possible echo of that create stays held,
and nothing tells the admin. This consumer reads `syncline.dlq`, and for every dead-lettered
command queues a `failed` outcome of it on `syncline.changes` (through the outbox, keyed to the
command's user, so it lands in that user's order like any outcome). The reconciler then does
what it does with a permanent failure: the link goes to error with a per-record reason, and
what was held for the create is decided again.

Idempotent without stored offsets: the outcome's id (and outbox message id) is derived from
the letter's place in the DLQ, so a redelivered letter queues nothing new, and a second
outcome for the same failure is recognized as stale by the core.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import asyncpg
from syncmodel import (
    Command,
    CommandOutcome,
    DeadLetter,
    InvalidMessage,
    OutcomeStatus,
    SyncError,
    bus_key,
    decode,
)
from syncmodel.topics import CHANGES
from syncruntime.kafka import Consumed
from syncruntime.postgres.outbox import append_many

from reconciler.consumer import Clock, utcnow

log = logging.getLogger(__name__)


def decode_letter(raw: bytes | None) -> DeadLetter | None:
    """A letter, or None for anything else on the topic: this loop must never dead-letter into
    the topic it reads."""
    try:
        return decode(DeadLetter, raw)
    except InvalidMessage:
        return None


def outcome_of(letter: DeadLetter, now: dt.datetime) -> CommandOutcome | None:
    """The failed outcome of a dead-lettered command; None if the letter holds no command."""
    try:
        command = decode(Command, letter.value)
    except InvalidMessage:
        return None
    return CommandOutcome.of(
        command,
        outcome_id=f"dlq/{letter.topic}/{letter.partition}/{letter.offset}",
        status=OutcomeStatus.FAILED,
        record_id=command.record_id,
        error=SyncError(
            code="write_abandoned",
            message=(
                f"The {command.side.value} connector gave up on this {command.action.value}"
                f" after repeated failures: {letter.error}"
            )[:2000],
            remediation=(
                "See the connector's log for this command id; the record is written again"
                " when it next changes, or reset sync for the user."
            ),
        ),
        applied_ts=now,
    )


class DeadLetterHandler:
    def __init__(self, pool: asyncpg.Pool[Any], group: str, clock: Clock = utcnow) -> None:
        self.pool = pool
        self.group = group
        self.clock = clock
        self.queued = 0

    async def __call__(self, batch: list[Consumed[DeadLetter | None]]) -> None:
        now = self.clock()
        rows: list[tuple[str, str, str, CommandOutcome, dt.datetime | None]] = []
        for item in batch:
            letter = item.message
            if letter is None or letter.consumer == self.group:
                continue
            outcome = outcome_of(letter, now)
            if outcome is None:
                continue
            log.warning(
                "command %s dead-lettered by %s: reporting it failed",
                outcome.command_id,
                letter.consumer,
                extra={"tenant": outcome.tenant, "user": outcome.user},
            )
            rows.append((outcome.id, CHANGES, bus_key(outcome.tenant, outcome.user), outcome, None))
        if rows:
            async with self.pool.acquire() as conn:
                await append_many(conn, rows)
            self.queued += len(rows)
