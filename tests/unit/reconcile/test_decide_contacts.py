"""The sync rules for contacts, one test per rule, named after the requirement."""

from __future__ import annotations

import datetime as dt

from reconcile import (
    TRANSITIONS,
    Candidate,
    ConflictPolicy,
    DecideContext,
    Happening,
    Link,
    LinkSituation,
    LinkState,
    Outcome,
    Reason,
    SyncSettings,
    UserContext,
    decide,
)
from syncmodel import Command, CommandAction, Contact, Direction, Op, OutcomeStatus, SyncError

from tests.unit.reconcile.builders import (
    ANN,
    EX,
    NOW,
    SF,
    USER,
    change,
    deleted,
    linked,
    only_command,
    outcome,
)

BOTH = SyncSettings()


def test_ls71_new_contact_matching_by_email_is_linked_not_created() -> None:
    other = ANN.model_copy(update={"email": "ANN@acme.example ", "title": "CEO"})
    decision = decide(
        None,
        change(EX, "ex1", ANN, op=Op.READ),
        BOTH,
        NOW,
        context=DecideContext(candidates=(Candidate(side=SF, record_id="sf1", record=other),)),
    )
    assert decision.reason is Reason.MATCHED_EXISTING
    link = decision.next_link
    assert link is not None
    assert link.salesforce.record_id == "sf1"
    # the title only Salesforce had fills Exchange's gap; nothing is created
    command = only_command(decision)
    assert command.action is CommandAction.UPDATE
    assert command.side is EX
    assert command.changed_fields == ("title",)


def test_ls71_contact_without_match_is_created_with_our_marker() -> None:
    decision = decide(None, change(EX, "ex1", ANN, op=Op.CREATE), BOTH, NOW)
    command = only_command(decision)
    assert decision.reason is Reason.CREATED
    assert command.action is CommandAction.CREATE
    assert command.side is SF
    assert isinstance(command.record, Contact)
    assert command.record.marker == command.link_id
    assert decision.next_link is not None
    assert decision.next_link.state is LinkState.PENDING_CREATE


def test_ls71_ambiguous_match_is_reported_never_guessed() -> None:
    twins = tuple(Candidate(side=SF, record_id=f"sf{i}", record=ANN) for i in (1, 2))
    decision = decide(
        None, change(EX, "ex1", ANN), BOTH, NOW, context=DecideContext(candidates=twins)
    )
    assert decision.reason is Reason.AMBIGUOUS_MATCH
    assert decision.outcome is Outcome.ERROR
    assert not decision.commands
    assert decision.next_link is None
    assert "sf1" in decision.errors[0].error.message


def test_ls28_contact_delete_does_not_propagate() -> None:
    link = linked(BOTH, ANN, ANN)
    decision = decide(link, deleted(SF, "sf1"), BOTH, NOW)
    assert decision.reason is Reason.CONTACT_DELETE_NOT_PROPAGATED
    assert not decision.commands
    assert decision.next_link is not None
    assert decision.next_link.state is LinkState.CLOSED
    assert decision.next_link.deleted_side is SF


def test_ls28_tombstone_prevents_recreate_from_an_unchanged_survivor() -> None:
    closed = decide(linked(BOTH, ANN, ANN), deleted(SF, "sf1"), BOTH, NOW).next_link
    again = decide(closed, change(EX, "ex1", ANN, version="e2", op=Op.READ), BOTH, NOW)
    assert again.reason is Reason.TOMBSTONED
    assert not again.commands


def test_ls28_survivor_that_changes_again_is_recreated() -> None:
    closed = decide(linked(BOTH, ANN, ANN), deleted(SF, "sf1"), BOTH, NOW).next_link
    edited = ANN.model_copy(update={"title": "CTO"})
    decision = decide(closed, change(EX, "ex1", edited, version="e2"), BOTH, NOW)
    command = only_command(decision)
    assert decision.reason is Reason.RECREATED_AFTER_CHANGE
    assert command.action is CommandAction.CREATE
    assert command.side is SF


def test_ls24_my_records_filter_skips_contacts_owned_by_others() -> None:
    theirs = ANN.model_copy(update={"owner_id": "005OTHER"})
    decision = decide(None, change(SF, "sf1", theirs), BOTH, NOW)
    assert decision.reason is Reason.OUTSIDE_CONTACT_FILTER
    assert not decision.commands
    mine = ANN.model_copy(update={"owner_id": USER})
    assert decide(None, change(SF, "sf1", mine), BOTH, NOW).reason is Reason.CREATED
    everyone = SyncSettings(contact_filter="all_accessible")
    assert decide(None, change(SF, "sf1", theirs), everyone, NOW).reason is Reason.CREATED


def test_ls10_direction_none_disallows_contact_sync() -> None:
    off = SyncSettings(contacts=Direction.NONE)
    assert decide(None, change(EX, "ex1", ANN), off, NOW).reason is Reason.DIRECTION_DISALLOWS


def test_ls10_one_way_does_not_create_against_the_direction() -> None:
    one_way = SyncSettings(contacts=Direction.SALESFORCE_TO_EXCHANGE)
    decision = decide(None, change(EX, "ex1", ANN), one_way, NOW)
    assert decision.reason is Reason.DIRECTION_DISALLOWS
    assert not decision.commands


def test_ls73_one_way_source_wins_and_overwritten_target_data_is_audited() -> None:
    one_way = SyncSettings(contacts=Direction.EXCHANGE_TO_SALESFORCE)
    link = linked(one_way, ANN, ANN)
    noted = ANN.model_copy(update={"notes": "only in Salesforce"})
    kept = decide(link, change(SF, "sf1", noted, version="s2"), one_way, NOW)
    assert kept.reason is Reason.TARGET_EDIT_KEPT
    assert not kept.commands
    source = ANN.model_copy(update={"title": "CEO"})
    decision = decide(kept.next_link, change(EX, "ex1", source, version="e2"), one_way, NOW)
    command = only_command(decision)
    assert command.side is SF
    assert set(command.changed_fields) == {"title", "notes"}
    assert isinstance(command.record, Contact)
    assert command.record.notes is None
    assert [(a.field, a.old_value, a.reason) for a in decision.audit] == [
        ("notes", "only in Salesforce", Reason.TARGET_ONLY_DATA_OVERWRITTEN)
    ]


def test_ls75_field_level_merge_keeps_changes_from_both_sides() -> None:
    link = linked(BOTH, ANN, ANN)
    first = decide(
        link, change(EX, "ex1", ANN.model_copy(update={"title": "CEO"}), version="e2"), BOTH, NOW
    )
    to_sf = only_command(first)
    # Salesforce changed another field before our write landed: the write conflicts
    sf_now = ANN.model_copy(update={"department": "Sales"})
    conflict = decide(
        first.next_link,
        outcome(to_sf, OutcomeStatus.CONFLICT, version="s2", record=sf_now),
        BOTH,
        NOW,
    )
    assert conflict.reason is Reason.CONFLICT_RETRIED
    snapshot = conflict.next_link.snapshot if conflict.next_link else None
    assert snapshot is not None
    assert snapshot["title"] == "CEO"
    assert snapshot["department"] == "Sales"
    sides = {c.side: c for c in conflict.commands}
    assert sides[SF].if_version == "s2"
    assert sides[SF].changed_fields == ("title",)
    assert sides[EX].changed_fields == ("department",)


def test_ls75_a_conflict_whose_edit_was_captured_first_writes_the_merge_again() -> None:
    """Salesforce's conflict outcome carries no fresh record; when the capture of the edit that
    beat our write came first (and the record is quiet afterwards), the conflict itself must
    write again: waiting for another capture left Outlook's department out of Salesforce."""
    settings = SyncSettings(conflict_policy=ConflictPolicy.SALESFORCE_WINS)
    link = linked(settings, ANN, ANN)
    outlook = ANN.model_copy(update={"title": "Title from Outlook", "department": "Operations"})
    first = decide(link, change(EX, "ex1", outlook, version="e2"), settings, NOW)
    to_sf = only_command(first)
    salesforce = ANN.model_copy(update={"title": "Title from Salesforce", "mobile_phone": "+1 1"})
    captured = decide(first.next_link, change(SF, "sf1", salesforce, version="s2"), settings, NOW)
    assert {c.side for c in captured.commands} == {EX}  # Salesforce's write is still in flight
    refused = outcome(to_sf, OutcomeStatus.CONFLICT).model_copy(
        update={"record": None, "version": None}
    )
    retried = decide(captured.next_link, refused, settings, NOW)
    assert retried.reason is Reason.CONFLICT_RETRIED
    again = only_command(retried)
    assert (again.side, again.if_version, again.changed_fields) == (SF, "s2", ("department",))


def test_ls75_a_conflict_before_the_capture_of_its_edit_waits_for_that_capture() -> None:
    link = linked(BOTH, ANN, ANN)
    outlook = ANN.model_copy(update={"department": "Operations"})
    first = decide(link, change(EX, "ex1", outlook, version="e2"), BOTH, NOW)
    refused = outcome(only_command(first), OutcomeStatus.CONFLICT).model_copy(
        update={"record": None, "version": None}
    )
    waiting = decide(first.next_link, refused, BOTH, NOW)
    assert waiting.reason is Reason.CONFLICT_AWAITING_FRESH_STATE
    assert not waiting.commands
    salesforce = ANN.model_copy(update={"title": "CFO"})
    captured = decide(waiting.next_link, change(SF, "sf1", salesforce, version="s2"), BOTH, NOW)
    to_sf = next(c for c in captured.commands if c.side is SF)
    assert (to_sf.if_version, to_sf.changed_fields) == ("s2", ("department",))


def _both_changed(policy: ConflictPolicy, ex_ts: dt.datetime, sf_ts: dt.datetime) -> str:
    settings = SyncSettings(conflict_policy=policy)
    link = linked(settings, ANN, ANN)
    first = decide(
        link,
        change(EX, "ex1", ANN.model_copy(update={"title": "EX"}), version="e2", ts=ex_ts),
        settings,
        NOW,
    )
    decision = decide(
        first.next_link,
        change(SF, "sf1", ANN.model_copy(update={"title": "SF"}), version="s2", ts=sf_ts),
        settings,
        NOW,
    )
    assert decision.audit
    assert decision.audit[0].field == "title"
    assert decision.next_link is not None
    assert decision.next_link.snapshot is not None
    return str(decision.next_link.snapshot["title"])


def test_ls75_conflict_policy_salesforce_wins() -> None:
    early, late = NOW, NOW + dt.timedelta(minutes=5)
    assert _both_changed(ConflictPolicy.SALESFORCE_WINS, late, early) == "SF"


def test_ls75_conflict_policy_exchange_wins() -> None:
    early, late = NOW, NOW + dt.timedelta(minutes=5)
    assert _both_changed(ConflictPolicy.EXCHANGE_WINS, early, late) == "EX"


def test_ls75_conflict_policy_latest_wins() -> None:
    early, late = NOW, NOW + dt.timedelta(minutes=5)
    assert _both_changed(ConflictPolicy.LATEST_WINS, late, early) == "EX"
    assert _both_changed(ConflictPolicy.LATEST_WINS, early, late) == "SF"


def _written(settings: SyncSettings = BOTH) -> tuple[Link, Command]:
    link = linked(settings, ANN, ANN)
    decision = decide(
        link,
        change(EX, "ex1", ANN.model_copy(update={"title": "CEO"}), version="e2"),
        settings,
        NOW,
    )
    assert decision.next_link is not None
    return decision.next_link, only_command(decision)


def test_echo_of_own_write_is_recognized_by_recorded_version() -> None:
    link, command = _written()
    applied = decide(link, outcome(command, version="s2"), BOTH, NOW)
    assert applied.reason is Reason.APPLIED
    assert applied.next_link is not None
    assert not applied.next_link.pending
    echo = decide(applied.next_link, change(SF, "sf1", command.record, version="s2"), BOTH, NOW)
    assert echo.reason is Reason.ECHO_OF_OWN_WRITE
    assert not echo.commands


def test_echo_arriving_before_its_outcome_is_recognized_by_content() -> None:
    link, command = _written()
    echo = decide(link, change(SF, "sf1", command.record, version="s2"), BOTH, NOW)
    assert echo.reason is Reason.ECHO_OF_OWN_WRITE
    assert not echo.commands
    late = decide(echo.next_link, outcome(command, version="s2"), BOTH, NOW)
    assert late.reason is Reason.STALE_OUTCOME
    assert not late.commands


def test_new_version_with_unchanged_fingerprint_is_not_a_change() -> None:
    link = linked(BOTH, ANN, ANN)
    same = ANN.model_copy(update={"first_name": " Ann ", "email": "ANN@ACME.example"})
    decision = decide(link, change(SF, "sf1", same, version="s9"), BOTH, NOW)
    assert decision.reason is Reason.UNCHANGED_FINGERPRINT
    assert not decision.commands


def test_replayed_change_produces_the_same_command_ids() -> None:
    link = linked(BOTH, ANN, ANN)
    edit = change(EX, "ex1", ANN.model_copy(update={"title": "CEO"}), version="e2")
    first, second = decide(link, edit, BOTH, NOW), decide(link, edit, BOTH, NOW)
    assert [c.id for c in first.commands] == [c.id for c in second.commands]
    assert first.next_link is not None
    again = decide(first.next_link, edit, BOTH, NOW)
    assert again.reason is Reason.REPLAYED_CHANGE
    assert not again.commands


def test_mass_delete_guard_holds_a_burst_of_deletes() -> None:
    link = linked(BOTH, ANN, ANN)
    burst = UserContext(linked_records=20, recent_deletes=15)
    decision = decide(
        link, deleted(EX, "ex1"), BOTH, NOW, context=DecideContext(user_context=burst)
    )
    assert decision.outcome is Outcome.PARK
    assert decision.reason is Reason.MASS_DELETE_GUARD
    assert decision.errors[0].error.code == "suspected_logical_delete"
    assert decision.next_link is not None
    assert decision.next_link.state is LinkState.HELD
    confirmed = burst.model_copy(update={"deletes_confirmed": True})
    passed = decide(
        decision.next_link,
        deleted(EX, "ex1"),
        BOTH,
        NOW,
        context=DecideContext(user_context=confirmed),
    )
    assert passed.reason is Reason.CONTACT_DELETE_NOT_PROPAGATED


def test_mass_delete_guard_lets_ordinary_deletes_through() -> None:
    calm = UserContext(linked_records=20, recent_deletes=2)
    decision = decide(
        linked(BOTH, ANN, ANN),
        deleted(EX, "ex1"),
        BOTH,
        NOW,
        context=DecideContext(user_context=calm),
    )
    assert decision.reason is Reason.CONTACT_DELETE_NOT_PROPAGATED


def test_held_record_that_shows_up_again_resumes_syncing() -> None:
    burst = DecideContext(user_context=UserContext(linked_records=10, recent_deletes=10))
    held = decide(linked(BOTH, ANN, ANN), deleted(EX, "ex1"), BOTH, NOW, context=burst).next_link
    back = decide(held, change(EX, "ex1", ANN, version="e1"), BOTH, NOW)
    assert back.reason is Reason.RESTORED_AFTER_HOLD
    assert back.next_link is not None
    assert back.next_link.state is LinkState.LINKED


def test_transient_failure_is_retried_with_the_same_command_up_to_a_bound() -> None:
    settings = SyncSettings(max_attempts=2)
    link, command = _written(settings)
    busy = SyncError(code="throttled", message="429", retryable=True)
    retry = decide(link, outcome(command, OutcomeStatus.FAILED, error=busy), settings, NOW)
    assert retry.reason is Reason.RETRY_SCHEDULED
    assert retry.retry_after_s == 30.0
    assert [c.id for c in retry.commands] == [command.id]
    replayed = decide(
        retry.next_link, outcome(command, OutcomeStatus.FAILED, error=busy), settings, NOW
    )
    assert replayed.reason is Reason.STALE_OUTCOME  # a redelivered failure is not a new try
    final = decide(
        retry.next_link,
        outcome(command, OutcomeStatus.FAILED, error=busy, attempt=2),
        settings,
        NOW,
    )
    assert final.reason is Reason.WRITE_FAILED
    assert final.outcome is Outcome.ERROR
    assert final.next_link is not None
    assert final.next_link.state is LinkState.ERROR


def test_permanent_failure_is_a_record_error_at_once() -> None:
    link, command = _written()
    bad = SyncError(code="STRING_TOO_LONG", message="too long")
    decision = decide(link, outcome(command, OutcomeStatus.FAILED, error=bad), BOTH, NOW)
    assert decision.reason is Reason.WRITE_FAILED
    assert decision.errors[0].error.code == "STRING_TOO_LONG"


def test_link_round_trips_through_json_for_storage() -> None:
    link, _ = _written()
    assert Link.model_validate_json(link.model_dump_json()) == link


def test_ls83_reset_rematches_both_sides_without_creating_anything() -> None:
    # Links are dropped; the snapshot reads of both sides come back (op=r).
    sf_copy = ANN.model_copy(update={"marker": "lnk_old"})
    first = decide(
        None,
        change(EX, "ex1", ANN, op=Op.READ),
        BOTH,
        NOW,
        context=DecideContext(candidates=(Candidate(side=SF, record_id="sf1", record=sf_copy),)),
    )
    assert first.reason is Reason.MATCHED_EXISTING
    assert not first.commands
    second = decide(first.next_link, change(SF, "sf1", sf_copy, op=Op.READ), BOTH, NOW)
    assert not second.commands


def test_every_situation_has_a_rule_for_every_message() -> None:
    assert set(TRANSITIONS) == {(s, h) for s in LinkSituation for h in Happening}
