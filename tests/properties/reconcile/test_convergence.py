"""Stateful property tests of the pure core: any interleaving converges, without duplicates,
resurrection, echoes or mass deletes (modelled on vdirsyncer's tests/unit/sync/test_sync.py).

Rules create/update/delete records on both sides, deliver messages in order, apply commands
(echo before or after the outcome), lose outcomes (the command is applied again), fail commands
transiently, replay the last message, re-capture current state and wipe a whole side. The
`quiet` rule drains everything and checks convergence and echo freedom.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
)
from reconcile import ConflictPolicy, LinkState, Reason, SyncSettings
from syncmodel import CommandAction, Contact, Event, Kind, Op, Side

from tests.properties.reconcile.harness import EPOCH, Pair

SIDES = st.sampled_from([Side.EXCHANGE, Side.SALESFORCE])

contacts = st.builds(
    Contact,
    first_name=st.sampled_from(["Ann", "Bob", None]),
    last_name=st.sampled_from(["Lee", "Kim"]),
    email=st.sampled_from([None, "ann@x.example", "bob@x.example", "cy@x.example"]),
    company=st.sampled_from([None, "Acme"]),
    title=st.sampled_from([None, "CEO", "CTO"]),
    notes=st.sampled_from([None, "met at expo", "call back"]),
)


@st.composite
def events(draw: st.DrawFn) -> Event:
    start = EPOCH + dt.timedelta(hours=draw(st.integers(0, 2)))
    return Event(
        subject=draw(st.sampled_from(["Sync", "Demo", "QBR"])),
        start=start,
        end=start + dt.timedelta(minutes=draw(st.sampled_from([30, 60]))),
        time_zone="Europe/Berlin",
        location=draw(st.sampled_from([None, "Room 1", "Teams"])),
        body=draw(st.sampled_from([None, "agenda", "notes"])),
        ical_uid=draw(st.sampled_from([None, "uid-1", "uid-2"])),
    )


GUARD: dict[str, Any] = {"mass_delete_min_count": 3, "mass_delete_share": 0.5}


class ConvergenceMachine(RuleBasedStateMachine):
    KIND = Kind.CONTACT
    SETTINGS = SyncSettings(conflict_policy=ConflictPolicy.LATEST_WINS, **GUARD)
    RECORDS: st.SearchStrategy[Contact | Event] = contacts

    def __init__(self) -> None:
        super().__init__()
        self.pair = Pair(self.KIND, self.SETTINGS)
        self.failures: dict[str, int] = {}
        self.user_deleted: set[tuple[str, Side]] = set()
        self.changed_after_delete: set[tuple[str, Side]] = set()

    # helpers ---------------------------------------------------------------------------------
    def _link_of(self, side: Side, record_id: str) -> str | None:
        link_id = self.pair.index.get((side, record_id))
        stored = self.pair.store(side).records.get(record_id)
        if link_id is None and stored is not None and stored.record.marker in self.pair.links:
            link_id = stored.record.marker
        return link_id

    def _pick(self, side: Side, data: st.DataObject) -> str | None:
        ids = sorted(self.pair.store(side).records)
        return data.draw(st.sampled_from(ids)) if ids else None

    # user actions ----------------------------------------------------------------------------
    @rule(side=SIDES, data=st.data())
    def create(self, side: Side, data: st.DataObject) -> None:
        record = data.draw(self.RECORDS)
        self.pair.inbox.append(self.pair.store(side).user_create(record, self.pair.now()))

    @rule(side=SIDES, data=st.data())
    def update(self, side: Side, data: st.DataObject) -> None:
        record_id = self._pick(side, data)
        if record_id is None:
            return
        if (link_id := self._link_of(side, record_id)) is not None:
            self.changed_after_delete.add((link_id, side.other))
        record = data.draw(self.RECORDS)
        self.pair.inbox.append(
            self.pair.store(side).user_update(record_id, record, self.pair.now())
        )

    @rule(side=SIDES, data=st.data())
    def delete(self, side: Side, data: st.DataObject) -> None:
        record_id = self._pick(side, data)
        if record_id is None:
            return
        if (link_id := self._link_of(side, record_id)) is not None:
            self.user_deleted.add((link_id, side))
            self.changed_after_delete.discard((link_id, side))
        self.pair.inbox.append(self.pair.store(side).user_delete(record_id, self.pair.now()))

    @rule(side=SIDES, data=st.data())
    def touch(self, side: Side, data: st.DataObject) -> None:
        record_id = self._pick(side, data)
        if record_id is not None:
            self.pair.inbox.append(self.pair.store(side).touch(record_id, self.pair.now()))

    # delivery and connectors -----------------------------------------------------------------
    @rule()
    def deliver(self) -> None:
        self.pair.deliver_next()

    @precondition(lambda self: bool(self.pair.delivered))
    @rule()
    def replay_last(self) -> None:
        self.pair.inbox.appendleft(self.pair.delivered[-1])

    @rule(side=SIDES, data=st.data())
    def recapture(self, side: Side, data: st.DataObject) -> None:
        record_id = self._pick(side, data)
        if record_id is not None:
            self.pair.inbox.append(
                self.pair.store(side).capture(record_id, self.pair.now(), Op.READ)
            )

    @rule(side=SIDES, lose_outcome=st.booleans(), echo_first=st.booleans())
    def apply(self, side: Side, lose_outcome: bool, echo_first: bool) -> None:
        queue = self.pair.outbox[side]
        applied_before = bool(queue) and queue[0].id in self.pair.store(side).applied
        if queue and queue[0].action is CommandAction.CREATE and not applied_before:
            self._check_not_resurrected(queue[0].link_id, side)
        self.pair.apply_next(side, lose_outcome=lose_outcome, echo_first=echo_first)

    @rule(side=SIDES)
    def fail_transiently(self, side: Side) -> None:
        queue = self.pair.outbox[side]
        if queue and self.failures.get(queue[0].id, 0) < 2:
            self.failures[queue[0].id] = self.failures.get(queue[0].id, 0) + 1
            self.pair.fail_next(side)

    @precondition(lambda self: len(self.pair.links) >= 4)
    @rule(side=SIDES)
    def wipe_side(self, side: Side) -> None:
        """A lost folder or revoked access: every record of one side reported deleted at once."""
        self.pair.drain()
        other = self.pair.store(side.other)
        before, linked = len(other.records), self.pair.live_links()
        for record_id in sorted(self.pair.store(side).records):
            if (link_id := self._link_of(side, record_id)) is not None:
                self.user_deleted.add((link_id, side))
            self.pair.inbox.append(self.pair.store(side).user_delete(record_id, self.pair.now()))
        self.pair.drain()
        guard = self.SETTINGS
        allowed = max(guard.mass_delete_min_count - 1, int(guard.mass_delete_share * linked))
        assert before - len(other.records) <= allowed, "mass delete went through"

    # checks ----------------------------------------------------------------------------------
    def _check_not_resurrected(self, link_id: str, side: Side) -> None:
        if (link_id, side) in self.user_deleted:
            assert self.KIND is Kind.CONTACT, "a deleted event came back"
            assert (link_id, side) in self.changed_after_delete, "recreated without a change"

    @invariant()
    def one_link_per_record_and_one_record_per_link(self) -> None:
        for link in self.pair.links.values():
            for side in Side:
                state = link.side(side)
                if state.record_id is not None and not state.deleted:
                    assert self.pair.index[(side, state.record_id)] == link.link_id
        for side in Side:
            markers = [
                s.record.marker for s in self.pair.store(side).records.values() if s.record.marker
            ]
            assert len(markers) == len(set(markers)), f"duplicate created on {side}"
            owners = [
                link.side(side).record_id
                for link in self.pair.links.values()
                if not link.side(side).deleted
            ]
            live = [r for r in owners if r is not None]
            assert len(live) == len(set(live)), f"two links share a {side} record"

    @rule()
    def quiet(self) -> None:
        self.pair.drain()
        self.check_convergence()
        self.check_echo_freedom()

    def check_convergence(self) -> None:
        pair = self.pair
        for link in pair.links.values():
            assert not link.pending, f"write still in flight on {link.link_id}"
            assert link.state is not LinkState.PENDING_CREATE
            if link.state is not LinkState.LINKED:
                continue
            for side in Side:
                record_id = link.side(side).record_id
                assert record_id is not None
                stored = pair.store(side).records.get(record_id)
                assert stored is not None, f"linked {side} record vanished"
                assert pair.canonical(side, stored.record) == pair.holds(link, side)
        ambiguous = {
            message.record_id
            for message, decision in zip(pair.delivered, pair.decisions, strict=True)
            if decision.reason is Reason.AMBIGUOUS_MATCH
        }
        for side in Side:
            for record_id in pair.store(side).records:
                assert (side, record_id) in pair.index or record_id in ambiguous

    def check_echo_freedom(self) -> None:
        pair = self.pair
        for side in Side:
            store = pair.store(side)
            linked = sorted(r for r in store.records if (side, r) in pair.index)
            for record_id in linked:  # unlinked ones were reported ambiguous: re-reading them
                for message in (  # is a fresh initial sync, not an echo
                    store.capture(record_id, pair.now(), Op.READ),
                    store.touch(record_id, pair.now()),
                ):
                    decision = pair.deliver(message)
                    assert not decision.commands, f"echo wrote: {decision.reason}"

    def teardown(self) -> None:
        for reason in sorted({d.reason.value for d in self.pair.decisions}):
            event(f"saw {reason}")  # coverage of the rules, shown by --hypothesis-show-statistics
        self.pair.drain()
        self.check_convergence()
        self.check_echo_freedom()


class EventConvergenceMachine(ConvergenceMachine):
    KIND = Kind.EVENT
    SETTINGS = SyncSettings(
        conflict_policy=ConflictPolicy.SALESFORCE_WINS,
        remove_deleted_events=True,
        **GUARD,
    )
    RECORDS = events()


class EventKeepDeletesMachine(EventConvergenceMachine):
    SETTINGS = SyncSettings(
        conflict_policy=ConflictPolicy.EXCHANGE_WINS, remove_deleted_events=False, **GUARD
    )


PROFILE = settings(
    max_examples=int(os.environ.get("RECONCILE_EXAMPLES", "300")),
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
ConvergenceMachine.TestCase.settings = PROFILE
EventConvergenceMachine.TestCase.settings = PROFILE
EventKeepDeletesMachine.TestCase.settings = PROFILE

TestContactConvergence = ConvergenceMachine.TestCase
TestEventConvergence = EventConvergenceMachine.TestCase
TestEventConvergenceKeepingDeletes = EventKeepDeletesMachine.TestCase
