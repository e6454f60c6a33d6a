"""Who receives what (ARCHITECTURE.md "Who syncs"; LS-24 contact filters) and how event
relations are packed into Composite calls (protocols.md C7: ≤ 25 subrequests)."""

from __future__ import annotations

import datetime as dt

from salesforce_connector import mapping, relations
from salesforce_connector.roster import Audience, Roster, signature
from syncmodel.kinds import Direction, Kind, Side
from syncmodel.messages import Command, CommandAction, RosterEntry
from syncmodel.records import Event, EventType, RelatedRecord

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def _entry(user: str, **kw: object) -> RosterEntry:
    fields: dict[str, object] = {
        "tenant": "t",
        "user": user,
        "email": f"{user}@x.example",
        "mailbox": None,
        "active": True,
        "contacts": Direction.BOTH,
        "events": Direction.BOTH,
        "settings_digest": "d",
        "ts": NOW,
        **kw,
    }
    return RosterEntry.model_validate(fields)


def test_recipients_follow_activity_direction_and_contact_filter() -> None:
    audience = Audience.of(
        [
            _entry("u1"),
            _entry("u2", contact_filter="all_accessible", events=Direction.NONE),
            _entry("u3", active=False),
        ]
    )
    assert audience.recipients(Kind.CONTACT, "u1") == ["u1", "u2"]
    assert audience.recipients(Kind.CONTACT, "u3") == ["u2"]  # u2 sees every contact
    assert audience.recipients(Kind.CONTACT, None) == ["u2"]
    assert audience.recipients(Kind.EVENT, "u1") == ["u1"]
    assert audience.recipients(Kind.EVENT, "u2") == []  # events: none
    assert audience.recipients(Kind.EVENT, "u3") == []  # inactive
    assert audience.recipients(Kind.USER, "u3") == ["u3"]  # users always (they feed the roster)
    assert audience.recipients(Kind.LEAD, "u9") == ["u9"]
    assert signature(_entry("u1"), Kind.CONTACT) == "contact:my_records"
    assert signature(_entry("u1", events=Direction.NONE), Kind.EVENT) is None
    assert signature(_entry("u1", active=False), Kind.CONTACT) is None


def test_roster_keeps_the_latest_entry_of_its_tenant_and_honours_tombstones() -> None:
    roster = Roster("t")
    assert roster.apply("t/u1", _entry("u1").to_json())
    assert not roster.apply("other/u1", _entry("u1").to_json().replace(b'"t"', b'"other"'))
    assert not roster.apply("t/u2", b"not json")
    assert roster.audience().users() == ["u1"]
    assert roster.apply("t/u1", _entry("u1", active=False).to_json())
    assert roster.audience().users() == []
    assert roster.apply("t/u1", None)
    assert roster.entries == {}


def _command(n: int, related: int) -> Command:
    rels = tuple(
        RelatedRecord(id=f"003{n:03d}{i:012d}", kind="contact", is_who=i == 0)
        for i in range(related)
    )
    return Command(
        id=f"c{n}",
        tenant="t",
        user="u",
        side=Side.SALESFORCE,
        kind=Kind.EVENT,
        action=CommandAction.CREATE,
        link_id=f"l{n}",
        record=Event(subject="s", start=NOW, end=NOW, related=rels),
        issued_ts=NOW,
    )


def test_extra_relations_leave_out_the_who_and_pack_into_25_subrequests() -> None:
    assert [r.id for r in relations.of_command(_command(1, 3))] == [
        "003001000000000001",
        "003001000000000002",
    ]
    assert relations.of_command(_command(1, 1)) == []
    # 1 + 9 + 1 + 9 = 20 fit; the next (10 subrequests) starts a new call; 40 alone is capped.
    groups = relations.pack([_command(1, 10), _command(2, 10), _command(3, 10), _command(4, 40)])
    assert [[c.id for c in g] for g in groups] == [["c1", "c2"], ["c3"], ["c4"]]


def test_exception_carries_its_series_and_classic_occurrences_are_flagged() -> None:
    row = {
        "Id": "00U000000000003AAA",
        "OwnerId": "005000000000001AAA",
        "StartDateTime": "2026-06-03T17:00:00.000+0000",
        "EndDateTime": "2026-06-03T17:30:00.000+0000",
        "IsRecurrence2": True,
        "IsRecurrence2Exception": True,
        "IsRecurrence2Series": False,
        "Recurrence2PatternText": "RRULE:FREQ=WEEKLY;BYDAY=WE;COUNT=6",
        "Recurrence2PatternStartDate": "2026-05-20T16:00:00.000+0000",
        "Recurrence2PatternTimeZone": "America/New_York",
    }
    event = mapping.event_from_sf(row, series_master_id="00U000000000001AAA")
    assert event.event_type is EventType.EXCEPTION
    assert event.series_master_id == "00U000000000001AAA"
    master = {**row, "IsRecurrence2Exception": False, "IsRecurrence2Series": True}
    assert mapping.event_from_sf(master).event_type is EventType.SERIES_MASTER
    classic_child = {
        "Id": "00U000000000009AAA",
        "StartDateTime": "2026-06-03T09:00:00.000+0000",
        "EndDateTime": "2026-06-03T09:15:00.000+0000",
        "IsRecurrence": False,
        "RecurrenceActivityId": "00U000000000008AAA",
    }
    assert mapping.event_from_sf(classic_child).classic_recurrence
    key = relations.series_key(row)
    assert key == relations.series_key(master)
