"""One capture pass for a mailbox and kind: snapshot when there is no cursor, else a change
round from the saved deltaLink; `410` (SyncStateGone) re-baselines with a fresh snapshot."""

from __future__ import annotations

import datetime as dt
import logging

from syncmodel.kinds import Kind

from exchange_connector.errors import SyncStateGone
from exchange_connector.snapshot import snapshot
from exchange_connector.stream import MailboxCapture

log = logging.getLogger(__name__)
WINDOW_SLACK = dt.timedelta(days=1)


async def capture_pass(capture: MailboxCapture, kind: Kind) -> int:
    """Run one pass; return how many change events it published."""
    before = capture.published
    cursor = await capture.cursors.get(capture.tenant, capture.user, kind)
    if cursor is None:
        await snapshot(capture, kind)
        return capture.published - before
    try:
        if kind is Kind.CONTACT:
            nxt = await capture.contacts_round(cursor.delta_link, snapshot=False, cause=None)
        else:
            assert cursor.window_start is not None
            assert cursor.window_end is not None
            window = (
                dt.datetime.fromisoformat(cursor.window_start),
                dt.datetime.fromisoformat(cursor.window_end),
            )
            if capture.events_window()[0] - window[0] > WINDOW_SLACK:
                # Moving the window needs a new round (A5): re-read the calendar in the new one.
                await snapshot(capture, kind, cause="window")
                return capture.published - before
            nxt = await capture.events_round(cursor.delta_link, window, snapshot=False, cause=None)
    except SyncStateGone:
        log.warning(
            "delta state gone; re-baselining",
            extra={"tenant": capture.tenant, "user": capture.user, "kind": kind.value},
        )
        await capture.cursors.delete(capture.tenant, capture.user, kind)
        await snapshot(capture, kind, cause="rebaseline")
        return capture.published - before
    await capture.cursors.put(capture.tenant, capture.user, kind, nxt)
    capture.last_capture[kind] = capture.now()
    return capture.published - before
