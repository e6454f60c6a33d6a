"""How a user's sync status is derived from what connectors and the reconciler recorded.

Reads (written by others, see reconciler/journal.py): `sync_users.link_state/link_reason` (the
roster decision); `statuses` rows keyed (tenant, user, side, object):
- connectors: side `exchange`/`salesforce`, object `connection`, `state` a `ConnectorState`,
  `last_capture` {kind: ISO time}; tenant-wide rows have `user_id = ''` (the salesforce
  connector works per org), and a user's own row wins over the tenant-wide one;
- the reconciler: side `reconciler`, object = kind, `last_capture` {direction: ISO time of the
  last applied write}, `counters` {"day": ISO date, direction: writes that day}.
Everything here is pure: rows in, documented statuses out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from reconcile.settings import Configuration
from syncmodel import Kind, Side
from syncmodel.messages import ConnectorState

from status_api.catalog import entry
from status_api.schemas import DirectionStatus, ObjectKind, SyncDirection, UserSummary
from status_api.statuses import LINK_STATUS_ID, DirectionState, LinkState, StatusId

StatusRows = Mapping[tuple[str, str, str], Mapping[str, Any]]  # (user, side, object) -> row

_SOURCE = {
    SyncDirection.SALESFORCE_TO_EXCHANGE: ("salesforce", "exchange"),
    SyncDirection.EXCHANGE_TO_SALESFORCE: ("exchange", "salesforce"),
}
_ERROR_STATES = {
    ConnectorState.TOKEN_FAILURE,
    ConnectorState.CONSENT_MISSING,
    ConnectorState.MAILBOX_NOT_FOUND,
    ConnectorState.ACCESS_DENIED,
    ConnectorState.CLAIMED_BY_OTHER_TENANT,
    ConnectorState.QUOTA_EXHAUSTED,
    ConnectorState.ERROR,
}


# The roster records why a user is not linked in `link_reason` (reconcile.roster.RosterReason);
# the exchange connector reports mailbox-level failures in its per-user status row.
_REASON_TEXT = {
    "syncing": None,
    "user_inactive": "The Salesforce user is inactive.",
    "no_configuration": "The user is not assigned to an active configuration (ST-21).",
}
_CONNECTOR_LINK = {
    ConnectorState.MAILBOX_NOT_FOUND: LinkState.MAILBOX_NOT_FOUND,
    ConnectorState.ACCESS_DENIED: LinkState.ACCESS_DENIED,
    ConnectorState.CONSENT_MISSING: LinkState.ACCESS_DENIED,
    ConnectorState.CLAIMED_BY_OTHER_TENANT: LinkState.CLAIMED_BY_OTHER_TENANT,
}


def link_state(
    raw: str | None, reason: str | None, exchange: Mapping[str, Any] | None = None
) -> tuple[LinkState, str | None]:
    """The documented link state and a sentence saying why, from roster and connector facts."""
    try:
        connector_state = ConnectorState((exchange or {}).get("state") or "")
    except ValueError:
        connector_state = None
    if connector_state in _CONNECTOR_LINK:
        assert connector_state is not None
        return _CONNECTOR_LINK[connector_state], (exchange or {}).get("detail")
    state = _as_link_state(raw) or LinkState.NOT_LINKED
    refined = _as_link_state(reason)
    if state is LinkState.NOT_LINKED and refined is not None:
        return refined, None  # e.g. not_linked because duplicate_email (ST-31)
    if reason is None or reason == state.value:
        return state, None
    return state, _REASON_TEXT.get(reason, reason)


def _as_link_state(value: str | None) -> LinkState | None:
    try:
        return LinkState(value or "")
    except ValueError:
        return None


def parse_time(value: object) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _connector(rows: StatusRows, user: str, side: str) -> Mapping[str, Any] | None:
    return rows.get((user, side, "connection")) or rows.get(("", side, "connection"))


def _connector_state(raw: str | None, detail: str | None) -> tuple[DirectionState, StatusId]:
    try:
        state = ConnectorState(raw or "")
    except ValueError:
        return DirectionState.ERROR, StatusId.SL_SYNC_ERROR
    if state is ConnectorState.ERROR and detail and "folder" in detail.lower():
        return DirectionState.FOLDER_MISSING, StatusId.ST_40
    if state is ConnectorState.INITIAL_SYNC_IN_PROGRESS:
        return DirectionState.INITIAL_SYNC_IN_PROGRESS, StatusId.ST_35
    if state is ConnectorState.INITIAL_SYNC_COMPLETED:
        return DirectionState.INITIAL_SYNC_COMPLETED, StatusId.ST_36
    if state in _ERROR_STATES:
        return DirectionState.ERROR, StatusId.SL_SYNC_ERROR
    return DirectionState.IN_SYNC, StatusId.ST_37  # connected, or throttled but flowing


def synced_today(activity: Mapping[str, Any] | None, direction: str, today: dt.date) -> int:
    counters = (activity or {}).get("counters")
    if not isinstance(counters, dict) or counters.get("day") != today.isoformat():
        return 0
    value = counters.get(direction, 0)
    return value if isinstance(value, int) else 0


def direction_status(
    user_id: str,
    kind: ObjectKind,
    direction: SyncDirection,
    configuration: Configuration | None,
    rows: StatusRows,
    today: dt.date,
) -> DirectionStatus:
    source, target = _SOURCE[direction]
    configured = configuration.settings.direction(Kind(kind.value)) if configuration else None
    flows = configured is not None and configured.flows_to(Side(target))
    connector = _connector(rows, user_id, source)
    activity = rows.get((user_id, "reconciler", kind.value))
    captures = (activity or {}).get("last_capture")
    last = parse_time(captures.get(direction.value)) if isinstance(captures, dict) else None
    detail: str | None = None
    next_attempt = (connector or {}).get("next_attempt_at")
    if not flows:
        state, status_id = DirectionState.NOT_SYNCING, StatusId.ST_38
    elif connector is not None:
        detail = connector.get("detail")
        state, status_id = _connector_state(connector.get("state"), detail)
    elif last is not None:
        state, status_id = DirectionState.IN_SYNC, StatusId.ST_37
    else:
        state, status_id = DirectionState.NOT_STARTED, StatusId.ST_32
    if direction is SyncDirection.EXCHANGE_TO_SALESFORCE and status_id in (
        StatusId.ST_35,
        StatusId.ST_36,
        StatusId.ST_37,
    ):
        status_id = StatusId.ST_39
    return DirectionStatus(
        object=kind,
        direction=direction,
        state=state,
        status_id=status_id,
        detail=detail,
        last_sync=last,
        next_attempt=next_attempt if isinstance(next_attempt, dt.datetime) else None,
        synced_today=synced_today(activity, direction.value, today),
    )


def user_summary(
    user: Mapping[str, Any],
    configuration: Configuration | None,
    rows: StatusRows,
    today: dt.date,
) -> UserSummary:
    exchange = rows.get((user["user_id"], "exchange", "connection"))
    state, why = link_state(user["link_state"], user["link_reason"], exchange)
    objects = [
        direction_status(user["user_id"], kind, direction, configuration, rows, today)
        for kind in ObjectKind
        for direction in SyncDirection
    ]
    return UserSummary(
        user_id=user["user_id"],
        email=user["email"],
        name=user["name"],
        profile_id=user["profile_id"],
        is_active=user["is_active"],
        mailbox=user["mailbox"],
        link_state=state,
        link_status_id=LINK_STATUS_ID[state],
        link_detail=why or entry(state).meaning,
        assigned=configuration is not None,
        configuration_id=configuration.id if configuration else None,
        reset_in_progress=user["reset_in_progress"],
        open_errors=user["open_errors"],
        objects=objects,
        updated_at=user["updated_at"],
    )
