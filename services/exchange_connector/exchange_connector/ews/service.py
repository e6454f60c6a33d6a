"""The connector's running parts for the EWS connection method: the transport-agnostic
`MailboxConnector` (exchange_connector.service: ownership, roster, adaptive cadence, cursors,
status and command topics) with the EWS capture pass, sink and sync folder in place of Graph's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ewsclient.client import EwsClient
from ewsclient.folders import ensure_sync_folder, find_sync_folder, release_claim
from syncmodel.kinds import Kind
from syncmodel.messages import RosterEntry

from exchange_connector.ews.capture import EwsMailboxCapture, cursor_scope, ews_capture_pass
from exchange_connector.ews.sink import EwsCommandSink
from exchange_connector.offsets import CreateAttempts
from exchange_connector.service import MailboxConnector


@dataclass
class EwsConnector(MailboxConnector[EwsClient, EwsMailboxCapture]):
    """The EWS transport (service_account_ews)."""

    label: ClassVar[str] = "EWS capture"

    def __post_init__(self) -> None:
        self.sink = EwsCommandSink(self.client, CreateAttempts(self.cursors.pool), now=self.now)

    def new_capture(self, entry: RosterEntry, mailbox: str) -> EwsMailboxCapture:
        return EwsMailboxCapture(
            tenant=entry.tenant,
            user=entry.user,
            mailbox=mailbox,
            client=self.client,
            producer=self.producer,
            cursors=self.cursors,
            now=self.now,
        )

    async def capture_pass(self, capture: EwsMailboxCapture, kind: Kind) -> int:
        return await ews_capture_pass(capture, kind)

    async def ensure_sync_folder(self, mailbox: str) -> str:
        # Also the claim check (LS-101): never write into another tenant's mailbox.
        return await ensure_sync_folder(self.client, mailbox, self.tenant)

    async def release_claim(self, mailbox: str) -> None:
        folder_id = self.folders.pop(mailbox, None)
        if folder_id is None:
            folder_id = await find_sync_folder(self.client, mailbox)
        if folder_id is not None:
            await release_claim(self.client, mailbox, folder_id)

    def cursor_scope(self, user: str) -> str:
        return cursor_scope(user)
