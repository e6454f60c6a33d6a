"""A link's stored JSON is exactly the link's own JSON (`model_dump_json`), written by orjson."""

from __future__ import annotations

from reconcile import Link, SyncSettings, decide
from reconcile.link import PendingWrite
from reconciler.link_store import link_json
from syncmodel import Op, SyncError

from tests.unit.reconcile.builders import ANN, EX, NOW, SF, change, linked, meeting


def _same(link: Link) -> None:
    text = link_json(link)
    assert text == link.model_dump_json()
    assert Link.model_validate_json(text) == link


def test_a_created_contact_and_event_store_the_json_of_their_link() -> None:
    for record in (ANN, meeting(body="<p>Agenda</p>", attendees=())):
        decision = decide(None, change(EX, "ex1", record, op=Op.CREATE), SyncSettings(), NOW)
        link = decision.next_link
        assert link is not None
        assert len(link.pending) == 1
        _same(link)


def test_writes_to_both_sides_with_retry_state_keep_every_field() -> None:
    settings = SyncSettings()
    created = decide(None, change(EX, "ex1", ANN, op=Op.CREATE), settings, NOW).next_link
    assert created is not None
    to_salesforce = created.pending[0].command
    to_exchange = to_salesforce.model_copy(update={"id": "cmd_back", "side": EX})
    link = (
        linked(settings, ANN, ANN)
        .with_pending(
            PendingWrite(
                command=to_salesforce, attempts=3, observed_after=True, last_outcome_id="o1"
            )
        )
        .with_pending(PendingWrite(command=to_exchange))
    )
    assert {w.command.side for w in link.pending} == {EX, SF}
    _same(link)


def test_a_link_with_an_error_holding_a_float_is_its_own_json_too() -> None:
    """SyncError may hold a float: such a link goes through pydantic's serializer whole."""
    error = SyncError(code="throttled", message="try later", retryable=True, retry_after_s=1e-05)
    link = linked(SyncSettings(), ANN, ANN).model_copy(update={"last_error": error})
    _same(link)
