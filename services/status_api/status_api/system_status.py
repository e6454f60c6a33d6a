"""The tenant-wide status page (spec §7.1, §7.2: ST-1..ST-15) built from recorded facts. Pure."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from status_api.catalog import entry
from status_api.schemas import StatusRow
from status_api.statuses import Health, StatusId
from status_api.user_status import parse_time

RECENT = dt.timedelta(minutes=15)
STALE = dt.timedelta(hours=24)


@dataclass(frozen=True)
class TenantFacts:
    now: dt.datetime
    connections: Mapping[str, Mapping[str, Any]]  # kind -> non-secret config
    statuses: Sequence[Mapping[str, Any]]
    users_linked: int
    users_assigned: int
    active_configurations: int
    open_errors: int


def row(
    status_id: StatusId,
    value: str | int | float | bool | None,
    health: Health,
    detail: str | None = None,
) -> StatusRow:
    e = entry(status_id)
    return StatusRow(
        status_id=status_id,
        label=e.label,
        value=value,
        health=health,
        meaning=e.meaning,
        fix=e.fix,
        detail=detail,
    )


def last_activity(statuses: Sequence[Mapping[str, Any]], kind: str) -> dt.datetime | None:
    """Latest capture of `kind` by a connector, or latest write of `kind` by the reconciler."""
    times: list[dt.datetime | None] = []
    for s in statuses:
        captures = s.get("last_capture")
        if not isinstance(captures, dict):
            continue
        if s.get("object") == "connection":
            times.append(parse_time(captures.get(kind)))
        elif s.get("side") == "reconciler" and s.get("object") == kind:
            times += [parse_time(v) for v in captures.values()]
    known = [t for t in times if t is not None]
    return max(known) if known else None


def activity_row(
    now: dt.datetime, last: dt.datetime | None, ids: tuple[StatusId, ...]
) -> StatusRow:
    recent, hours, stale = ids
    if last is None:
        return row(stale, None, Health.ERROR, "no sync activity recorded yet")
    age = now - last
    if age <= RECENT:
        return row(recent, last.isoformat(), Health.OK)
    if age <= STALE:
        return row(hours, last.isoformat(), Health.WARNING)
    return row(stale, last.isoformat(), Health.ERROR)


def exchange_rows(connections: Mapping[str, Mapping[str, Any]]) -> list[StatusRow]:
    methods = [k for k in ("exchange_graph", "exchange_ews") if k in connections]
    rows = [
        row(
            StatusId.ST_12,
            ", ".join(methods) if methods else "No",
            Health.OK if methods else Health.ERROR,
        )
    ]
    if "exchange_ews" in connections:
        account = connections["exchange_ews"].get("username")
        rows.append(row(StatusId.ST_10, str(account), Health.OK, "EWS service account"))
    elif "exchange_graph" in connections:
        app = connections["exchange_graph"].get("client_id")
        rows.append(row(StatusId.ST_10, f"OAuth 2.0 app {app}", Health.OK, "Graph application"))
    else:
        rows.append(row(StatusId.ST_11, "No", Health.ERROR))
    rows.append(row(StatusId.ST_13, "No", Health.INFO))
    return rows


def throttling_row(now: dt.datetime, statuses: Sequence[Mapping[str, Any]]) -> StatusRow:
    throttled = [
        s
        for s in statuses
        if s.get("state") in ("throttled", "quota_exhausted")
        and (s.get("next_attempt_at") is None or s["next_attempt_at"] > now)
    ]
    if not throttled:
        return row(StatusId.SL_THROTTLING, "none", Health.OK)
    sides = sorted({str(s["side"]) for s in throttled})
    until = max((s["next_attempt_at"] for s in throttled if s.get("next_attempt_at")), default=None)
    states = ", ".join(sorted({str(s["state"]) for s in throttled}))
    detail = f"{states} until {until.isoformat()}" if until else states
    return row(StatusId.SL_THROTTLING, ", ".join(sides), Health.WARNING, detail)


def budget_row(statuses: Sequence[Mapping[str, Any]]) -> StatusRow:
    shares = [
        float(s["counters"]["api_budget_used"])
        for s in statuses
        if s.get("side") == "salesforce"
        and isinstance(s.get("counters"), dict)
        and isinstance(s["counters"].get("api_budget_used"), int | float)
    ]
    if not shares:
        return row(StatusId.SL_API_BUDGET, None, Health.INFO, "not reported yet")
    used = max(shares)
    health = Health.OK if used < 0.8 else Health.WARNING if used < 1 else Health.ERROR
    return row(StatusId.SL_API_BUDGET, round(used, 4), health)


def system_rows(facts: TenantFacts) -> list[StatusRow]:
    contacts = last_activity(facts.statuses, "contact")
    events = last_activity(facts.statuses, "event")
    assigned_health = Health.OK if facts.users_assigned else Health.ERROR
    return [
        activity_row(facts.now, contacts, (StatusId.ST_1, StatusId.ST_2, StatusId.ST_3)),
        activity_row(facts.now, events, (StatusId.ST_4, StatusId.ST_5, StatusId.ST_6)),
        *exchange_rows(facts.connections),
        row(
            StatusId.SL_SALESFORCE,
            "salesforce" in facts.connections,
            Health.OK if "salesforce" in facts.connections else Health.ERROR,
        ),
        row(StatusId.ST_14, facts.users_linked, Health.OK if facts.users_linked else Health.ERROR),
        row(
            StatusId.ST_15,
            facts.users_assigned,
            assigned_health,
            f"{facts.active_configurations} active configuration(s)",
        ),
        budget_row(facts.statuses),
        throttling_row(facts.now, facts.statuses),
        row(
            StatusId.SL_OPEN_ERRORS,
            facts.open_errors,
            Health.OK if facts.open_errors == 0 else Health.WARNING,
        ),
    ]
