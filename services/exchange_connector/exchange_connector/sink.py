"""Apply: `syncline.commands.exchange` → Graph writes → one `CommandOutcome` per command.

- Idempotent creates: events carry `transactionId` = command id (Graph returns the first event
  on a retried create, A4); every item we write carries our marker property (`link|command`), and
  a contact create first looks the marker up so a redelivered command finds its first contact.
- Conditional updates and deletes: `If-Match` with the version the reconciler saw; `412` is the
  outcome `conflict`, never a blind overwrite (ARCHITECTURE.md, "Delivery guarantees").
- Invitations: attendees are written only when the command allows Exchange to mail them.
- Remote failures become `failed` outcomes with the classified error (errors.py).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Generic
from urllib.parse import quote

from syncmodel.kinds import Kind
from syncmodel.messages import Command, CommandAction, CommandOutcome, OutcomeStatus
from syncmodel.records import Contact, Event

from exchange_connector.client import GraphClient
from exchange_connector.errors import (
    ExchangeError,
    InvalidRequest,
    ItemNotFound,
    PreconditionFailed,
)
from exchange_connector.mapping import (
    MARKER_PROPERTY,
    contact_from_graph,
    contact_to_graph,
    event_from_graph,
    event_to_graph,
    marker_property,
)
from exchange_connector.offsets import CreateAttempts
from exchange_connector.recurrence import UnsupportedRecurrence
from exchange_connector.transport import ClientT, utc_now

log = logging.getLogger(__name__)


class CommandSink(ABC, Generic[ClientT]):
    """Command → `CommandOutcome` for any transport: a subclass performs the write (`_apply`),
    this class turns its result or classified error into the outcome."""

    def __init__(
        self,
        client: ClientT,
        attempts: CreateAttempts | None = None,
        now: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self.client = client
        self.attempts = attempts
        self.now = now

    async def apply(self, command: Command, mailbox: str, folder_id: str | None) -> CommandOutcome:
        try:
            record_id, version, record = await self._apply(command, mailbox, folder_id)
        except PreconditionFailed as exc:
            return self._outcome(command, OutcomeStatus.CONFLICT, command.record_id, error=exc)
        except (UnsupportedRecurrence, ValueError) as exc:
            error = InvalidRequest("UnsupportedByExchange", str(exc))
            return self._outcome(command, OutcomeStatus.FAILED, command.record_id, error=error)
        except ExchangeError as exc:
            return self._outcome(command, OutcomeStatus.FAILED, command.record_id, error=exc)
        return self._outcome(command, OutcomeStatus.APPLIED, record_id, version, record)

    def failed(self, command: Command, error: ExchangeError) -> CommandOutcome:
        return self._outcome(command, OutcomeStatus.FAILED, command.record_id, error=error)

    def _outcome(
        self,
        command: Command,
        status: OutcomeStatus,
        record_id: str | None,
        version: str | None = None,
        record: Contact | Event | None = None,
        error: ExchangeError | None = None,
    ) -> CommandOutcome:
        return CommandOutcome.of(
            command,
            outcome_id=f"outcome/{command.id}",
            status=status,
            record_id=record_id,
            version=version,
            record=record,
            error=error.to_sync_error() if error else None,
            applied_ts=self.now(),
        )

    @abstractmethod
    async def _apply(
        self, command: Command, mailbox: str, folder_id: str | None
    ) -> tuple[str | None, str | None, Contact | Event | None]:
        """Write the command; return the record's id, version and record as now stored."""


class GraphCommandSink(CommandSink[GraphClient]):
    """Commands as Graph writes."""

    async def _apply(
        self, command: Command, mailbox: str, folder_id: str | None
    ) -> tuple[str | None, str | None, Contact | Event | None]:
        if command.kind not in (Kind.CONTACT, Kind.EVENT):
            raise InvalidRequest("UnsupportedKind", f"Exchange does not hold {command.kind.value}")
        collection = "contacts" if command.kind is Kind.CONTACT else "events"
        if command.action is CommandAction.DELETE:
            return await self._delete(command, mailbox, collection)
        body = self._body(command)
        if command.action is CommandAction.CREATE:
            item = await self._create(command, mailbox, folder_id, body)
        else:
            if not command.record_id:
                raise InvalidRequest("MissingRecordId", "update without a target id")
            headers = {"If-Match": f'W/"{command.if_version}"'} if command.if_version else None
            response = await self.client.request(
                "PATCH",
                f"{collection}/{quote(command.record_id)}",
                mailbox,
                json=body,
                headers=headers,
            )
            item = response.json()
        item.setdefault("singleValueExtendedProperties", body.get("singleValueExtendedProperties"))
        record: Contact | Event = (
            contact_from_graph(item) if command.kind is Kind.CONTACT else event_from_graph(item)
        )
        return str(item["id"]), item.get("changeKey"), record

    def _body(self, command: Command) -> dict[str, Any]:
        record = command.record
        if command.kind is Kind.CONTACT:
            if not isinstance(record, Contact):
                raise InvalidRequest("MissingRecord", "contact command without a contact")
            body = contact_to_graph(record)
        else:
            if not isinstance(record, Event):
                raise InvalidRequest("MissingRecord", "event command without an event")
            body = event_to_graph(record, include_attendees=command.notify_attendees)
        body["singleValueExtendedProperties"] = marker_property(command.link_id, command.id)
        return body

    async def _create(
        self, command: Command, mailbox: str, folder_id: str | None, body: dict[str, Any]
    ) -> dict[str, Any]:
        if command.kind is Kind.EVENT:
            body["transactionId"] = command.id[:255]
            return dict((await self.client.request("POST", "events", mailbox, json=body)).json())
        if folder_id is None:
            raise InvalidRequest("NoSyncFolder", "the Salesforce_Sync folder is not known yet")
        folder = f"contactFolders/{quote(folder_id)}/contacts"
        if self.attempts is not None and await self.attempts.first_attempt(command.id):
            return dict((await self.client.request("POST", folder, mailbox, json=body)).json())
        # A redelivered create (contacts have no transactionId): find its first write by marker.
        value = f"{command.link_id}|{command.id}".replace("'", "''")
        flt = (
            f"singleValueExtendedProperties/Any(ep: ep/id eq '{MARKER_PROPERTY}'"
            f" and ep/value eq '{value}')"
        )
        found = (await self.client.get_json(folder, mailbox, params={"$filter": flt})).get(
            "value"
        ) or []
        if found:
            return dict(found[0])
        return dict((await self.client.request("POST", folder, mailbox, json=body)).json())

    async def _delete(
        self, command: Command, mailbox: str, collection: str
    ) -> tuple[str | None, str | None, None]:
        if not command.record_id:
            raise InvalidRequest("MissingRecordId", "delete without a target id")
        headers = {"If-Match": f'W/"{command.if_version}"'} if command.if_version else None
        with contextlib.suppress(ItemNotFound):  # already gone: the delete's goal holds
            await self.client.request(
                "DELETE", f"{collection}/{quote(command.record_id)}", mailbox, headers=headers
            )
        return command.record_id, None, None
