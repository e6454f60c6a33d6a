"""The sync rules for events, one test per rule, named after the requirement."""

from __future__ import annotations

import datetime as dt

from reconcile import (
    Candidate,
    DecideContext,
    EventSelection,
    LinkState,
    Outcome,
    Reason,
    RelateDirectory,
    SyncSettings,
    decide,
)
from syncmodel import (
    Attendee,
    CommandAction,
    Direction,
    Event,
    EventType,
    Kind,
    Op,
    Sensitivity,
    ShowAs,
)

from tests.unit.reconcile.builders import (
    EX,
    NOW,
    SF,
    change,
    deleted,
    linked,
    meeting,
    only_command,
    outcome,
)

BOTH = SyncSettings()


def test_ls72_event_matches_on_subject_date_start_end() -> None:
    twin = meeting(location=None)
    decision = decide(
        None,
        change(EX, "ex1", meeting(), op=Op.READ),
        BOTH,
        NOW,
        context=DecideContext(candidates=(Candidate(side=SF, record_id="sf1", record=twin),)),
    )
    assert decision.reason is Reason.MATCHED_EXISTING
    assert decision.next_link is not None
    assert decision.next_link.salesforce.record_id == "sf1"
    assert all(c.action is CommandAction.UPDATE for c in decision.commands)


def test_ls72_event_matches_on_ical_uid_before_times() -> None:
    moved = meeting(ical_uid="uid-1", subject="QBR (moved)")
    candidates = (
        Candidate(side=SF, record_id="sf-time", record=meeting()),
        Candidate(side=SF, record_id="sf-uid", record=moved),
    )
    decision = decide(
        None,
        change(EX, "ex1", meeting(ical_uid="uid-1")),
        BOTH,
        NOW,
        context=DecideContext(candidates=candidates),
    )
    assert decision.next_link is not None
    assert decision.next_link.salesforce.record_id == "sf-uid"


def test_ls35_private_event_is_not_synced_by_default() -> None:
    private = meeting(sensitivity=Sensitivity.PRIVATE)
    decision = decide(None, change(EX, "ex1", private), BOTH, NOW)
    assert decision.reason is Reason.PRIVATE_NOT_SYNCED
    assert not decision.commands


def test_ls35_private_event_syncs_private_without_attendees_or_relations() -> None:
    settings = SyncSettings(sync_private_events=True)
    private = meeting(
        sensitivity=Sensitivity.PRIVATE, attendees=(Attendee(email="bob@client.example"),)
    )
    directory = RelateDirectory(contacts={"bob@client.example": ("003B",)})
    decision = decide(
        None,
        change(EX, "ex1", private),
        settings,
        NOW,
        context=DecideContext(directory=directory),
    )
    command = only_command(decision)
    assert isinstance(command.record, Event)
    assert command.record.is_private
    assert command.record.attendees == ()
    assert command.record.related == ()


def test_ls37_exclusion_category_always_keeps_an_event_out() -> None:
    settings = SyncSettings(sync_private_events=True, event_selection=EventSelection.SELECTED)
    excluded = meeting(categories=("Salesforce", "don't sync with salesforce"))
    decision = decide(None, change(EX, "ex1", excluded), settings, NOW)
    assert decision.reason is Reason.EXCLUDED_CATEGORY


def test_ls32_selected_mode_syncs_only_events_the_rep_selected() -> None:
    settings = SyncSettings(event_selection=EventSelection.SELECTED)
    plain = decide(None, change(EX, "ex1", meeting()), settings, NOW)
    assert plain.reason is Reason.NOT_SELECTED
    chosen = decide(None, change(EX, "ex2", meeting(categories=("Salesforce",))), settings, NOW)
    assert chosen.reason is Reason.CREATED
    # selection is for calendar -> Salesforce; Salesforce events still reach the calendar
    assert decide(None, change(SF, "sf1", meeting()), settings, NOW).reason is Reason.CREATED


def test_ls33_classic_recurring_event_is_an_unsupported_error() -> None:
    classic = meeting(classic_recurrence=True)
    decision = decide(None, change(SF, "sf1", classic), BOTH, NOW)
    assert decision.outcome is Outcome.ERROR
    assert decision.reason is Reason.CLASSIC_RECURRENCE_UNSUPPORTED
    assert decision.errors[0].error.code == "classic_recurrence_unsupported"


def test_ls33_classic_recurring_event_is_no_error_when_events_only_go_to_salesforce() -> None:
    """With Exchange -> Salesforce only, a Classic series would never have gone to Outlook:
    explained (reason) but not reported as the rep's error."""
    one_way = SyncSettings(events=Direction.EXCHANGE_TO_SALESFORCE)
    decision = decide(None, change(SF, "sf1", meeting(classic_recurrence=True)), one_way, NOW)
    assert decision.outcome is Outcome.NOOP
    assert decision.reason is Reason.CLASSIC_RECURRENCE_UNSUPPORTED
    assert decision.errors == ()


def test_ls33_series_are_left_out_when_series_sync_is_off() -> None:
    settings = SyncSettings(sync_series=False)
    master = meeting(event_type=EventType.SERIES_MASTER)
    assert decide(None, change(EX, "ex1", master), settings, NOW).reason is (
        Reason.SERIES_NOT_SYNCED
    )


def test_ls33_a_series_master_is_written_as_a_series_master_on_the_other_side() -> None:
    """The canonical form has no event type: the command's record must still be a series
    master, or both sinks write the series as one single event (found end to end)."""
    from syncmodel import Recurrence

    pattern = Recurrence(
        rrule="FREQ=WEEKLY;BYDAY=TU;COUNT=4", time_zone="Europe/Berlin", start_date=NOW.date()
    )
    master = meeting(event_type=EventType.SERIES_MASTER, recurrence=pattern)
    for side in (EX, SF):
        command = only_command(decide(None, change(side, "id1", master, op=Op.CREATE), BOTH, NOW))
        assert isinstance(command.record, Event)
        assert command.record.event_type is EventType.SERIES_MASTER
        assert command.record.recurrence == pattern
    single = only_command(decide(None, change(EX, "id2", meeting(), op=Op.CREATE), BOTH, NOW))
    assert isinstance(single.record, Event)
    assert single.record.event_type is EventType.SINGLE


def test_ls73_one_way_audits_only_what_salesforce_holds() -> None:
    """A Salesforce event outside a series has no zone field (read back, it carries the owner's
    zone): a one-way write neither "changes" nor audits it; the real overwrite is audited."""
    one_way = SyncSettings(events=Direction.EXCHANGE_TO_SALESFORCE)
    link = linked(one_way, meeting(), meeting())
    edited = meeting(location="Customer site", time_zone="Australia/Sydney")
    kept = decide(link, change(SF, "sf1", edited, version="s2"), one_way, NOW)
    assert not kept.commands
    source = meeting(show_as=ShowAs.OOF)
    decision = decide(kept.next_link, change(EX, "ex1", source, version="e2"), one_way, NOW)
    command = only_command(decision)
    assert set(command.changed_fields) == {"location", "show_as"}
    assert [(a.field, a.old_value, a.new_value) for a in decision.audit] == [
        ("location", "Customer site", "Room 1")
    ]


def test_ls36_event_delete_propagates_when_remove_deleted_is_on() -> None:
    link = linked(BOTH, meeting(), meeting())
    decision = decide(link, deleted(EX, "ex1", Kind.EVENT), BOTH, NOW)
    command = only_command(decision)
    assert decision.reason is Reason.DELETED
    assert command.action is CommandAction.DELETE
    assert command.side is SF
    assert command.record_id == "sf1"


def test_ls36_event_delete_stays_when_remove_deleted_is_off() -> None:
    settings = SyncSettings(remove_deleted_events=False)
    link = linked(settings, meeting(), meeting())
    decision = decide(link, deleted(EX, "ex1", Kind.EVENT), settings, NOW)
    assert decision.reason is Reason.EVENT_DELETE_NOT_PROPAGATED
    assert not decision.commands
    assert decision.next_link is not None
    assert decision.next_link.state is LinkState.CLOSED


def test_ls39a_salesforce_copy_of_another_organizers_event_does_not_sync() -> None:
    invitee_copy = meeting(is_organizer=False)
    decision = decide(None, change(SF, "sf1", invitee_copy), BOTH, NOW)
    assert decision.reason is Reason.ORGANIZER_NOT_SYNCING


def test_ls39b_attended_event_syncs_to_salesforce_but_salesforce_edits_stay_there() -> None:
    attended = meeting(
        is_organizer=False,
        organizer=Attendee(email="boss@partner.example"),
        attendees=(Attendee(email="me@acme.example"), Attendee(email="x@partner.example")),
    )
    created = decide(None, change(EX, "ex1", attended), BOTH, NOW)
    command = only_command(created)
    assert isinstance(command.record, Event)
    assert command.record.is_organizer  # the rep shows as organizer and only participant
    assert command.record.attendees == ()
    assert created.next_link is not None
    assert created.next_link.attendee_copy
    done = decide(created.next_link, outcome(command, version="s1", record_id="sf1"), BOTH, NOW)
    edited = command.record.model_copy(update={"location": "moved by rep"})
    back = decide(done.next_link, change(SF, "sf1", edited, version="s2"), BOTH, NOW)
    assert back.reason is Reason.ATTENDEE_EDIT_NOT_SYNCED
    assert not back.commands
    organizer_update = attended.model_copy(update={"subject": "QBR v2"})
    forward = decide(back.next_link, change(EX, "ex1", organizer_update, version="e2"), BOTH, NOW)
    to_sf = only_command(forward)
    assert set(to_sf.changed_fields) == {"subject", "location"}  # organizer overrides the edit


def test_ls45_auto_relate_links_attendee_contacts_first_as_who() -> None:
    invited = meeting(
        attendees=(
            Attendee(email="Bob@Client.example"),
            Attendee(email="carol@client.example"),
            Attendee(email="stranger@else.example"),
        )
    )
    directory = RelateDirectory(
        contacts={"bob@client.example": ("003B",), "carol@client.example": ("003C",)}
    )
    decision = decide(
        None, change(EX, "ex1", invited), BOTH, NOW, context=DecideContext(directory=directory)
    )
    record = only_command(decision).record
    assert isinstance(record, Event)
    assert [(r.id, r.kind, r.is_who) for r in record.related] == [
        ("003B", "contact", True),
        ("003C", "contact", False),
    ]
    assert decision.unresolved_attendees == ("stranger@else.example",)


def test_ls45_auto_relate_relates_exactly_one_lead_when_no_contact_matches() -> None:
    invited = meeting(attendees=(Attendee(email="lead@prospect.example"),))
    directory = RelateDirectory(leads={"lead@prospect.example": ("00QL",)})
    decision = decide(
        None, change(EX, "ex1", invited), BOTH, NOW, context=DecideContext(directory=directory)
    )
    record = only_command(decision).record
    assert isinstance(record, Event)
    assert [(r.id, r.kind) for r in record.related] == [("00QL", "lead")]


def test_ls38_attendees_beyond_the_salesforce_limit_are_kept_and_reported() -> None:
    people = tuple(Attendee(email=f"p{i}@client.example") for i in range(60))
    directory = RelateDirectory(contacts={a.email: (f"003{i:03d}",) for i, a in enumerate(people)})
    decision = decide(
        None,
        change(EX, "ex1", meeting(attendees=people)),
        BOTH,
        NOW,
        context=DecideContext(directory=directory),
    )
    record = only_command(decision).record
    assert isinstance(record, Event)
    assert len(record.attendees) == 60  # no cap of our own
    assert len(record.related) == 50
    assert len(decision.unrelated_attendees) == 10


def test_events_off_means_no_event_sync() -> None:
    off = SyncSettings(events=Direction.NONE)
    assert decide(None, change(EX, "ex1", meeting()), off, NOW).reason is (
        Reason.DIRECTION_DISALLOWS
    )


def test_only_meeting_changes_notify_attendees_from_exchange() -> None:
    invited = meeting(attendees=(Attendee(email="bob@client.example"),))
    link = linked(BOTH, invited, invited)
    body = decide(
        link, change(SF, "sf1", invited.model_copy(update={"body": "x"}), version="s2"), BOTH, NOW
    )
    assert not only_command(body).notify_attendees
    moved = invited.model_copy(update={"location": "Room 9"})
    where = decide(link, change(SF, "sf1", moved, version="s3"), BOTH, NOW)
    assert only_command(where).notify_attendees


def test_all_day_event_with_a_new_start_moves_start_and_end_together() -> None:
    day = meeting(
        is_all_day=True,
        start=None,
        end=None,
        start_date=dt.date(2026, 3, 3),
        end_date=dt.date(2026, 3, 4),
    )
    link = linked(BOTH, day, day)
    later = day.model_copy(
        update={"start_date": dt.date(2026, 3, 5), "end_date": dt.date(2026, 3, 6)}
    )
    command = only_command(decide(link, change(EX, "ex1", later, version="e2"), BOTH, NOW))
    assert isinstance(command.record, Event)
    assert (command.record.start_date, command.record.end_date) == (
        dt.date(2026, 3, 5),
        dt.date(2026, 3, 6),
    )


def test_an_exception_synced_as_its_own_event_reaches_a_fixed_point() -> None:
    """A Salesforce series exception becomes a single Outlook event, whose copy has no original
    start (Graph keeps that only inside a series). That must not count as a difference to write
    again: `make bench` once saw such events PATCHed twice a second forever."""
    from reconcile import DecideContext, SyncSettings, decide
    from syncmodel import EventType, Op

    from tests.unit.reconcile.builders import EX, NOW, SF, change, meeting, only_command, outcome

    settings = SyncSettings()
    moved = meeting(event_type=EventType.EXCEPTION, original_start=NOW)
    created = decide(
        None, change(SF, "sf1", moved, op=Op.CREATE), settings, NOW, context=DecideContext()
    )
    create = only_command(created)
    assert create.side is EX
    # Outlook stores a single event: no original start, no exception type.
    stored = meeting()
    applied = decide(
        created.next_link, outcome(create, record_id="ex1", record=stored), settings, NOW
    )
    assert applied.commands == ()
    echo = decide(applied.next_link, change(EX, "ex1", stored, version="w1"), settings, NOW)
    assert echo.commands == ()
    again = decide(echo.next_link, change(EX, "ex1", stored, version="w2"), settings, NOW)
    assert again.commands == ()


def test_ls31_existing_salesforce_event_is_not_pushed_until_touched() -> None:
    """LS-31/LS-76: the snapshot of a Salesforce event last changed before the rep started
    syncing, with no Exchange twin, writes nothing; the same event edited later (a `u`
    capture) is created in Exchange."""
    started = DecideContext(syncing_since=NOW + dt.timedelta(hours=1))
    snapshot = decide(None, change(SF, "sf1", meeting(), op=Op.READ), BOTH, NOW, context=started)
    assert snapshot.outcome is Outcome.NOOP
    assert snapshot.reason is Reason.EXISTING_SALESFORCE_EVENT_UNTOUCHED
    assert snapshot.commands == ()
    assert snapshot.next_link is None
    edited = decide(
        None,
        change(SF, "sf1", meeting(subject="QBR v2"), version="v2"),
        BOTH,
        NOW,
        context=started,
    )
    [create] = edited.commands
    assert (create.side, create.action) == (EX, CommandAction.CREATE)


def test_ls31_salesforce_event_created_after_sync_started_goes_out_from_the_snapshot() -> None:
    """An event created once the rep syncs but captured by their first snapshot is new."""
    started = DecideContext(syncing_since=NOW - dt.timedelta(minutes=1))
    decision = decide(None, change(SF, "sf1", meeting(), op=Op.READ), BOTH, NOW, context=started)
    [create] = decision.commands
    assert (create.side, create.action) == (EX, CommandAction.CREATE)


def test_ls31_existing_salesforce_event_still_links_to_its_exchange_twin() -> None:
    """LS-76: pre-existing events on both sides are matched, not left apart."""
    decision = decide(
        None,
        change(SF, "sf1", meeting(), op=Op.READ),
        BOTH,
        NOW,
        context=DecideContext(candidates=(Candidate(side=EX, record_id="ex1", record=meeting()),)),
    )
    assert decision.reason is Reason.MATCHED_EXISTING
    assert decision.next_link is not None
    assert decision.next_link.exchange.record_id == "ex1"


def test_ls31_admin_may_push_existing_salesforce_events() -> None:
    settings = SyncSettings(push_existing_salesforce_events=True)
    decision = decide(None, change(SF, "sf1", meeting(), op=Op.READ), settings, NOW)
    [create] = decision.commands
    assert (create.side, create.action) == (EX, CommandAction.CREATE)


def test_ls31_existing_exchange_events_are_pushed_on_initial_sync() -> None:
    """LS-76: pre-existing Exchange events within the window are matched or created."""
    decision = decide(None, change(EX, "ex1", meeting(), op=Op.READ), BOTH, NOW)
    [create] = decision.commands
    assert (create.side, create.action) == (SF, CommandAction.CREATE)


def test_ls71_salesforce_echo_of_our_create_ahead_of_its_outcome_changes_nothing_in_outlook() -> (
    None
):
    """Salesforce keeps no zone on a single event (read back: the owner's) and may read other
    fields back its own way. Whether the capture of our create or its outcome comes first, the
    Outlook event is left as the rep wrote it."""
    created = decide(None, change(EX, "ex1", meeting(time_zone="UTC")), BOTH, NOW)
    command = only_command(created)
    assert command.side is SF
    assert command.action is CommandAction.CREATE
    assert created.next_link is not None
    stored = meeting(time_zone="Asia/Tokyo", marker=created.next_link.link_id)
    echo = decide(created.next_link, change(SF, "sf1", stored, version="s1"), BOTH, NOW)
    assert echo.reason is Reason.ECHO_OF_OWN_WRITE
    assert not [c for c in echo.commands if c.side is EX]
    assert echo.next_link is not None
    assert echo.next_link.state is LinkState.LINKED
    assert echo.next_link.salesforce.record_id == "sf1"
    late = decide(echo.next_link, outcome(command, record_id="sf1", version="s1"), BOTH, NOW)
    assert late.reason is Reason.STALE_OUTCOME
    assert not late.commands
