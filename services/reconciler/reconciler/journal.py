"""What the reconciler records for people: per-record errors (LS-82), the audit log of
overwrites and conflict decisions (LS-73), and per-user, per-object status (ST-20..ST-41)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from reconcile import AuditEntry, Decision, Link, Outcome, RecordError
from syncmodel import ChangeEvent, CommandOutcome, ConnectorStatus, Side, SyncError
from syncruntime.postgres import Conn

EVENT_UNRESOLVED = "event_unresolved"
"""The error code of an event's Unresolved Items (LS-46)."""


def direction_of(side: Side) -> str:
    """The direction of a write to `side`."""
    return "salesforce_to_exchange" if side is Side.EXCHANGE else "exchange_to_salesforce"


def error_direction(error: RecordError, message: ChangeEvent | CommandOutcome) -> str:
    """An error names the side of the record it is about: the captured record itself (it could
    not go to the other side) or the target of a write (it could not be written there)."""
    if isinstance(message, ChangeEvent) and error.side is message.side:
        return direction_of(error.side.other)
    return direction_of(error.side)


async def record_errors(
    conn: Conn,
    message: ChangeEvent | CommandOutcome,
    errors: tuple[RecordError, ...],
    link: Link | None,
) -> None:
    tenant, user = message.tenant, message.user
    for err in errors:
        exchange_id = link.record_id(Side.EXCHANGE) if link else None
        salesforce_id = link.record_id(Side.SALESFORCE) if link else None
        if err.side is Side.EXCHANGE:
            exchange_id = exchange_id or err.record_id
        else:
            salesforce_id = salesforce_id or err.record_id
        record_key = err.link_id or f"{err.side.value}:{err.record_id}"
        await conn.execute(
            """
            INSERT INTO sync_errors (tenant_id, user_id, kind, direction, record_key, link_id,
                exchange_id, salesforce_id, code, reason, remediation, retryable)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
            ON CONFLICT (tenant_id, user_id, kind, direction, record_key, code) DO UPDATE SET
                attempts = sync_errors.attempts + 1, last_seen = now(), resolved_at = NULL,
                reason = EXCLUDED.reason, remediation = EXCLUDED.remediation,
                exchange_id = COALESCE(EXCLUDED.exchange_id, sync_errors.exchange_id),
                salesforce_id = COALESCE(EXCLUDED.salesforce_id, sync_errors.salesforce_id)
            """,
            tenant,
            user,
            err.kind.value,
            error_direction(err, message),
            record_key,
            err.link_id,
            exchange_id,
            salesforce_id,
            err.error.code,
            err.error.message,
            err.error.remediation,
            err.error.retryable,
        )


RESOLVE_ERRORS = """
    UPDATE sync_errors e SET resolved_at = now()
      FROM unnest($1::text[], $2::text[], $3::text[]) AS k(tenant_id, user_id, link_id)
     WHERE e.tenant_id = k.tenant_id AND e.user_id = k.user_id AND e.link_id = k.link_id
       AND e.resolved_at IS NULL AND e.code <> $4
"""


async def resolve_errors(conn: Conn, links: Sequence[tuple[str, str, str]]) -> None:
    """Links that synced again, (tenant, user, link id), close their open errors (they stay in
    the report as resolved); one statement for a batch. Unresolved Items stay open: syncing
    again doesn't relate the event (LS-46)."""
    if not links:
        return
    await conn.execute(
        RESOLVE_ERRORS,
        [k[0] for k in links],
        [k[1] for k in links],
        [k[2] for k in links],
        EVENT_UNRESOLVED,
    )


async def record_unresolved(
    conn: Conn, message: ChangeEvent | CommandOutcome, decision: Decision
) -> None:
    """LS-46: attendees auto-relate could not relate go to the rep's Unresolved Items, reported
    as a per-record item of the event (LS-38: and the ones beyond Salesforce's relation limit,
    which stay in Exchange only)."""
    link = decision.next_link
    parts: list[str] = []
    if decision.unresolved_attendees:
        parts.append(
            "no single Salesforce contact or lead for " + ", ".join(decision.unresolved_attendees)
        )
    if decision.unrelated_attendees:
        parts.append(
            "beyond Salesforce's relation limit, kept in Exchange only: "
            + ", ".join(decision.unrelated_attendees)
        )
    if not parts or link is None:
        return
    item = RecordError(
        link_id=link.link_id,
        kind=link.kind,
        side=Side.SALESFORCE,
        record_id=link.record_id(Side.SALESFORCE),
        error=SyncError(
            code=EVENT_UNRESOLVED,
            message="Attendees not related to the event: " + "; ".join(parts) + ".",
            remediation="Relate the event to the right contacts or lead in Salesforce.",
        ),
    )
    await record_errors(conn, message, (item,), link)


async def record_truncations(
    conn: Conn, tenant: str, user: str, decision: Decision, now: dt.datetime
) -> None:
    """LS-82: a value cut to fit a Salesforce field is recorded in the audit trail, so nobody
    wonders where the text went (the other side keeps the full value)."""
    link = decision.next_link
    if not decision.truncations or link is None:
        return
    await conn.executemany(
        """
        INSERT INTO audit_log (tenant_id, user_id, link_id, kind, action, field, old_value,
                               new_value, policy, reason, at)
        VALUES ($1, $2, $3, $4, 'truncate_salesforce', $5, $6, $7, NULL, 'truncated', $8)
        """,
        [
            (
                tenant,
                user,
                link.link_id,
                link.kind.value,
                note.field,
                {"length": note.original_length},
                {"max_length": note.max_length},
                now,
            )
            for note in decision.truncations
        ],
    )


async def record_audit(
    conn: Conn, tenant: str, user: str, entries: tuple[AuditEntry, ...], policy: str
) -> None:
    if not entries:
        return
    await conn.executemany(
        """
        INSERT INTO audit_log (tenant_id, user_id, link_id, kind, action, field, old_value,
                               new_value, policy, reason, at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
        """,
        [
            (
                tenant,
                user,
                e.link_id,
                e.kind.value,
                f"overwrite_{e.side.value}",
                e.field,
                e.old_value,
                e.new_value,
                policy,
                e.reason.value,
                e.ts,
            )
            for e in entries
        ],
    )


SyncKey = tuple[str, str, str, str]
"""(tenant, user, kind, direction) of writes that were applied."""


def synced(message: ChangeEvent | CommandOutcome, decision: Decision) -> SyncKey | None:
    """The activity an applied write adds to its user's status (None: not a write applied)."""
    if decision.outcome is not Outcome.APPLY or not isinstance(message, CommandOutcome):
        return None
    return (message.tenant, message.user, message.kind.value, direction_of(message.side))


async def count_sync(conn: Conn, counts: Mapping[SyncKey, int], now: dt.datetime) -> None:
    """Per-user, per-object activity: last sync time per direction and counts per day (one
    pipelined upsert per user, object and direction of a batch)."""
    if not counts:
        return
    day = now.date().isoformat()
    await conn.executemany(
        """
        INSERT INTO statuses (tenant_id, user_id, side, object, state, last_capture, counters)
        VALUES ($1, $2, 'reconciler', $3, 'in_sync', $4, $5)
        ON CONFLICT (tenant_id, user_id, side, object) DO UPDATE SET
            state = 'in_sync',
            last_capture = statuses.last_capture || EXCLUDED.last_capture,
            counters = jsonb_set(
                CASE WHEN statuses.counters->>'day' = $6 THEN statuses.counters
                     ELSE jsonb_build_object('day', $6) END,
                ARRAY[$7::text],
                to_jsonb(COALESCE((CASE WHEN statuses.counters->>'day' = $6
                                   THEN statuses.counters->>$7 END)::int, 0) + $8)),
            updated_at = now()
        """,
        [
            (
                tenant,
                user,
                kind,
                {direction: now.isoformat()},
                {"day": day, direction: count},
                day,
                direction,
                count,
            )
            for (tenant, user, kind, direction), count in counts.items()
        ],
    )


async def record_connector_statuses(conn: Conn, statuses: Sequence[ConnectorStatus]) -> None:
    """The connectors' reports, in order (a later one of the same user and side wins; capture
    times and counters merge), in one pipelined round trip."""
    if not statuses:
        return
    await conn.executemany(
        """
        INSERT INTO statuses (tenant_id, user_id, side, object, state, detail, next_attempt_at,
                              last_capture, counters)
        VALUES ($1, $2, $3, 'connection', $4, $5, $6, $7, $8)
        ON CONFLICT (tenant_id, user_id, side, object) DO UPDATE SET
            state = EXCLUDED.state, detail = EXCLUDED.detail,
            next_attempt_at = EXCLUDED.next_attempt_at,
            last_capture = statuses.last_capture || EXCLUDED.last_capture,
            counters = statuses.counters || EXCLUDED.counters, updated_at = now()
        """,
        [
            (
                status.tenant,
                status.user or "",
                status.side.value,
                status.state.value,
                status.detail,
                status.next_attempt_ts,
                {k.value: v.isoformat() for k, v in status.last_capture.items()},
                {"api_budget_used": status.api_budget_used}
                if status.api_budget_used is not None
                else {},
            )
            for status in statuses
        ],
    )
