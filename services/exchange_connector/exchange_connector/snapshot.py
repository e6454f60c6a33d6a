"""The first capture of a mailbox (and every re-baseline): a full delta round published as
snapshot reads (`op r`), after which the deltaLink is saved. Also used after `410 Gone`."""

from __future__ import annotations

from syncmodel.kinds import Kind

from exchange_connector.stream import MailboxCapture


async def snapshot(capture: MailboxCapture, kind: Kind, cause: str = "snapshot") -> None:
    if kind is Kind.CONTACT:
        cursor = await capture.contacts_round(capture.contacts_url(), snapshot=True, cause=cause)
    else:
        window = capture.events_window()
        cursor = await capture.events_round(
            capture.events_url(window), window, snapshot=True, cause=cause
        )
    await capture.cursors.put(capture.tenant, capture.user, kind, cursor)
    capture.last_capture[kind] = capture.now()
