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
from syncmodel import ChangeEvent, CommandAction, Contact, Event, Op
from syncruntime.postgres import Conn

from reconciler.candidates import match_keys
from reconciler.link_store import LinkCache

AWAITING_CREATE = "awaiting_create_outcome"
Key = tuple[str, str, str, str]  # tenant, user, kind, side the record was captured on

_IN_FLIGHT = """
    SELECT r.t, r.u, r.k, r.s, l.link_id, l.state
      FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS r(t, u, k, s)
      JOIN links l ON l.tenant_id = r.t AND l.user_id = r.u AND l.kind = r.k
                  AND l.exchange_id IS NULL AND NOT l.closed
     WHERE r.s = 'exchange'
    UNION ALL
    SELECT r.t, r.u, r.k, r.s, l.link_id, l.state
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
    """The batch's view of links waiting for a create toward the side a change came from."""

    by_key: dict[Key, dict[str, Link]] = field(default_factory=dict)

    async def preload(self, conn: Conn, changes: list[ChangeEvent]) -> None:
        """One query for every (user, kind, side) of the batch's unmarked captures."""
        keys = sorted(
            {
                (c.tenant, c.user, c.kind.value, c.side.value)
                for c in changes
                if _unmarked_record(c) is not None
            }
        )
        if not keys:
            return
        rows = await conn.fetch(_IN_FLIGHT, *([k[i] for k in keys] for i in range(4)))
        for key in keys:
            self.by_key.setdefault(key, {})
        for row in rows:
            key = (row["t"], row["u"], row["k"], row["s"])
            self.by_key[key][row["link_id"]] = Link.model_validate(row["state"])

    def awaits_own_create(self, cache: LinkCache, change: ChangeEvent) -> bool:
        """True when `change` may be the echo of a create in flight toward its side."""
        record = _unmarked_record(change)
        if record is None:
            return False
        keys = set(match_keys(record))
        if not keys:
            return False
        key = (change.tenant, change.user, change.kind.value, change.side.value)
        links = dict(self.by_key.get(key, {}))
        for link_id in cache.dirty:  # this batch's own links, newer than what was loaded
            link = cache.by_id.get(link_id)
            if link is not None and (link.tenant, link.user, link.kind.value) == key[:3]:
                links[link_id] = link
        for link in links.values():
            if link.state is LinkState.CLOSED or link.side(change.side).record_id is not None:
                continue
            write = link.pending_to(change.side)
            if write is None or write.command.action is not CommandAction.CREATE:
                continue
            written = write.command.record
            if isinstance(written, Contact | Event) and keys.intersection(match_keys(written)):
                return True
        return False
