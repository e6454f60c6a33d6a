"""Users: list with per-object status, one user's status rows (ST-20..41), record explain,
and reset sync (LS-83)."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from pydantic import JsonValue
from reconcile.settings import effective_configuration
from syncmodel import Kind
from syncmodel.messages import ControlAction

from status_api import queries
from status_api.control import send_control
from status_api.decisions import explain
from status_api.deps import AdminAccess, Pool, ReadAccess, TenantId, UserId
from status_api.errors import Conflict, NotFound
from status_api.policy import load_policy
from status_api.routes.status import error_out
from status_api.schemas import (
    ID_PATTERN,
    RECORD_ID_PATTERN,
    ObjectKind,
    RecordExplanation,
    ResetCreate,
    ResetOut,
    Side,
    UserPage,
    UserStatus,
    UserSummary,
)
from status_api.statuses import DirectionState, Health, LinkState, ResetState, StatusId
from status_api.system_status import row
from status_api.user_status import user_summary

router = APIRouter(tags=["users"])
RecordId = Annotated[str, Path(pattern=RECORD_ID_PATTERN)]
RequestId = Annotated[str, Path(pattern=ID_PATTERN)]


def _status_rows(rows: list[Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(r["user_id"], r["side"], r["object"]): dict(r) for r in rows}


async def _summaries(conn: Any, tenant_id: str, users: list[Any]) -> list[UserSummary]:
    configurations, assignments = await load_policy(conn, tenant_id)
    ids = [u["user_id"] for u in users] + [""]
    statuses = _status_rows(await conn.fetch(queries.USER_STATUSES, tenant_id, ids))
    summaries = []
    today = dt.datetime.now(dt.UTC).date()
    for user in users:
        chosen, _ = effective_configuration(
            user["user_id"], user["profile_id"], configurations, assignments
        )
        summaries.append(user_summary(user, chosen, statuses, today))
    return summaries


@router.get("/tenants/{tenant_id}/users")
async def list_users(
    tenant_id: TenantId,
    _: ReadAccess,
    pool: Pool,
    link_state: LinkState | None = None,
    profile_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    active: bool | None = None,
    q: Annotated[str | None, Query(min_length=1, max_length=100, pattern=r"^[^\x00]*$")] = None,
    assigned: bool | None = None,
    state: Annotated[
        DirectionState | None, Query(description="Users with at least one object in this state.")
    ] = None,
    cursor: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> UserPage:
    """Users by id. `assigned` and `state` filter within each page of `limit` users, so a page
    may hold fewer items; follow `next_cursor` until it is null."""
    async with pool.acquire() as conn:
        users = await conn.fetch(
            queries.USERS + " LIMIT $7",
            tenant_id,
            cursor,
            link_state.value if link_state else None,
            q,
            profile_id,
            active,
            limit,
        )
        summaries = await _summaries(conn, tenant_id, list(users))
    next_cursor = users[-1]["user_id"] if len(users) == limit else None
    items = [
        s
        for s in summaries
        if (assigned is None or s.assigned == assigned)
        and (state is None or any(o.state is state for o in s.objects))
    ]
    return UserPage(items=items, next_cursor=next_cursor)


@router.get("/tenants/{tenant_id}/users/{user_id}")
async def get_user_status(
    tenant_id: TenantId, user_id: UserId, _: ReadAccess, pool: Pool
) -> UserStatus:
    """The Lightning Sync Status page for one user (ST-20..ST-41)."""
    async with pool.acquire() as conn:
        user = await conn.fetchrow(queries.USER, tenant_id, user_id)
        if user is None:
            raise NotFound("user not found")
        (summary,) = await _summaries(conn, tenant_id, [user])
    rows = [
        row(StatusId.ST_20, True, Health.OK, summary.configuration_id)
        if summary.assigned
        else row(StatusId.ST_21, False, Health.ERROR),
        row(
            summary.link_status_id,
            summary.link_state.value,
            Health.OK if summary.link_state is LinkState.LINKED else Health.ERROR,
            summary.link_detail,
        ),
    ]
    if summary.reset_in_progress:
        rows.append(row(StatusId.ST_22, "in progress", Health.INFO))
    for status in summary.objects:
        label = f"{status.object.value}: {status.direction.value}"
        health = {
            DirectionState.ERROR: Health.ERROR,
            DirectionState.FOLDER_MISSING: Health.ERROR,
            DirectionState.NOT_STARTED: Health.WARNING,
            DirectionState.NOT_SYNCING: Health.INFO,
        }.get(status.state, Health.OK)
        rows.append(row(status.status_id, status.state.value, health, status.detail or label))
        last = status.last_sync.isoformat() if status.last_sync else None
        rows.append(row(StatusId.ST_41, last, Health.INFO, label))
    return UserStatus(user=summary, rows=rows)


def _side_field(state: dict[str, JsonValue], side: str, field: str) -> JsonValue:
    """A per-side value of the link state (reconcile.link.Link: `exchange`/`salesforce`)."""
    nested = state.get(side)
    if isinstance(nested, dict) and field in nested:
        return nested[field]
    return state.get(f"{side}_{field}")


@router.get("/tenants/{tenant_id}/users/{user_id}/records/{side}/{record_id}")
async def explain_record(
    tenant_id: TenantId,
    user_id: UserId,
    side: Side,
    record_id: RecordId,
    _: ReadAccess,
    pool: Pool,
    object: ObjectKind | None = None,
) -> RecordExplanation:
    """The link of one record, both versions, and the reconciler's last decision and why."""
    async with pool.acquire() as conn:
        link = await conn.fetchrow(
            queries.LINK_BY_RECORD,
            tenant_id,
            user_id,
            side.value,
            record_id,
            object.value if object else None,
        )
        if link is None:
            seen = await conn.fetchrow(
                queries.SEEN_BY_RECORD,
                tenant_id,
                user_id,
                side.value,
                record_id,
                object.value if object else None,
            )
            if seen is None:
                raise NotFound("Syncline has not captured this record (or it was deleted)")
            ids = (record_id, None) if side is Side.EXCHANGE else (None, record_id)
            errors = await conn.fetch(queries.LINK_ERRORS, tenant_id, user_id, None, *ids)
            return _unlinked(seen, side, errors)
        errors = await conn.fetch(
            queries.LINK_ERRORS,
            tenant_id,
            user_id,
            link["link_id"],
            link["exchange_id"],
            link["salesforce_id"],
        )
        audit = await conn.fetch(queries.LINK_AUDIT, tenant_id, user_id, link["link_id"])
    state = link["state"] if isinstance(link["state"], dict) else {}
    reason = link["last_reason"]
    decision, text = explain(reason)
    return RecordExplanation(
        link_id=link["link_id"],
        object=link["kind"],
        exchange_id=link["exchange_id"],
        salesforce_id=link["salesforce_id"],
        closed=link["closed"],
        last_decision=reason,
        decision=decision,
        last_decision_text=text,
        exchange_version=_side_field(state, "exchange", "version"),
        salesforce_version=_side_field(state, "salesforce", "version"),
        exchange_snapshot=_side_field(state, "exchange", "content"),
        salesforce_snapshot=_side_field(state, "salesforce", "content"),
        state=state,
        errors=[error_out(e) for e in errors],
        audit=[
            {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in dict(a).items()}
            for a in audit
        ],
        updated_at=link["updated_at"],
    )


def _unlinked(seen: Any, side: Side, errors: list[Any]) -> RecordExplanation:
    """A captured record with no link: why not, from the reconciler's last decision about it."""
    change = seen["change"] if isinstance(seen["change"], dict) else {}
    reason = seen["last_reason"]
    decision, text = explain(reason)
    if seen["deferred"] and reason == "awaiting_create_outcome":
        text = (
            "Waiting: may be the copy Syncline is creating on this side; held until that"
            " create's outcome is in (no duplicate, LS-71)."
        )
    elif seen["deferred"]:
        text = "Waiting: held until both sides have finished their initial sync (LS-71)."
    version = change.get("version")
    return RecordExplanation(
        link_id=None,
        object=seen["kind"],
        exchange_id=seen["record_id"] if side is Side.EXCHANGE else None,
        salesforce_id=seen["record_id"] if side is Side.SALESFORCE else None,
        closed=False,
        last_decision=reason,
        decision=decision,
        last_decision_text=text,
        exchange_version=version if side is Side.EXCHANGE else None,
        salesforce_version=version if side is Side.SALESFORCE else None,
        exchange_snapshot=None,
        salesforce_snapshot=None,
        state={},
        errors=[error_out(e) for e in errors],
        audit=[],
        updated_at=seen["updated_at"],
    )


def reset_out(r: Any) -> ResetOut:
    state = ResetState(r["state"])
    progress = dict(r["progress"])
    if state is ResetState.QUEUED and r["dispatched"]:
        state = ResetState.DISPATCHED
    if state is ResetState.IN_PROGRESS:
        progress["resnapshotted"] = list(r["resnapshotted"])
        if {"exchange", "salesforce"} <= set(r["resnapshotted"]):
            state = ResetState.COMPLETED
    return ResetOut(
        request_id=r["request_id"],
        user_id=r["user_id"],
        object=ObjectKind(r["kind"]),
        state=state,
        progress=progress,
        detail=r["detail"],
        requested_at=r["requested_at"],
        updated_at=r["updated_at"],
        completed_at=r["completed_at"],
    )


@router.post(
    "/tenants/{tenant_id}/users/{user_id}/resets",
    status_code=202,
    responses={200: {"model": ResetOut, "description": "A reset of this object is already open."}},
)
async def request_reset(
    tenant_id: TenantId,
    user_id: UserId,
    body: ResetCreate,
    _: AdminAccess,
    pool: Pool,
    response: Response,
) -> ResetOut:
    """LS-83: clear and rebuild the user's links for one object, asynchronously. Idempotent:
    while a reset of the same object is open, the open one is returned (200)."""
    async with pool.acquire() as conn, conn.transaction():
        exists = await conn.fetchval(
            "SELECT 1 FROM sync_users WHERE tenant_id = $1 AND user_id = $2", tenant_id, user_id
        )
        if exists is None:
            raise NotFound("user not found")
        await conn.execute(queries.SETTLE_RESETS, tenant_id, user_id)
        request_id = "rst_" + secrets.token_hex(8)
        message_id = f"control/{tenant_id}/reset/{request_id}"
        created = await conn.fetchval(
            queries.INSERT_RESET, request_id, tenant_id, user_id, body.object.value, message_id
        )
        if created is not None:
            await send_control(
                conn,
                tenant_id,
                ControlAction.RESET_SYNC,
                user_id=user_id,
                kind=Kind(body.object.value),
                message_id=message_id,
            )
        else:
            response.status_code = 200
        r = await conn.fetchrow(queries.OPEN_RESET, tenant_id, user_id, body.object.value)
        if r is None:  # the open reset finished between our insert attempt and this read
            raise Conflict("a reset just completed; request again to start a new one")
    return reset_out(r)


@router.get("/tenants/{tenant_id}/users/{user_id}/resets")
async def list_resets(
    tenant_id: TenantId, user_id: UserId, _: ReadAccess, pool: Pool
) -> list[ResetOut]:
    return [reset_out(r) for r in await pool.fetch(queries.RESETS, tenant_id, user_id)]


@router.get("/tenants/{tenant_id}/users/{user_id}/resets/{request_id}")
async def get_reset(
    tenant_id: TenantId, user_id: UserId, request_id: RequestId, _: ReadAccess, pool: Pool
) -> ResetOut:
    r = await pool.fetchrow(queries.RESET, tenant_id, user_id, request_id)
    if r is None:
        raise NotFound("reset request not found")
    return reset_out(r)
