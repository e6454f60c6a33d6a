"""Configurations, assignments and the roster (LS-50..LS-56, ST-31)."""

from __future__ import annotations

import pydantic
import pytest
from reconcile import (
    Assignment,
    Configuration,
    ConfigurationReason,
    RosterReason,
    SyncSettings,
    build_roster,
    effective_configuration,
)
from syncmodel import Direction, Kind, SalesforceUser

from tests.unit.reconcile.builders import NOW

EAST = Configuration(id="east", name="East", settings=SyncSettings(events=Direction.BOTH))
WEST = Configuration(id="west", name="West", settings=SyncSettings(events=Direction.NONE))
OLD = Configuration(id="old", name="Old", active=False)


def test_ls53_individual_assignment_beats_profile_assignment() -> None:
    assignments = [
        Assignment(configuration_id="west", profile_id="00eSales"),
        Assignment(configuration_id="east", user_id="005A"),
    ]
    found, why = effective_configuration("005A", "00eSales", [EAST, WEST], assignments)
    assert found == EAST
    assert why is ConfigurationReason.INDIVIDUAL_ASSIGNMENT
    other, why = effective_configuration("005B", "00eSales", [EAST, WEST], assignments)
    assert other == WEST
    assert why is ConfigurationReason.PROFILE_ASSIGNMENT


def test_ls53_only_active_configurations_count() -> None:
    assignments = [
        Assignment(configuration_id="old", user_id="005A"),
        Assignment(configuration_id="west", profile_id="00eSales"),
    ]
    found, _ = effective_configuration("005A", "00eSales", [OLD, WEST], assignments)
    assert found == WEST
    none, why = effective_configuration("005A", None, [OLD, WEST], assignments)
    assert none is None
    assert why is ConfigurationReason.ONLY_INACTIVE_ASSIGNED


def test_ls53_a_user_has_at_most_one_individual_assignment() -> None:
    assignments = [
        Assignment(configuration_id="east", user_id="005A"),
        Assignment(configuration_id="west", user_id="005A"),
    ]
    found, why = effective_configuration("005A", None, [EAST, WEST], assignments)
    assert found is None
    assert why is ConfigurationReason.SEVERAL_INDIVIDUAL_ASSIGNMENTS


def test_ls52_user_without_effective_configuration_does_not_sync() -> None:
    assert effective_configuration("005Z", None, [EAST], []) == (
        None,
        ConfigurationReason.NOT_ASSIGNED,
    )


def test_ls53_an_assignment_names_a_user_or_a_profile() -> None:
    with pytest.raises(pydantic.ValidationError):
        Assignment(configuration_id="east")


def test_ls29_matching_fields_cannot_be_remapped() -> None:
    with pytest.raises(pydantic.ValidationError, match="fixed"):
        SyncSettings(field_remapping={Kind.CONTACT: {"email": "other_phone"}})
    with pytest.raises(pydantic.ValidationError, match="two Salesforce fields"):
        SyncSettings(field_remapping={Kind.CONTACT: {"home_phone": "other_phone"}})
    SyncSettings(field_remapping={Kind.CONTACT: {"home_phone": "other_phone", "other_phone": None}})


def test_st31_two_active_users_with_one_email_neither_syncs() -> None:
    users = [
        ("005A", SalesforceUser(username="a@org", email="rep@acme.example")),
        ("005B", SalesforceUser(username="b@org", email="REP@acme.example")),
        ("005C", SalesforceUser(username="c@org", email="solo@acme.example")),
        ("005D", SalesforceUser(username="d@org", email="solo@acme.example", is_active=False)),
    ]
    assignments = [Assignment(configuration_id="east", user_id=u) for u, _ in users]
    roster = build_roster("t1", users, [EAST], assignments, NOW)
    reasons = {d.entry.user: d.reason for d in roster}
    assert reasons == {
        "005A": RosterReason.DUPLICATE_EMAIL,
        "005B": RosterReason.DUPLICATE_EMAIL,
        "005C": RosterReason.SYNCING,
        "005D": RosterReason.USER_INACTIVE,
    }
    syncing = next(d.entry for d in roster if d.entry.user == "005C")
    assert syncing.active
    assert syncing.mailbox == "solo@acme.example"
    assert syncing.settings_digest == EAST.settings.digest()
    assert not any(d.entry.active for d in roster if d.entry.user != "005C")
