"""The connection test (LS-70): run every stage against the real endpoints, report each."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter

from status_api.catalog import entry
from status_api.connection_test.ews import EwsProbe
from status_api.connection_test.graph import GraphProbe
from status_api.connection_test.report import (
    ConnectionTestReport,
    ConnectionTestRequest,
    TestedSystem,
)
from status_api.connection_test.salesforce import SalesforceProbe
from status_api.connection_test.stages import (
    StageFailure,
    StageId,
    StageOutcome,
    StageReport,
)
from status_api.deps import AdminAccess, Box, Pool, Settings, TenantId
from status_api.error_codes import ErrorCategory
from status_api.errors import Invalid
from status_api.routes.connections import load_connection
from status_api.schemas import ConnectionKind

router = APIRouter(tags=["connection test"])


def _not_configured(stage: StageId, what: str) -> StageReport:
    failure = StageFailure(f"no {what} connection is configured", ErrorCategory.CREDENTIALS_INVALID)
    return StageReport(
        stage=stage,
        outcome=StageOutcome.FAILED,
        detail=failure.detail,
        remediation=f"Create it: PUT …/connections/{what}. " + entry(stage).fix,
        category=failure.category,
        duration_ms=0,
    )


@router.post("/tenants/{tenant_id}/connection-tests")
async def run_connection_test(
    tenant_id: TenantId,
    body: ConnectionTestRequest,
    _: AdminAccess,
    pool: Pool,
    box: Box,
    settings: Settings,
) -> ConnectionTestReport:
    """Probe Exchange for one mailbox and Salesforce for one rep; every stage pass/fail."""
    started = dt.datetime.now(dt.UTC)
    mailbox = body.mailbox
    if mailbox is None and body.user_id is not None:
        user = await pool.fetchrow(
            "SELECT mailbox, email FROM sync_users WHERE tenant_id = $1 AND user_id = $2",
            tenant_id,
            body.user_id,
        )
        mailbox = (user["mailbox"] or user["email"]) if user else None
    if TestedSystem.EXCHANGE in body.systems and mailbox is None:
        raise Invalid("give a mailbox, or a user_id whose email is known")
    stages: list[StageReport] = []
    timeout = settings.connection_test_timeout_s
    if TestedSystem.EXCHANGE in body.systems:
        assert mailbox is not None
        graph = await load_connection(pool, box, tenant_id, ConnectionKind.EXCHANGE_GRAPH)
        ews = await load_connection(pool, box, tenant_id, ConnectionKind.EXCHANGE_EWS)
        if graph is not None:
            probe = GraphProbe(graph[0], graph[1], mailbox, settings.ca_bundle, timeout)
            stages += await probe.run()
        elif ews is not None:
            # On-premises Exchange (LS-60..63): the connector's own EWS client and probe.
            ews_probe = EwsProbe(ews[0], ews[1], mailbox, settings.ca_bundle, timeout)
            stages += await ews_probe.run()
        else:
            stages.append(_not_configured(StageId.GRAPH_TOKEN, "exchange_graph"))
    if TestedSystem.SALESFORCE in body.systems:
        salesforce = await load_connection(pool, box, tenant_id, ConnectionKind.SALESFORCE)
        if salesforce is None:
            stages.append(_not_configured(StageId.SALESFORCE_TOKEN, "salesforce"))
        else:
            sf = SalesforceProbe(
                salesforce[0], salesforce[1], body.user_id, settings.ca_bundle, timeout
            )
            stages += await sf.run()
    return ConnectionTestReport(
        mailbox=mailbox,
        user_id=body.user_id,
        passed=all(s.outcome is not StageOutcome.FAILED for s in stages),
        stages=stages,
        started_at=started,
    )
