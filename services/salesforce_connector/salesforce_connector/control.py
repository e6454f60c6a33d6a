"""Control messages (`syncline.control`, keyed by tenant) that concern this org's capture.

`reset_sync` for a user (and optionally one kind, LS-83): the reconciler drops the user's links
and closes the barrier; here the user's baseline of that kind is cleared with cause `reset`, so
the next capture cycle re-reads the user's records (op=r, cause `reset`) and publishes
`initial_sync_completed` again (`baseline`). `resync` does the same with cause `rebaseline`, for
one user or, without a user, for every rostered one. The request is stored before the offset
is committed, so a crash never loses it; the capture loop is woken at once.
"""

from __future__ import annotations

import asyncio
import logging

from syncmodel.kinds import Kind
from syncmodel.messages import Control, ControlAction
from syncruntime.kafka import Consumed

from salesforce_connector.baseline import OBJECT_OF
from salesforce_connector.offsets import Baseline, BaselineStore
from salesforce_connector.roster import Roster

log = logging.getLogger(__name__)
_CAUSE = {ControlAction.RESET_SYNC: "reset", ControlAction.RESYNC: "rebaseline"}


class ControlHandler:
    def __init__(self, store: BaselineStore, roster: Roster, wake: asyncio.Event) -> None:
        self.store = store
        self.roster = roster
        self.wake = wake
        self.requested = 0

    async def __call__(self, batch: list[Consumed[Control]]) -> None:
        for item in batch:
            control = item.message
            if control.tenant != self.store.tenant or control.action not in _CAUSE:
                continue
            if control.user is not None:
                users = [control.user]
            elif control.action is ControlAction.RESYNC:
                users = self.roster.audience().users()
            else:
                continue  # a reset is always about one user (the reconciler agrees)
            kinds = [control.kind] if control.kind in OBJECT_OF else [Kind.CONTACT, Kind.EVENT]
            if control.kind is not None and control.kind not in OBJECT_OF:
                continue  # users/leads/accounts have no per-user snapshot
            for user in users:
                for kind in kinds:
                    baseline = Baseline(signature=None, cause=_CAUSE[control.action])
                    await self.store.save(user, OBJECT_OF[kind], baseline)
                    self.requested += 1
            log.info(
                "%s requested",
                control.action.value,
                extra={"tenant": control.tenant, "user": control.user},
            )
            self.wake.set()
