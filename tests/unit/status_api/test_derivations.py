"""The pure derivations behind the status pages: direction states (ST-35..41), activity bands
(ST-1..6), and spreadsheet-safe CSV cells."""

from __future__ import annotations

import datetime as dt
from typing import Any

from reconcile.settings import Configuration, SyncSettings
from status_api.routes.status import _csv_cell
from status_api.schemas import ObjectKind, SyncDirection
from status_api.statuses import DirectionState, LinkState, StatusId
from status_api.system_status import activity_row
from status_api.user_status import direction_status, link_state
from syncmodel import Direction

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
TODAY = NOW.date()
BOTH = Configuration(id="c", name="c", settings=SyncSettings())


def _status(
    rows: dict[tuple[str, str, str], dict[str, Any]],
    configuration: Configuration | None,
    kind: ObjectKind = ObjectKind.CONTACT,
    direction: SyncDirection = SyncDirection.EXCHANGE_TO_SALESFORCE,
) -> Any:
    return direction_status("005A", kind, direction, configuration, rows, TODAY)


def test_st38_not_syncing_without_configuration_or_direction() -> None:
    assert _status({}, None).state is DirectionState.NOT_SYNCING
    one_way = Configuration(
        id="o", name="o", settings=SyncSettings(contacts=Direction.SALESFORCE_TO_EXCHANGE)
    )
    status = _status({}, one_way)
    assert (status.state, status.status_id) == (DirectionState.NOT_SYNCING, StatusId.ST_38)
    assert _status({}, one_way, direction=SyncDirection.SALESFORCE_TO_EXCHANGE).state is (
        DirectionState.NOT_STARTED
    )


def test_st39_in_sync_from_the_reconcilers_activity_and_todays_count() -> None:
    rows = {
        ("005A", "reconciler", "contact"): {
            "last_capture": {"exchange_to_salesforce": "2026-11-24T11:58:00+00:00"},
            "counters": {"day": "2026-11-24", "exchange_to_salesforce": 4},
        }
    }
    status = _status(rows, BOTH)
    assert (status.state, status.status_id) == (DirectionState.IN_SYNC, StatusId.ST_39)
    assert status.synced_today == 4
    assert status.last_sync == dt.datetime(2026, 11, 24, 11, 58, tzinfo=dt.UTC)
    yesterday = {
        k: {**v, "counters": {"day": "2026-11-23", "exchange_to_salesforce": 9}}
        for k, v in rows.items()
    }
    assert _status(yesterday, BOTH).synced_today == 0


def test_connector_states_map_to_st35_st36_st40_and_errors() -> None:
    def connector(state: str, detail: str | None = None) -> dict[tuple[str, str, str], Any]:
        return {("", "salesforce", "connection"): {"state": state, "detail": detail}}

    s2e = SyncDirection.SALESFORCE_TO_EXCHANGE
    assert _status(connector("initial_sync_in_progress"), BOTH, direction=s2e).status_id is (
        StatusId.ST_35
    )
    assert _status(connector("initial_sync_completed"), BOTH, direction=s2e).status_id is (
        StatusId.ST_36
    )
    rows = {("005A", "exchange", "connection"): {"state": "error", "detail": "Folder missing"}}
    assert _status(rows, BOTH).state is DirectionState.FOLDER_MISSING
    denied = {("005A", "exchange", "connection"): {"state": "access_denied", "detail": "403"}}
    assert _status(denied, BOTH).state is DirectionState.ERROR
    garbage = {("005A", "exchange", "connection"): {"state": "???"}}
    assert _status(garbage, BOTH).state is DirectionState.ERROR


def test_activity_bands_st1_to_st3() -> None:
    ids = (StatusId.ST_1, StatusId.ST_2, StatusId.ST_3)
    assert activity_row(NOW, NOW - dt.timedelta(minutes=5), ids).status_id is StatusId.ST_1
    assert activity_row(NOW, NOW - dt.timedelta(hours=5), ids).status_id is StatusId.ST_2
    assert activity_row(NOW, NOW - dt.timedelta(days=2), ids).status_id is StatusId.ST_3
    assert activity_row(NOW, None, ids).status_id is StatusId.ST_3


def test_csv_cells_cannot_start_a_formula() -> None:
    assert _csv_cell("=1+1") == "'=1+1"
    assert _csv_cell("@SUM(A1)") == "'@SUM(A1)"
    assert _csv_cell("plain") == "plain"
    assert _csv_cell(None) == ""


def test_link_state_follows_the_roster_reason_and_the_exchange_connector() -> None:
    # reconciler/roster.py writes link_state 'not_linked' with the RosterReason as link_reason.
    assert link_state("not_linked", "duplicate_email") == (LinkState.DUPLICATE_EMAIL, None)
    assert link_state("linked", "syncing") == (LinkState.LINKED, None)
    state, why = link_state("not_linked", "user_inactive")
    assert state is LinkState.NOT_LINKED
    assert why == "The Salesforce user is inactive."
    missing = {"state": "mailbox_not_found", "detail": "ErrorInvalidUser"}
    assert link_state("linked", "syncing", missing) == (
        LinkState.MAILBOX_NOT_FOUND,
        "ErrorInvalidUser",
    )
    assert link_state("linked", None, {"state": "consent_missing"})[0] is LinkState.ACCESS_DENIED
    assert link_state("garbage", None) == (LinkState.NOT_LINKED, None)
