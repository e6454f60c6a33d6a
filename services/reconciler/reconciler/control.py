"""Control messages from the status API: configuration changes and reset sync (LS-83).

Reset drops the user's links and remembered records of one kind and closes the initial-sync
barrier; the connectors, which consume the same control message, re-snapshot the user, and the
barrier + matching rebuild the links without duplicates. Record data is never touched.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import asyncpg
from syncmodel import Control, ControlAction
from syncmodel.topics import CONTROL
from syncruntime.kafka import Consumed
from syncruntime.postgres import Conn
from syncruntime.postgres.tracking import record_position

from reconciler import roster
from reconciler.consumer import Clock, claim_position, utcnow

log = logging.getLogger(__name__)


async def reset_user(conn: Conn, control: Control) -> int:
    if control.user is None:
        return 0
    kinds = [control.kind.value] if control.kind is not None else ["contact", "event"]
    dropped = await conn.fetchval(
        "WITH gone AS (DELETE FROM links WHERE tenant_id = $1 AND user_id = $2"
        " AND kind = ANY($3::text[]) RETURNING 1) SELECT count(*) FROM gone",
        control.tenant,
        control.user,
        kinds,
    )
    await conn.execute(
        "DELETE FROM seen_records WHERE tenant_id = $1 AND user_id = $2 AND kind = ANY($3::text[])",
        control.tenant,
        control.user,
        kinds,
    )
    # The barrier is not touched here: the connectors announce their re-snapshot with
    # `initial_sync_in_progress` on the user's partition, which closes it in order (a control
    # message on its own topic could arrive after the snapshot has already completed).
    await conn.execute(
        "UPDATE reset_requests SET state = 'in_progress', updated_at = now(),"
        " progress = progress || jsonb_build_object('links_dropped', $3::int)"
        " WHERE tenant_id = $1 AND message_id = $2 AND state = 'queued'",
        control.tenant,
        control.id,
        int(dropped),
    )
    log.info(
        "reset sync: %d links dropped",
        dropped,
        extra={"tenant": control.tenant, "user": control.user},
    )
    return int(dropped)


class ControlHandler:
    def __init__(self, pool: asyncpg.Pool[Any], group: str, clock: Clock = utcnow) -> None:
        self.pool = pool
        self.group = group
        self.clock = clock

    async def __call__(self, batch: list[Consumed[Control]]) -> None:
        partition = batch[0].partition
        async with self.pool.acquire() as conn, conn.transaction():
            position = await claim_position(conn, self.group, CONTROL, partition)
            for item in batch:
                if item.offset < position:
                    continue
                await self.apply(conn, item.message, self.clock())
            await record_position(conn, self.group, CONTROL, partition, batch[-1].offset + 1)

    async def apply(self, conn: Conn, control: Control, now: dt.datetime) -> None:
        if control.action is ControlAction.RESET_SYNC:
            await reset_user(conn, control)
        if control.action in (ControlAction.CONFIGURATION_CHANGED, ControlAction.RESET_SYNC):
            await roster.refresh_roster(conn, control.tenant, now)
