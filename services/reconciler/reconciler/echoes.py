"""Our own creates coming back before their outcome.

A create's echo is normally recognized through its link: by the record id the outcome brought
(`links.exchange_id` / `salesforce_id`) or by Syncline's marker on the item. Graph's delta
queries cannot `$expand` extended properties, so a captured Outlook contact carries no marker,
and under load the connector may capture the item it has just created before the create's
outcome reaches the reconciler. Taken for a new record, that echo would be created once more on
the other side: a duplicate (seen at 200 reps in the initial-sync benchmark).

So an unlinked, unmarked record that shares a match key (LS-71/72: e-mail, name + company;
iCalUId, subject + times) with a create still in flight toward its side, for the same user and
kind, is held (a deferred seen row, reason `awaiting_create_outcome`). The create's outcome
replays the user's held records (`consumer.py`): by then the link knows the record id, and the
echo costs nothing. A record that merely looks like the one being created is held just as long
(one outcome's round trip) and then decided as usual.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reconcile import Link, LinkState
from syncmodel import ChangeEvent, Command, CommandAction, Contact, Event, Op, Side
from syncruntime.postgres import Conn

from reconciler.candidates import match_keys
from reconciler.link_store import LinkCache

AWAITING_CREATE = "awaiting_create_outcome"
Key = tuple[str, str, str, str]  # tenant, user, kind, side the record was captured on

_IN_FLIGHT = """
    SELECT r.t, r.u, r.k, r.s, l.link_id, l.state::text AS state
      FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS r(t, u, k, s)
      JOIN links l ON l.tenant_id = r.t AND l.user_id = r.u AND l.kind = r.k
                  AND l.exchange_id IS NULL AND NOT l.closed
     WHERE r.s = 'exchange'
    UNION ALL
    SELECT r.t, r.u, r.k, r.s, l.link_id, l.state::text AS state
      FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS r(t, u, k, s)
      JOIN links l ON l.tenant_id = r.t AND l.user_id = r.u AND l.kind = r.k
                  AND l.salesforce_id IS NULL AND NOT l.closed
     WHERE r.s = 'salesforce'
"""
"""Per (user, kind, side) of a batch: the open links that hold no record on that side yet (one
branch per side, each on that side's unique index)."""


def _unmarked_record(change: ChangeEvent) -> Contact | Event | None:
    record = change.after
    if change.op is Op.DELETE or not isinstance(record, Contact | Event) or record.marker:
        return None
    return record


@dataclass
class InFlightCreates:
    """The batch's index of creates in flight: (tenant, user, kind, target side) -> link id ->
    the match keys of the record being created. Loaded once per batch for the (user, kind, side)
    of its unmarked captures; creates issued in the batch are added, resolved ones removed."""

    by_key: dict[Key, dict[str, frozenset[str]]] = field(default_factory=dict)
    loaded: set[Key] = field(default_factory=set)

    async def preload(self, conn: Conn, changes: list[ChangeEvent], cache: LinkCache) -> None:
        """One query for every (user, kind, side) of these captures not loaded yet; a link this
        batch already holds counts as the batch holds it (its stored row is older)."""
        keys = sorted(
            {
                key
                for c in changes
                if _unmarked_record(c) is not None
                and (key := (c.tenant, c.user, c.kind, c.side)) not in self.loaded
            }
        )
        if not keys:
            return
        rows = await conn.fetch(_IN_FLIGHT, *([k[i] for k in keys] for i in range(4)))
        self.loaded.update(keys)  # creates noted in this batch stay noted
        for row in rows:
            link = cache.by_id.get(row["link_id"]) or Link.model_validate_json(row["state"])
            side = Side(row["s"])
            if link.side(side).record_id is not None:
                continue
            write = link.pending_to(side)
            if link.state is not LinkState.CLOSED and write is not None:
                self.note(write.command)

    def note(self, command: Command) -> None:
        """A create toward `command.side` is (now) in flight."""
        record = command.record
        if command.action is not CommandAction.CREATE or not isinstance(record, Contact | Event):
            return
        key = (command.tenant, command.user, command.kind, command.side)
        self.by_key.setdefault(key, {})[command.link_id] = frozenset(match_keys(record))

    def resolved(self, command: Command) -> None:
        """Its outcome is in: captures need not wait for it any more."""
        key = (command.tenant, command.user, command.kind, command.side)
        self.by_key.get(key, {}).pop(command.link_id, None)

    def awaits_own_create(self, change: ChangeEvent) -> bool:
        """True when `change` may be the echo of a create in flight toward its side."""
        record = _unmarked_record(change)
        if record is None:
            return False
        creates = self.by_key.get((change.tenant, change.user, change.kind, change.side))
        if not creates:
            return False
        keys = frozenset(match_keys(record))
        return any(keys & written for written in creates.values())
