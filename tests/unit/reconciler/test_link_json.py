"""A link's stored JSON, with the batch's command JSON spliced in, is the link's own JSON."""

from __future__ import annotations

import json

from reconcile import Link, SyncSettings, decide
from reconcile.link import PendingWrite
from reconciler.link_store import link_json
from syncmodel import Command, Op

from tests.unit.reconcile.builders import ANN, EX, NOW, SF, change, linked, meeting


def _same(link: Link, known: dict[str, tuple[Command, str]]) -> None:
    text = link_json(link, known)
    assert json.loads(text) == json.loads(link.model_dump_json())
    assert Link.model_validate_json(text) == link


def _queued(link: Link) -> dict[str, tuple[Command, str]]:
    return {
        w.command.id: (w.command, w.command.model_dump_json(by_alias=True)) for w in link.pending
    }


def test_a_created_contact_and_event_store_the_json_of_their_link() -> None:
    for record in (ANN, meeting(body="<p>Agenda</p>")):
        decision = decide(None, change(EX, "ex1", record, op=Op.CREATE), SyncSettings(), NOW)
        link = decision.next_link
        assert link is not None
        assert len(link.pending) == 1
        _same(link, _queued(link))


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
    _same(link, _queued(link))


def test_a_pending_command_of_an_earlier_batch_is_serialized_as_usual() -> None:
    link = decide(None, change(EX, "ex1", ANN, op=Op.CREATE), SyncSettings(), NOW).next_link
    assert link is not None
    _same(link, {})
    command = link.pending[0].command
    _same(link, {"cmd_other": (command, "{}")})
    # the same id, another command object (say, issued again at another time): not spliced
    other = command.model_copy(update={"issued_ts": NOW.replace(year=2030)})
    _same(link, {command.id: (other, other.model_dump_json(by_alias=True))})
