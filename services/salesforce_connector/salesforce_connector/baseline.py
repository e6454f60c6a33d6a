"""Per-user baselines and the initial-sync barrier (the reconciler's contract, consumer.py).

The reconciler acts on a user's unlinked records only after BOTH connectors have published
`ConnectorStatus(initial_sync_completed, user)` keyed `tenant/user` on `syncline.changes`; so
that status must follow every snapshot record of that user in the user's partition.

Level-triggered: for each active rostered user and each of Contact/Event, the signature of what
the user's last snapshot covered (`roster.signature`: syncing or not, and the contact filter) is
kept in `cursors`. Each capture cycle compares it with the roster: a user who started syncing a
kind, changed the contact filter (LS-24), or was reset by a control message (the stored
baseline is cleared with cause `reset`) is snapshotted (op=r) — in one SOQL per 100 users and
kind, narrowed to their records — then `initial_sync_in_progress` / `initial_sync_completed`
are published, and only then the baselines saved (a crash re-does the snapshot, never skips the
status). Signatures of users who stopped syncing are dropped, so coming back means a fresh
snapshot. After an org-wide re-baseline of contacts or events, every syncing user gets
`initial_sync_completed` again.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict

from syncmodel.kinds import Kind, Side
from syncmodel.messages import ConnectorState, ConnectorStatus, bus_key

from salesforce_connector import mapping
from salesforce_connector.offsets import Baseline, BaselineStore
from salesforce_connector.roster import Audience, signature
from salesforce_connector.snapshot import snapshot_object
from salesforce_connector.stream import PER_USER, Capture

log = logging.getLogger(__name__)
OBJECT_OF = {Kind.CONTACT: "Contact", Kind.EVENT: "Event"}
USERS_PER_QUERY = 100
TENANT_KEY = "_tenant"  # the bus key's user part of a tenant-wide status


def status_message(
    tenant: str,
    state: ConnectorState,
    *,
    user: str | None = None,
    detail: str | None = None,
    next_attempt: dt.datetime | None = None,
    api_budget_used: float | None = None,
) -> tuple[str, ConnectorStatus]:
    """A connector status and its key: `tenant/user`, or `tenant/_tenant` when tenant-wide."""
    message = ConnectorStatus(
        tenant=tenant,
        user=user,
        side=Side.SALESFORCE,
        state=state,
        detail=detail,
        next_attempt_ts=next_attempt,
        api_budget_used=api_budget_used,
        ts=dt.datetime.now(dt.UTC),
    )
    return bus_key(tenant, user or TENANT_KEY), message


class Baselines:
    def __init__(self, capture: Capture, store: BaselineStore) -> None:
        self.capture = capture
        self.store = store
        self.completed = 0  # initial_sync_completed statuses published (for tests/metrics)

    async def status(self, user: str, state: ConnectorState, detail: str | None = None) -> None:
        key, message = status_message(self.capture.settings.tenant, state, user=user, detail=detail)
        await self.capture.emit(self.capture.settings.changes_topic, key, message)
        if state is ConnectorState.INITIAL_SYNC_COMPLETED:
            self.completed += 1

    async def run(self, audience: Audience) -> set[str]:
        """Snapshot whoever needs it; returns the users that got `initial_sync_completed`."""
        stored = await self.store.load_all()
        due: dict[tuple[str, Kind], list[str]] = defaultdict(list)
        saves: list[tuple[str, str, Baseline, Baseline | None]] = []
        for user in audience.users():
            for kind in PER_USER:
                object_name = OBJECT_OF[kind]
                want = signature(audience.entries[user], kind)
                have = stored.get((user, object_name))
                if want is None:
                    if have is not None:
                        saves.append((user, object_name, Baseline(), have))  # forget
                    continue
                if have is None or have.signature != want:
                    due[(have.cause if have and have.cause else "snapshot", kind)].append(user)
                    saves.append((user, object_name, Baseline(want), have))
        for (user, object_name), have in stored.items():
            if user not in audience.entries:
                saves.append((user, object_name, Baseline(), have))
        snapshotted = sorted({u for users in due.values() for u in users})
        for user in snapshotted:
            await self.status(user, ConnectorState.INITIAL_SYNC_IN_PROGRESS)
        await self.capture.flush()
        for (cause, kind), users in sorted(due.items()):
            await self.snapshot_users(kind, users, cause, audience)
        completed = set(snapshotted)
        if self.capture.rebaselined:
            completed.update(
                u for u in audience.users() if any(audience.syncs(u, k) for k in PER_USER)
            )
        # Every record of these users was acked above: the barrier may open (consumer.py).
        for user in sorted(completed):
            await self.status(user, ConnectorState.INITIAL_SYNC_COMPLETED)
        await self.capture.flush()  # acked before the baselines are saved
        self.capture.rebaselined = set()
        for user, object_name, baseline, expected in saves:
            if not await self.store.replace(user, object_name, baseline, expected):
                log.info(
                    "baseline changed meanwhile (reset?); kept",
                    extra={"tenant": self.store.tenant, "user": user},
                )
        if snapshotted:
            log.info(
                "user snapshots done: %d users",
                len(snapshotted),
                extra={"tenant": self.store.tenant},
            )
        return completed

    async def snapshot_users(
        self, kind: Kind, users: list[str], cause: str, audience: Audience
    ) -> None:
        """op=r for these users' records of one kind: owned ones by `OwnerId IN (...)`; for
        `all_accessible` contact users, every contact of the org (LS-24, see roster.py)."""
        object_name = OBJECT_OF[kind]
        everyone = [
            u
            for u in users
            if kind is Kind.CONTACT and audience.entries[u].contact_filter == "all_accessible"
        ]
        owners = [u for u in users if u not in everyone]
        if everyone:
            await snapshot_object(
                self.capture, kind, object_name, cause, audience=audience, only=set(everyone)
            )
        for i in range(0, len(owners), USERS_PER_QUERY):
            chunk = owners[i : i + USERS_PER_QUERY]
            await snapshot_object(
                self.capture,
                kind,
                object_name,
                cause,
                where=f"WHERE OwnerId IN {mapping.soql_in(chunk)}",
                audience=audience,
                only=set(chunk),
            )
