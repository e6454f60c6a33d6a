"""What the core is given, as one batch sees it: each user's settings, e-mail, start of sync,
initial-sync barrier and held records, the other side's candidates for matching, the
Salesforce directory for auto-relate and recent deletes, loaded once per batch where possible
and kept for the batch (one transaction, so they can't change under it but by the batch itself).
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field

from reconcile import (
    Candidate,
    DecideContext,
    Link,
    RelateDirectory,
    SyncSettings,
    UserContext,
)
from syncmodel import ChangeEvent, Event, Side
from syncruntime.postgres import Conn

from reconciler import link_store, roster

DELETE_WINDOW = dt.timedelta(minutes=15)


@functools.lru_cache(maxsize=1024)
def parse_settings(text: str) -> SyncSettings:
    """A user's effective settings from their stored JSON. Users share a handful of
    configurations, so the parsed (frozen) settings are shared instead of validated again for
    every user of every batch."""
    return SyncSettings.model_validate_json(text)


_KIND_SIDES = (
    ("contact", "exchange"),
    ("contact", "salesforce"),
    ("event", "exchange"),
    ("event", "salesforce"),
)
_PRELOAD_USERS = """
    SELECT p.t AS tenant_id, p.u AS user_id, u.email, u.settings::text AS settings,
           u.syncing_since,
           ARRAY(SELECT b.side FROM sync_barriers b
                  WHERE b.tenant_id = p.t AND b.user_id = p.u) AS barrier_sides,
           EXISTS (SELECT 1 FROM seen_records s WHERE s.tenant_id = p.t AND s.user_id = p.u
                   AND s.kind = 'contact' AND s.side = 'exchange' AND s.link_id IS NULL)
               AS unlinked_contact_exchange,
           EXISTS (SELECT 1 FROM seen_records s WHERE s.tenant_id = p.t AND s.user_id = p.u
                   AND s.kind = 'contact' AND s.side = 'salesforce' AND s.link_id IS NULL)
               AS unlinked_contact_salesforce,
           EXISTS (SELECT 1 FROM seen_records s WHERE s.tenant_id = p.t AND s.user_id = p.u
                   AND s.kind = 'event' AND s.side = 'exchange' AND s.link_id IS NULL)
               AS unlinked_event_exchange,
           EXISTS (SELECT 1 FROM seen_records s WHERE s.tenant_id = p.t AND s.user_id = p.u
                   AND s.kind = 'event' AND s.side = 'salesforce' AND s.link_id IS NULL)
               AS unlinked_event_salesforce,
           EXISTS (SELECT 1 FROM seen_records s WHERE s.tenant_id = p.t AND s.user_id = p.u
                   AND s.deferred) AS has_deferred
      FROM unnest($1::text[], $2::text[]) AS p(t, u)
      LEFT JOIN sync_users u ON u.tenant_id = p.t AND u.user_id = p.u
"""
"""Per user of a batch: settings, e-mail, start of sync (LS-31), whether both initial syncs are
in (the barrier), per kind and side whether unlinked records (match candidates) exist, and
whether records wait for a replay."""


@dataclass
class BatchInputs:
    """A batch's cached view of its users and records, read inside its transaction."""

    conn: Conn
    now: dt.datetime
    links: link_store.LinkCache = field(default_factory=link_store.LinkCache)
    settings: dict[tuple[str, str], SyncSettings | None] = field(default_factory=dict)
    barrier_sides: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    """Per user: the sides whose initial sync is in (the barrier opens at two)."""
    passed: dict[tuple[str, str, str], None] = field(default_factory=dict)
    """Sides that passed the barrier in this batch, recorded in one statement at its end."""
    refresh_tenants: set[str] = field(default_factory=set)
    seen: link_store.SeenWrites = field(default_factory=link_store.SeenWrites)
    emails: dict[tuple[str, str], str | None] = field(default_factory=dict)
    since: dict[tuple[str, str], dt.datetime | None] = field(default_factory=dict)
    contexts: dict[tuple[str, str], DecideContext] = field(default_factory=dict)
    deferring: dict[tuple[str, str], bool] = field(default_factory=dict)
    """Per user: whether held records may wait (False: a replay has nothing to read)."""

    async def preload_users(self, users: set[tuple[str, str]]) -> None:
        """Settings, e-mail, barrier and candidate existence of every user of the batch, in
        one query (instead of several per message)."""
        pairs = sorted(users)
        rows = await self.conn.fetch(_PRELOAD_USERS, [p[0] for p in pairs], [p[1] for p in pairs])
        for row in rows:
            key = (row["tenant_id"], row["user_id"])
            self.emails[key] = row["email"]
            self.since[key] = row["syncing_since"]
            self.contexts.pop(key, None)
            settings = row["settings"]
            self.settings[key] = None if settings is None else parse_settings(settings)
            self.barrier_sides[key] = set(row["barrier_sides"])
            self.deferring[key] = bool(row["has_deferred"])
            for kind, side in _KIND_SIDES:
                self.seen.unlinked[(*key, kind, side)] = bool(row[f"unlinked_{kind}_{side}"])

    async def user_settings(self, tenant: str, user: str) -> SyncSettings | None:
        if tenant in self.refresh_tenants:
            # A user changed earlier in this batch: the roster must be current before the
            # next decision about that tenant's records; the batch's users of the tenant read
            # their new settings back in one query.
            self.refresh_tenants.discard(tenant)
            await roster.refresh_roster(self.conn, tenant, self.now)
            users = {u for (t, u) in self.settings if t == tenant} | {user}
            found = await roster.load_settings(self.conn, tenant, users)
            for name in users:
                self.settings[(tenant, name)] = found.get(name)
        key = (tenant, user)
        if key not in self.settings:
            found = await roster.load_settings(self.conn, tenant, {user})
            self.settings[key] = found.get(user)
        return self.settings[key]

    async def barrier_open(self, tenant: str, user: str) -> bool:
        return len(await self._barrier_sides(tenant, user)) >= 2

    async def _barrier_sides(self, tenant: str, user: str) -> set[str]:
        key = (tenant, user)
        if key not in self.barrier_sides:
            rows = await self.conn.fetch(
                "SELECT side FROM sync_barriers WHERE tenant_id = $1 AND user_id = $2",
                tenant,
                user,
            )
            self.barrier_sides[key] = {row["side"] for row in rows}
        return self.barrier_sides[key]

    async def pass_barrier(self, tenant: str, user: str, side: str) -> bool:
        """One side's initial sync is in; True when both sides' are (the barrier is open). The
        row is written with the batch (`flush_barriers`), not a round trip per report."""
        sides = await self._barrier_sides(tenant, user)
        sides.add(side)
        self.passed[(tenant, user, side)] = None
        return len(sides) >= 2

    async def close_barrier(self, tenant: str, user: str, side: str) -> None:
        """A (re-)snapshot of `side` starts: the barrier closes again until it completes."""
        await self.flush_barriers()
        await self.conn.execute(
            "DELETE FROM sync_barriers WHERE tenant_id = $1 AND user_id = $2 AND side = $3",
            tenant,
            user,
            side,
        )
        self.barrier_sides.get((tenant, user), set()).discard(side)

    async def flush_barriers(self) -> None:
        if not self.passed:
            return
        await self.conn.execute(
            "INSERT INTO sync_barriers (tenant_id, user_id, side)"
            " SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) ON CONFLICT DO NOTHING",
            *([key[i] for key in self.passed] for i in range(3)),
        )
        self.passed.clear()

    async def user_context(self, change: ChangeEvent) -> UserContext:
        linked = await self.conn.fetchval(
            "SELECT count(*) FROM links WHERE tenant_id = $1 AND user_id = $2 AND kind = $3"
            " AND NOT closed",
            change.tenant,
            change.user,
            change.kind.value,
        )
        recent = await self.conn.fetchval(
            "SELECT count(*) FROM delete_log WHERE tenant_id = $1 AND user_id = $2 AND kind = $3"
            " AND side = $4 AND at > $5 AND record_id <> $6",
            change.tenant,
            change.user,
            change.kind.value,
            change.side.value,
            self.now - DELETE_WINDOW,
            change.record_id,
        )
        return UserContext(linked_records=int(linked), recent_deletes=int(recent))

    async def directory(self, change: ChangeEvent) -> RelateDirectory | None:
        record = change.after
        if not isinstance(record, Event) or change.side is not Side.EXCHANGE:
            return None
        emails = sorted({a.email.strip().lower() for a in record.attendees})
        if not emails:
            return RelateDirectory()
        rows = await self.conn.fetch(
            "SELECT email, kind, record_id FROM sf_directory WHERE tenant_id = $1"
            " AND email = ANY($2::text[]) ORDER BY record_id",
            change.tenant,
            emails,
        )
        contacts: dict[str, tuple[str, ...]] = {}
        leads: dict[str, tuple[str, ...]] = {}
        for row in rows:
            target = contacts if row["kind"] == "contact" else leads
            target[row["email"]] = (*target.get(row["email"], ()), row["record_id"])
        return RelateDirectory(contacts=contacts, leads=leads)

    async def user_facts(self, tenant: str, user: str) -> DecideContext:
        """The user's e-mail (auto-relate) and since when they sync (LS-31)."""
        key = (tenant, user)
        if key not in self.emails or key not in self.since:
            row = await self.conn.fetchrow(
                "SELECT email, syncing_since FROM sync_users WHERE tenant_id = $1 AND user_id = $2",
                tenant,
                user,
            )
            self.emails[key] = str(row["email"]) if row and row["email"] is not None else None
            self.since[key] = row["syncing_since"] if row else None
            self.contexts.pop(key, None)
        context = self.contexts.get(key)
        if context is None:  # one per user and batch: every change of the user shares it
            context = self.contexts[key] = DecideContext(
                user_email=self.emails[key], syncing_since=self.since[key]
            )
        return context

    async def candidates(self, change: ChangeEvent) -> tuple[Candidate, ...]:
        other = change.side.other
        if not await self.seen.may_have_unlinked(
            self.conn, change.tenant, change.user, change.kind, other
        ):
            return ()
        await self.seen.flush(self.conn)
        return await link_store.load_candidates(self.conn, change)

    def find_link(self, change: ChangeEvent) -> Link | None:
        link = self.links.find(
            change.tenant, change.user, change.kind, change.side, change.record_id
        )
        if link is not None:
            return link
        marker = getattr(change.after, "marker", None)
        if marker:
            return self.links.by_id.get(marker)
        return None
