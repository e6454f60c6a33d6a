"""The bus contracts: schemas checked in, round trips, and clear errors for bad messages."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from pydantic import ValidationError
from syncmodel import (
    ChangeEvent,
    Command,
    CommandAction,
    CommandOutcome,
    Contact,
    Event,
    InvalidMessage,
    Kind,
    Op,
    OutcomeStatus,
    Side,
    bus_key,
    change_event_id,
    decode,
    decode_changes,
)
from syncmodel.export_schemas import SCHEMA_DIR, render

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)


def _change(**overrides: object) -> ChangeEvent:
    fields: dict[str, object] = {
        "id": change_event_id(Side.EXCHANGE, "AAMk1", "ck1"),
        "tenant": "acme",
        "user": "005000000000001AAA",
        "side": Side.EXCHANGE,
        "kind": Kind.CONTACT,
        "op": Op.CREATE,
        "record_id": "AAMk1",
        "version": "ck1",
        "after": Contact(first_name="Ada", last_name="Lovelace", email="ada@example.com"),
        "captured_ts": NOW,
    }
    fields.update(overrides)
    return ChangeEvent.model_validate(fields)


def test_checked_in_schemas_match_the_models() -> None:
    rendered = render()
    on_disk = {p.name: p.read_text() for p in SCHEMA_DIR.glob("*.json")}
    assert set(on_disk) == set(rendered), "run `python -m syncmodel.export_schemas`"
    for name, text in rendered.items():
        assert on_disk[name] == text, f"{name} drifted: run `python -m syncmodel.export_schemas`"


def test_change_event_round_trips_through_json_with_schema_field() -> None:
    event = _change()
    raw = event.to_json()
    assert json.loads(raw)["schema"] == "syncline.change/1"
    decoded = decode_changes(raw)
    assert decoded == event
    assert isinstance(decoded, ChangeEvent)
    assert isinstance(decoded.after, Contact)


def test_changes_topic_tells_outcomes_from_change_events() -> None:
    outcome = CommandOutcome(
        id="o1",
        command_id="c1",
        tenant="acme",
        user="u1",
        side=Side.SALESFORCE,
        kind=Kind.EVENT,
        link_id="l1",
        status=OutcomeStatus.APPLIED,
        record_id="00U000000000001AAA",
        version="2026-11-24T12:00:00.000+0000",
        applied_ts=NOW,
    )
    assert isinstance(decode_changes(outcome.to_json()), CommandOutcome)


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (None, "empty message"),
        (b"not json", "not a valid"),
        (b'{"schema": "syncline.change/9"}', "schema"),
        (b'{"schema": "syncline.change/1", "id": "x"}', "tenant"),
    ],
)
def test_invalid_messages_raise_one_clear_error(raw: bytes | None, fragment: str) -> None:
    with pytest.raises(InvalidMessage) as info:
        decode_changes(raw)
    assert fragment in info.value.reason


def test_change_event_ids_are_deterministic_for_replays() -> None:
    assert change_event_id(Side.SALESFORCE, "003A", "v7") == change_event_id(
        Side.SALESFORCE, "003A", "v7"
    )
    assert bus_key("acme", "005X") == "acme/005X"


def test_all_day_event_is_dates_with_exclusive_end() -> None:
    event = Event(
        subject="Offsite",
        is_all_day=True,
        start_date=dt.date(2026, 3, 8),
        end_date=dt.date(2026, 3, 9),
    )
    assert event.start is None
    with pytest.raises(ValidationError, match="end after it starts"):
        Event(
            subject="x",
            is_all_day=True,
            start_date=dt.date(2026, 3, 8),
            end_date=dt.date(2026, 3, 8),
        )
    with pytest.raises(ValidationError, match="needs start_date"):
        Event(subject="x", is_all_day=True)


def test_event_times_must_be_timezone_aware() -> None:
    with pytest.raises(ValidationError):
        Event(subject="x", start=dt.datetime(2026, 1, 1, 9), end=dt.datetime(2026, 1, 1, 10))


def test_command_decodes_with_its_record_and_its_outcome_carries_its_ids() -> None:
    command = Command(
        id="cmd-1",
        tenant="acme",
        user="u1",
        side=Side.EXCHANGE,
        kind=Kind.CONTACT,
        action=CommandAction.CREATE,
        link_id="l1",
        record=Contact(last_name="Hopper"),
        issued_ts=NOW,
    )
    assert decode(Command, command.to_json()) == command
    with pytest.raises(InvalidMessage, match="not a valid Command"):
        decode(Command, b'{"schema": "syncline.command/1"}')

    outcome = CommandOutcome.of(
        command, outcome_id="o-1", status=OutcomeStatus.APPLIED, applied_ts=NOW, record_id="AAMk9"
    )
    assert (outcome.id, outcome.command_id, outcome.link_id) == ("o-1", "cmd-1", "l1")
    assert (outcome.tenant, outcome.user, outcome.side, outcome.kind) == (
        "acme",
        "u1",
        Side.EXCHANGE,
        Kind.CONTACT,
    )
    assert decode_changes(outcome.to_json()) == outcome


def test_unknown_fields_are_rejected_not_dropped() -> None:
    payload = json.loads(_change().to_json())
    payload["surprise"] = 1
    with pytest.raises(InvalidMessage, match="surprise"):
        decode_changes(json.dumps(payload))
