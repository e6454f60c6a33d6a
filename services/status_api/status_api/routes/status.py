"""Tenant system status (ST-1..ST-15), the per-record error report (LS-82, JSON or CSV), and
the catalogue of documented status values."""

from __future__ import annotations

import csv
import datetime as dt
import io
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response
from pydantic import AwareDatetime

from status_api import queries
from status_api.catalog import catalog_json, entry
from status_api.connection_test.stages import StageId, StageOutcome
from status_api.decisions import DecisionReason
from status_api.deps import Authenticated, Pool, ReadAccess, TenantId
from status_api.error_codes import ErrorCategory, categorize
from status_api.schemas import (
    ID_PATTERN,
    CatalogEntry,
    ErrorPage,
    ObjectKind,
    SyncDirection,
    SyncErrorOut,
    SystemStatus,
)
from status_api.statuses import DirectionState, Health, LinkState, ResetState, StatusId
from status_api.system_status import TenantFacts, system_rows

router = APIRouter(tags=["status"])

_USERS_LINKED = "SELECT count(*) FROM sync_users WHERE tenant_id = $1 AND link_state = 'linked'"
_USERS_ASSIGNED = """
SELECT count(*) FROM sync_users u
WHERE u.tenant_id = $1 AND u.is_active AND EXISTS (
    SELECT 1 FROM assignments a JOIN configurations c USING (tenant_id, configuration_id)
    WHERE a.tenant_id = u.tenant_id AND c.active
      AND ((a.principal_type = 'user' AND a.principal_id = u.user_id)
        OR (a.principal_type = 'profile' AND a.principal_id = u.profile_id)))
"""


@router.get("/tenants/{tenant_id}/status")
async def get_system_status(tenant_id: TenantId, _: ReadAccess, pool: Pool) -> SystemStatus:
    async with pool.acquire() as conn:
        connections = {
            r["kind"]: r["config"] for r in await conn.fetch(queries.CONNECTIONS, tenant_id)
        }
        facts = TenantFacts(
            now=dt.datetime.now(dt.UTC),
            connections=connections,
            statuses=[dict(r) for r in await conn.fetch(queries.TENANT_STATUSES, tenant_id)],
            users_linked=await conn.fetchval(_USERS_LINKED, tenant_id),
            users_assigned=await conn.fetchval(_USERS_ASSIGNED, tenant_id),
            active_configurations=await conn.fetchval(
                "SELECT count(*) FROM configurations WHERE tenant_id = $1 AND active", tenant_id
            ),
            open_errors=await conn.fetchval(
                "SELECT count(*) FROM sync_errors WHERE tenant_id = $1 AND resolved_at IS NULL",
                tenant_id,
            ),
        )
    return SystemStatus(tenant_id=tenant_id, generated_at=facts.now, rows=system_rows(facts))


def error_out(row: Any) -> SyncErrorOut:
    category = categorize(row["code"])
    return SyncErrorOut(
        id=row["id"],
        user_id=row["user_id"],
        object=row["kind"],
        direction=row["direction"],
        record_key=row["record_key"],
        link_id=row["link_id"],
        exchange_id=row["exchange_id"],
        salesforce_id=row["salesforce_id"],
        code=row["code"],
        category=category,
        reason=row["reason"],
        remediation=row["remediation"] or entry(category).fix,
        retryable=row["retryable"],
        attempts=row["attempts"],
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
        resolved_at=row["resolved_at"],
    )


_CSV_COLUMNS = list(SyncErrorOut.model_fields)


def _csv_cell(value: object) -> str:
    text = (
        "" if value is None else value.isoformat() if isinstance(value, dt.datetime) else str(value)
    )
    # Spreadsheet formula injection: a cell must not start with a formula trigger (OWASP).
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def errors_csv(items: list[SyncErrorOut]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(_CSV_COLUMNS)
    for item in items:
        writer.writerow([_csv_cell(getattr(item, column)) for column in _CSV_COLUMNS])
    return buffer.getvalue()


@router.get(
    "/tenants/{tenant_id}/errors",
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def get_error_report(
    tenant_id: TenantId,
    _: ReadAccess,
    pool: Pool,
    user_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    object: ObjectKind | None = None,
    direction: SyncDirection | None = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    include_resolved: bool = False,
    before_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Any:
    """Every per-record failure (LS-82), newest first. `Accept: text/csv` returns CSV."""
    rows = await pool.fetch(
        queries.ERRORS,
        tenant_id,
        user_id,
        object.value if object else None,
        direction.value if direction else None,
        since,
        until,
        include_resolved,
        before_id,
        limit,
    )
    items = [error_out(r) for r in rows]
    if accept and "text/csv" in accept:
        return Response(
            errors_csv(items),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{tenant_id}-errors.csv"'},
        )
    next_before = items[-1].id if len(items) == limit else None
    return ErrorPage(items=items, next_before_id=next_before)


class CatalogName(StrEnum):
    STATUSES = "statuses"
    HEALTH = "health"
    LINK_STATES = "link-states"
    DIRECTION_STATES = "direction-states"
    RESET_STATES = "reset-states"
    ERROR_CATEGORIES = "error-categories"
    CONNECTION_TEST_STAGES = "connection-test-stages"
    STAGE_OUTCOMES = "stage-outcomes"
    DECISION_REASONS = "decision-reasons"


_CATALOGS: dict[CatalogName, type[StrEnum]] = {
    CatalogName.STATUSES: StatusId,
    CatalogName.HEALTH: Health,
    CatalogName.LINK_STATES: LinkState,
    CatalogName.DIRECTION_STATES: DirectionState,
    CatalogName.RESET_STATES: ResetState,
    CatalogName.ERROR_CATEGORIES: ErrorCategory,
    CatalogName.CONNECTION_TEST_STAGES: StageId,
    CatalogName.STAGE_OUTCOMES: StageOutcome,
    CatalogName.DECISION_REASONS: DecisionReason,
}


@router.get("/catalog/{name}", tags=["catalog"])
async def get_catalog(name: CatalogName, _: Authenticated) -> list[CatalogEntry]:
    """Every value of one status vocabulary with its meaning and fix (the same as the schema)."""
    return [CatalogEntry(**e) for e in catalog_json(_CATALOGS[name])]
