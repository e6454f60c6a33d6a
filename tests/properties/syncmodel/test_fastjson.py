"""`dump_json` writes exactly the bytes of pydantic's `model_dump_json()`: any text, any zone,
records, commands, change events and the link states the core builds."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from reconcile import SyncSettings, decide
from reconcile.link import SideState
from syncmodel import (
    Attendee,
    ChangeEvent,
    Contact,
    Event,
    Kind,
    Op,
    RelatedRecord,
    Side,
    SyncError,
)
from syncmodel.fastjson import dump_json
from syncmodel.records import Address, Recurrence

from tests.unit.reconcile.builders import NOW, change

texts = st.text(max_size=40) | st.text(st.characters(max_codepoint=0xA0), max_size=40)
"""Any text, and text of control characters, DEL and the first non-ASCII code points."""
optional_texts = st.none() | texts
zones = st.sampled_from(
    [dt.UTC, zoneinfo.ZoneInfo("Europe/London"), zoneinfo.ZoneInfo("America/St_Johns")]
    + [dt.timezone(dt.timedelta(hours=h, minutes=m)) for h, m in ((0, 0), (5, 30), (-3, 0))]
)
instants = st.builds(
    lambda naive, zone: naive.replace(tzinfo=zone),
    st.datetimes(min_value=dt.datetime(1970, 1, 1), max_value=dt.datetime(2200, 1, 1)),
    zones,
)
"""Instants whose offsets are whole minutes (local mean times before ~1920 have seconds in
their offsets; both encoders drop those, rounding differently: see the module docstring)."""
contacts = st.builds(
    Contact,
    first_name=optional_texts,
    last_name=texts,
    email=optional_texts,
    company=optional_texts,
    notes=optional_texts,
    birthday=st.none() | st.dates(),
    mailing_address=st.none() | st.builds(Address, street=optional_texts, city=optional_texts),
    marker=optional_texts,
)
attendees = st.builds(Attendee, email=texts, name=optional_texts)


@st.composite
def events(draw: st.DrawFn) -> Event:
    start = draw(instants)
    return Event(
        subject=draw(optional_texts),
        body=draw(optional_texts),
        start=start,
        end=start + dt.timedelta(minutes=draw(st.integers(0, 10_000))),
        time_zone=draw(texts),
        reminder_minutes=draw(st.none() | st.integers(-(2**70), 2**70)),
        categories=tuple(draw(st.lists(texts, max_size=3))),
        attendees=tuple(draw(st.lists(attendees, max_size=3))),
        organizer=draw(st.none() | attendees),
        related=(RelatedRecord(id="003x", kind="contact", is_who=True),),
        recurrence=draw(
            st.none()
            | st.builds(
                Recurrence,
                rrule=texts,
                time_zone=texts,
                start_date=st.dates(),
                exdates=st.lists(st.dates() | instants, max_size=2).map(tuple),
            )
        ),
        original_start=draw(st.none() | instants | st.dates()),
    )


def _same(model: BaseModel) -> None:
    assert dump_json(model) == model.model_dump_json().encode()


@settings(max_examples=300)
@given(contacts | events())
def test_records(record: Contact | Event) -> None:
    _same(record)


@settings(max_examples=200)
@given(contacts | events(), instants, instants)
def test_change_events_with_their_aliases(
    record: Contact | Event, captured: dt.datetime, source: dt.datetime
) -> None:
    event = ChangeEvent(
        id="exchange/x/1",
        tenant="t",
        user="u",
        side=Side.EXCHANGE,
        kind=Kind.EVENT if isinstance(record, Event) else Kind.CONTACT,
        op=Op.UPDATE,
        record_id="x",
        version="1",
        after=record,
        source_ts=source,
        captured_ts=captured,
    )
    _same(event)
    assert dump_json(event) == event.model_dump_json(by_alias=True).encode()


@settings(max_examples=200)
@given(contacts | events())
def test_the_links_and_commands_the_core_builds(record: Contact | Event) -> None:
    try:
        decision = decide(
            None, change(Side.EXCHANGE, "r1", record, op=Op.CREATE), SyncSettings(), NOW
        )
    except ValueError:
        return  # a record the core refuses is not this test's business
    for command in decision.commands:
        _same(command)
        assert dump_json(command) == command.model_dump_json(by_alias=True).encode()
    if decision.next_link is not None:
        _same(decision.next_link)


def test_a_model_that_may_hold_a_float_is_written_by_pydantic() -> None:
    error = SyncError(code="throttled", message="later", retry_after_s=2.5e-7)
    assert dump_json(error) == error.model_dump_json().encode()
    assert b"2.5e-7" in dump_json(error) or b"2.5e-07" in dump_json(error)


def test_an_integer_orjson_refuses_is_written_by_pydantic() -> None:
    event = Event(subject="Soon", reminder_minutes=2**70)
    assert dump_json(event) == event.model_dump_json().encode()


def test_a_value_orjson_cannot_write_is_written_by_pydantic() -> None:
    state = SideState(record_id="r1", content={"tags": frozenset({"a"}), "when": dt.time(9, 30)})
    assert dump_json(state) == state.model_dump_json().encode()
