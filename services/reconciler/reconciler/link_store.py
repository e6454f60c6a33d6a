"""Persistence of links and of the records seen on each side, batch-shaped (one query per kind
of lookup per batch, not per message).

Keys of (tenant, user, kind, side, record id) hold `Kind` and `Side` members as they are: they
are `StrEnum`s, equal to and hashed like their text (`.value` is a slow property in 3.11, and
these keys are built several times per change)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from reconcile import Candidate, Link, LinkState
from syncmodel import ChangeEvent, Contact, Event, Kind, Side
from syncmodel.fastjson import dump_json
from syncruntime.postgres import Conn, Json, joined

from reconciler.candidates import match_keys


@dataclass
class LinkCache:
    """The links of one batch, addressable by id and by (side, record id)."""

    by_id: dict[str, Link] = field(default_factory=dict)
    by_record: dict[tuple[str, str, str, str, str], str] = field(default_factory=dict)
    dirty: set[str] = field(default_factory=set)

    def add(self, link: Link) -> None:
        self.by_id[link.link_id] = link
        for side in (Side.EXCHANGE, Side.SALESFORCE):
            record_id = link.record_id(side)
            if record_id is not None:
                key = (link.tenant, link.user, link.kind, side, record_id)
                self.by_record[key] = link.link_id

    def find(self, tenant: str, user: str, kind: Kind, side: Side, record_id: str) -> Link | None:
        link_id = self.by_record.get((tenant, user, kind, side, record_id))
        return self.by_id.get(link_id) if link_id is not None else None

    def put(self, link: Link) -> None:
        self.add(link)
        self.dirty.add(link.link_id)


_LOAD_LINKS = """
    SELECT link_id, state::text AS state FROM links WHERE link_id = ANY(syncline_split($1))
    UNION ALL
    SELECT l.link_id, l.state::text AS state
      FROM unnest(syncline_split($2), syncline_split($3), syncline_split($4),
                  syncline_split($5), syncline_split($6))
           AS r(tenant_id, user_id, kind, side, record_id)
      JOIN links l ON l.tenant_id = r.tenant_id AND l.user_id = r.user_id
                  AND l.kind = r.kind AND l.exchange_id = r.record_id
     WHERE r.side = 'exchange'
    UNION ALL
    SELECT l.link_id, l.state::text AS state
      FROM unnest(syncline_split($2), syncline_split($3), syncline_split($4),
                  syncline_split($5), syncline_split($6))
           AS r(tenant_id, user_id, kind, side, record_id)
      JOIN links l ON l.tenant_id = r.tenant_id AND l.user_id = r.user_id
                  AND l.kind = r.kind AND l.salesforce_id = r.record_id
     WHERE r.side = 'salesforce'
"""
"""One branch per side, each an equality on all columns of that side's unique index: a single
join with `(side = 'exchange' AND exchange_id = ...) OR (...)` made PostgreSQL scan the whole
index per record (0.4 ms each at 10,000 links, growing with the table)."""


async def load_links(
    conn: Conn, link_ids: Iterable[str], records: Iterable[tuple[str, str, str, str, str]]
) -> LinkCache:
    cache = LinkCache()
    ids = sorted(set(link_ids))
    recs = sorted(set(records))
    rows = await conn.fetch(
        _LOAD_LINKS, joined(ids), *(joined([r[i] for r in recs]) for i in range(5))
    )
    for row in rows:
        if row["link_id"] not in cache.by_id:  # found by marker and by record id
            cache.add(Link.model_validate_json(row["state"]))
    return cache


_LINKS_UPSERT = """
    INSERT INTO links (link_id, tenant_id, user_id, kind, exchange_id, salesforce_id, state,
                       closed, last_reason)
    SELECT l.link_id, l.tenant_id, l.user_id, l.kind, l.exchange_id, l.salesforce_id,
           l.state::json, l.closed, l.last_reason
      FROM unnest(syncline_split($1), syncline_split($2), syncline_split($3),
                  syncline_split($4), syncline_split($5), syncline_split($6),
                  syncline_split($7), syncline_split($8)::boolean[], syncline_split($9))
           WITH ORDINALITY AS l(link_id, tenant_id, user_id, kind, exchange_id, salesforce_id,
                                state, closed, last_reason, n)
     ORDER BY l.n
    ON CONFLICT (link_id) DO UPDATE SET
        exchange_id = EXCLUDED.exchange_id, salesforce_id = EXCLUDED.salesforce_id,
        state = EXCLUDED.state, closed = EXCLUDED.closed,
        last_reason = COALESCE(EXCLUDED.last_reason, links.last_reason), updated_at = now()
"""


def link_json(link: Link) -> str:
    """The link's JSON as stored: `link.model_dump_json()`, written by orjson (`dump_json`,
    the same bytes in ~half the time; the link state is ~2.5 KB a change)."""
    return dump_json(link).decode()


async def save_links(conn: Conn, cache: LinkCache, reasons: dict[str, str]) -> None:
    """Upsert the batch's changed links in one statement (columns of values, not a row per
    execution: one round trip and one plan run however many links changed; each column one
    joined text, see `joined`)."""
    links = [link for link_id in sorted(cache.dirty) if (link := cache.by_id.get(link_id))]
    if not links:
        return
    await conn.execute(
        _LINKS_UPSERT,
        joined([link.link_id for link in links]),
        joined([link.tenant for link in links]),
        joined([link.user for link in links]),
        joined([link.kind for link in links]),
        joined([link.exchange.record_id for link in links]),
        joined([link.salesforce.record_id for link in links]),
        joined([link_json(link) for link in links]),
        joined(["t" if link.state is LinkState.CLOSED else "f" for link in links]),
        joined([reasons.get(link.link_id) for link in links]),
    )


_SEEN_UPSERT = """
    INSERT INTO seen_records (tenant_id, user_id, kind, side, record_id, change, match_keys,
                              link_id, deferred, last_reason)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
    ON CONFLICT (tenant_id, user_id, kind, side, record_id) DO UPDATE SET
        change = EXCLUDED.change, match_keys = EXCLUDED.match_keys,
        link_id = EXCLUDED.link_id, deferred = EXCLUDED.deferred,
        last_reason = EXCLUDED.last_reason,
        seq = nextval(pg_get_serial_sequence('seen_records', 'seq')), updated_at = now()
"""

SeenKey = tuple[str, str, str, str, str]


_SEEN_FORGET = """
    DELETE FROM seen_records s
    USING unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
          AS k(tenant_id, user_id, kind, side, record_id)
    WHERE s.tenant_id = k.tenant_id AND s.user_id = k.user_id AND s.kind = k.kind
      AND s.side = k.side AND s.record_id = k.record_id
"""


@dataclass
class SeenWrites:
    """Captures to remember, written in one round trip before anything reads them back.

    Only records without a link are kept (candidates for matching, LS-71/72, and records
    deferred by the initial-sync barrier): a linked record is found through its link, so its
    row is dropped instead of rewritten with every capture (unless the batch's preload showed
    that the user has no unlinked row of that kind and side at all).
    """

    rows: dict[SeenKey, tuple[Any, ...]] = field(default_factory=dict)
    linked: set[SeenKey] = field(default_factory=set)
    unlinked: dict[tuple[str, str, str, str], bool] = field(default_factory=dict)

    def remember(
        self, change: ChangeEvent, link_id: str | None, deferred: bool, reason: str | None = None
    ) -> None:
        """Keep the latest capture of an unlinked record, with the reason it has no link (for
        record explain); forget a linked one."""
        key = (change.tenant, change.user, change.kind, change.side, change.record_id)
        self.rows.pop(key, None)  # re-insert: the latest capture keeps its place in order
        if link_id is not None:
            if self.unlinked.get(key[:4], True):  # else the user has no row of this kind to drop
                self.linked.add(key)
            return
        self.linked.discard(key)
        record = change.after
        keys = match_keys(record) if isinstance(record, Contact | Event) else []
        self.rows[key] = (
            *key,
            Json(change.model_dump_json(by_alias=True)),
            keys,
            None,
            deferred,
            reason,
        )
        self.unlinked[key[:4]] = True

    async def flush(self, conn: Conn) -> None:
        if self.rows:
            await conn.executemany(_SEEN_UPSERT, list(self.rows.values()))
            self.rows.clear()
        if self.linked:
            await forget_keys(conn, self.linked)
            self.linked.clear()

    async def may_have_unlinked(
        self, conn: Conn, tenant: str, user: str, kind: Kind, side: Side
    ) -> bool:
        key = (tenant, user, kind, side)
        if key not in self.unlinked:
            self.unlinked[key] = bool(
                await conn.fetchval(
                    "SELECT EXISTS (SELECT 1 FROM seen_records WHERE tenant_id = $1"
                    " AND user_id = $2 AND kind = $3 AND side = $4 AND link_id IS NULL)",
                    *key,
                )
            )
        return self.unlinked[key]


async def forget_keys(conn: Conn, keys: Iterable[SeenKey]) -> None:
    """Drop the remembered captures of these records, in one statement."""
    ordered = sorted(keys)
    if ordered:
        await conn.execute(_SEEN_FORGET, *([k[i] for k in ordered] for i in range(5)))


async def forget_record(conn: Conn, change: ChangeEvent) -> None:
    await forget_keys(
        conn,
        [(change.tenant, change.user, change.kind.value, change.side.value, change.record_id)],
    )


async def mark_linked(conn: Conn, link: Link) -> None:
    """A matched record of the other side is linked now: no longer a candidate."""
    await forget_keys(
        conn,
        [
            (link.tenant, link.user, link.kind.value, side.value, record_id)
            for side in (Side.EXCHANGE, Side.SALESFORCE)
            if (record_id := link.record_id(side)) is not None
        ],
    )


async def load_candidates(conn: Conn, change: ChangeEvent) -> tuple[Candidate, ...]:
    """Unlinked records of the other side sharing a match key with this change's record."""
    record = change.after
    if not isinstance(record, Contact | Event):
        return ()
    keys = match_keys(record)
    if not keys:
        return ()
    rows = await conn.fetch(
        """
        SELECT change::text AS change FROM seen_records
        WHERE tenant_id = $1 AND user_id = $2 AND kind = $3 AND side = $4
          AND link_id IS NULL AND match_keys && $5::text[]
        LIMIT 50
        """,
        change.tenant,
        change.user,
        change.kind.value,
        change.side.other.value,
        keys,
    )
    candidates = []
    for row in rows:
        other = ChangeEvent.model_validate_json(row["change"])
        if isinstance(other.after, Contact | Event):
            candidates.append(
                Candidate(
                    side=other.side,
                    record_id=other.record_id,
                    version=other.version,
                    record=other.after,
                    modified_ts=other.source_ts or other.captured_ts,
                )
            )
    return tuple(candidates)


async def deferred_changes(conn: Conn, tenant: str, user: str) -> list[ChangeEvent]:
    rows = await conn.fetch(
        "SELECT change::text AS change FROM seen_records"
        " WHERE tenant_id = $1 AND user_id = $2 AND deferred"
        " ORDER BY seq",
        tenant,
        user,
    )
    return [ChangeEvent.model_validate_json(row["change"]) for row in rows]
