"""Applies reconciler commands to Salesforce in batches and reports one outcome per command.

- Creates are idempotent: upsert on the marker external-id field (the link id) through
  `PATCH /composite/sobjects/{type}/{field}` (≤ 200 per call), or, in `lookup` mode, a query on
  the marker before `POST /composite/sobjects` — a retried command never makes a second record.
- Conditional updates (`if_version` = the version the reconciler saw, by its SystemModstamp) go
  through `/composite` (≤ 25 subrequests) with `If-Unmodified-Since`; 412 is a `conflict`
  outcome.
  Unconditional updates use `PATCH /composite/sobjects`; deletes `DELETE /composite/sobjects`.
- Everything uses allOrNone=false: per-record errors become classified failed outcomes and
  the rest of the batch goes on (C5-C7). New versions are read back in one query per type.
- Auto-relate (LS-45..48): an event create with relations beyond its WhoId goes through
  `/composite` (the event, then EventRelation rows referring to `@{eN.id}`); updates add the
  missing relations after the write (`relations`).
- Series (LS-33, `occurrences`): cancelled occurrences (exdates) are deleted after the series
  write; an exception edits the occurrence record at its original start.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from email.utils import format_datetime
from typing import Any
from urllib.parse import quote

from syncmodel.kinds import Kind
from syncmodel.messages import (
    Command,
    CommandAction,
    CommandOutcome,
    OutcomeStatus,
    SyncError,
)
from syncmodel.records import Contact, Event, RelatedRecord

from salesforce_connector import mapping, occurrences, relations
from salesforce_connector.client import SalesforceClient
from salesforce_connector.errors import RequestRejected, classify
from salesforce_connector.settings import SalesforceSettings

log = logging.getLogger(__name__)
COLLECTION_SIZE = 200
COMPOSITE_SIZE = 25
_TYPES = {Kind.CONTACT: "Contact", Kind.EVENT: "Event"}
Result = tuple[OutcomeStatus, str | None, SyncError | None]  # status, record id, error


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _chunks(items: Sequence[Command], size: int) -> list[Sequence[Command]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _error(item: dict[str, Any]) -> SyncError:
    errors = item.get("errors") or [{}]
    first = errors[0]
    return classify(
        str(first.get("statusCode") or first.get("errorCode")), str(first.get("message"))
    )


class CommandSink:
    def __init__(
        self,
        settings: SalesforceSettings,
        client: SalesforceClient,
        clock: Callable[[], dt.datetime] = _utcnow,
    ) -> None:
        self.settings = settings
        self.client = client
        self.clock = clock
        self._usernames: dict[str, str] = {}

    @property
    def base(self) -> str:
        return self.client.base

    def fields_of(self, command: Command) -> dict[str, Any]:
        record = command.record
        if isinstance(record, Contact):
            row = mapping.contact_to_sf(record)
        elif isinstance(record, Event):
            row = mapping.event_to_sf(record)
        else:
            raise ValueError(f"cannot write a {command.kind} record")
        if command.action is CommandAction.CREATE and not row.get("OwnerId"):
            row["OwnerId"] = command.user  # the rep owns what we create for them (LS-13)
        return row

    async def apply(self, commands: Sequence[Command]) -> list[CommandOutcome]:
        results: dict[str, Result] = {}
        writable = []
        for command in commands:
            if command.kind not in _TYPES or (
                command.action is not CommandAction.DELETE and command.record is None
            ):
                results[command.id] = (
                    OutcomeStatus.FAILED,
                    command.record_id,
                    classify("UNSUPPORTED", f"cannot apply {command.action} of a {command.kind}"),
                )
            else:
                writable.append(command)
        writers = await self._by_writer(writable)
        for part in await self._parallel(
            [functools.partial(self._apply_as, group, username) for username, group in writers]
        ):
            results.update(part)
        versions = await self._versions(commands, results)
        return [self._outcome(c, results[c.id], versions) for c in commands]

    async def _by_writer(self, commands: list[Command]) -> list[tuple[str | None, list[Command]]]:
        """Who writes: the integration user, or each rep in their own session (LS-13)."""
        if not self.settings.act_as_rep or not commands:
            return [(None, commands)]
        users = sorted({c.user for c in commands})
        missing = [u for u in users if u not in self._usernames]
        for i in range(0, len(missing), COLLECTION_SIZE):  # one query per 200 unknown reps
            chunk = mapping.soql_in(missing[i : i + COLLECTION_SIZE])
            soql = f"SELECT Id, Username FROM User WHERE Id IN {chunk}"  # noqa: S608
            for row in await self.client.query(soql):
                self._usernames[str(row["Id"])] = str(row["Username"])
        return [
            (self._usernames.get(user), [c for c in commands if c.user == user]) for user in users
        ]

    async def _apply_as(self, commands: list[Command], as_user: str | None) -> dict[str, Result]:
        results: dict[str, Result] = {}
        for kind, type_name in _TYPES.items():
            of_kind = [c for c in commands if c.kind is kind]
            creates = [c for c in of_kind if c.action is CommandAction.CREATE]
            updates = [c for c in of_kind if c.action is CommandAction.UPDATE]
            deletes = [c for c in of_kind if c.action is CommandAction.DELETE]
            related = [c for c in creates if relations.of_command(c)]
            if related:
                results.update(await self._create_related(related, as_user))
            plain_creates = [c for c in creates if not relations.of_command(c)]
            moved = [c for c in plain_creates if occurrences.is_exception(c)]
            for chunk in _chunks([c for c in plain_creates if c not in moved], COLLECTION_SIZE):
                results.update(await self._create(type_name, chunk, as_user))
            if moved:  # after the creates: a series and its exception may share a batch
                results.update(await self._create_exceptions(moved, as_user))
            # Updates of distinct records are independent: their calls go out side by side.
            conditional = [c for c in updates if c.if_version]
            plain = [c for c in updates if not c.if_version]
            calls = [
                *(
                    functools.partial(self._conditional_update, type_name, chunk, as_user)
                    for chunk in _chunks(conditional, COMPOSITE_SIZE)
                ),
                *(
                    functools.partial(self._update, type_name, chunk, as_user)
                    for chunk in _chunks(plain, COLLECTION_SIZE)
                ),
            ]
            for part in await self._parallel(calls):
                results.update(part)
            wanted = {
                str(results[c.id][1]): relations.of_command(c)
                for c in updates
                if results[c.id][0] is OutcomeStatus.APPLIED and relations.of_command(c)
            }
            await relations.ensure_relations(self.client, wanted, as_user)
            written = [
                (c, str(results[c.id][1]))
                for c in (*creates, *updates)
                if results[c.id][0] is OutcomeStatus.APPLIED and results[c.id][1]
            ]
            failed = await occurrences.after_series_writes(self.client, written, as_user)
            for command_id, error in failed.items():  # the retry removes what is left
                results[command_id] = (OutcomeStatus.FAILED, results[command_id][1], error)
            for chunk in _chunks(deletes, COLLECTION_SIZE):
                results.update(await self._delete(chunk, as_user))
        return results

    async def _parallel(
        self, calls: Sequence[Callable[[], Awaitable[dict[str, Result]]]]
    ) -> list[dict[str, Result]]:
        """Run independent write calls, at most `parallel_calls` at once, results in order."""
        gate = asyncio.Semaphore(self.settings.parallel_calls)

        async def one(call: Callable[[], Awaitable[dict[str, Result]]]) -> dict[str, Result]:
            async with gate:
                return await call()

        return list(await asyncio.gather(*(one(call) for call in calls)))

    async def _create(
        self, type_name: str, commands: Sequence[Command], as_user: str | None
    ) -> dict[str, Result]:
        marker = self.settings.marker_field
        records = []
        for command in commands:
            row = {"attributes": {"type": type_name}, **self.fields_of(command)}
            if marker:
                row[marker] = command.link_id
            records.append(row)
        if self.settings.idempotency == "upsert" and marker:
            answer = await self.client.request(
                "PATCH",
                f"{self.base}/composite/sobjects/{type_name}/{marker}",
                json={"allOrNone": False, "records": records},
                as_user=as_user,
            )
            return self._per_record(commands, answer)
        existing = await self._lookup(type_name, commands, as_user) if marker else {}
        out: dict[str, Result] = {
            c.id: (OutcomeStatus.APPLIED, existing[c.link_id], None)
            for c in commands
            if c.link_id in existing
        }
        missing = [
            (c, r) for c, r in zip(commands, records, strict=True) if c.link_id not in existing
        ]
        if missing:
            answer = await self.client.request(
                "POST",
                f"{self.base}/composite/sobjects",
                json={"allOrNone": False, "records": [r for _, r in missing]},
                as_user=as_user,
            )
            out.update(self._per_record([c for c, _ in missing], answer))
        return out

    async def _create_exceptions(
        self, commands: Sequence[Command], as_user: str | None
    ) -> dict[str, Result]:
        """Series exceptions edit the occurrence record at their original start, marked with
        the link id so that a retry upserts it; without one, a plain create."""
        slots = await occurrences.exception_slots(self.client, commands, as_user)
        marker = self.settings.marker_field
        adopt = [c for c in commands if c.id in slots]
        rows = [
            {"id": slots[c.id], **self.fields_of(c), **({marker: c.link_id} if marker else {})}
            for c in adopt
        ]
        answer = await occurrences.edit_into_exceptions(self.client, rows, as_user)
        out = self._per_record(adopt, answer) if adopt else {}
        rest = [c for c in commands if c.id not in slots]
        for chunk in _chunks(rest, COLLECTION_SIZE):
            out.update(await self._create("Event", chunk, as_user))
        return out

    async def _create_related(
        self, commands: Sequence[Command], as_user: str | None
    ) -> dict[str, Result]:
        """Events with relations: Composite calls of ≤ 25 subrequests, each event followed by
        its EventRelation rows (`@{eN.id}`); relations beyond one call are added afterwards."""
        marker = self.settings.marker_field
        upsert = self.settings.idempotency == "upsert" and bool(marker)
        out: dict[str, Result] = {}
        existing = {} if upsert or not marker else await self._lookup("Event", commands, as_user)
        later: dict[str, list[RelatedRecord]] = {}
        for command in commands:
            if command.link_id in existing:  # created before (a retry): only the relations
                out[command.id] = (OutcomeStatus.APPLIED, existing[command.link_id], None)
                later[existing[command.link_id]] = relations.of_command(command)
        todo = [c for c in commands if c.id not in out]
        for group in relations.pack(todo, COMPOSITE_SIZE):
            subrequests: list[dict[str, Any]] = []
            refs: list[tuple[Command, str, list[RelatedRecord]]] = []
            for n, command in enumerate(group):
                ref, fields = f"e{n}", self.fields_of(command)
                if upsert:
                    url = f"{self.base}/sobjects/Event/{marker}/{quote(command.link_id, safe='')}"
                    event = {"method": "PATCH", "url": url, "referenceId": ref, "body": fields}
                else:
                    body = {**fields, marker: command.link_id} if marker else fields
                    url = f"{self.base}/sobjects/Event"
                    event = {"method": "POST", "url": url, "referenceId": ref, "body": body}
                subrequests.append(event)
                extra = relations.of_command(command)
                room = COMPOSITE_SIZE - len(subrequests)
                for m, related in enumerate(extra[:room]):
                    subrequests.append(
                        {
                            "method": "POST",
                            "url": f"{self.base}/sobjects/EventRelation",
                            "referenceId": f"{ref}r{m}",
                            "body": relations.relation_body(f"@{{{ref}.id}}", related),
                        }
                    )
                refs.append((command, ref, extra[room:]))
            answer = await self.client.request(
                "POST",
                f"{self.base}/composite",
                json={"allOrNone": False, "compositeRequest": subrequests},
                as_user=as_user,
            )
            items = {str(i["referenceId"]): i for i in answer["compositeResponse"]}
            for command, ref, rest in refs:
                item = items[ref]
                body = item.get("body")
                if int(item["httpStatusCode"]) >= 300:
                    error = _error({"errors": body if isinstance(body, list) else [body]})
                    out[command.id] = (OutcomeStatus.FAILED, None, error)
                    continue
                event_id = str(body["id"])
                out[command.id] = (OutcomeStatus.APPLIED, event_id, None)
                if rest:
                    later[event_id] = rest
                for key, rel in items.items():
                    if key.startswith(f"{ref}r") and not relations.relation_ok(
                        int(rel["httpStatusCode"]), rel.get("body")
                    ):
                        # The event is written; the look-up below retries what is missing.
                        later[event_id] = relations.of_command(command)
                        log.warning("event relation not written", extra={"errors": rel["body"]})
        await relations.ensure_relations(self.client, later, as_user)
        return out

    async def _lookup(
        self, type_name: str, commands: Sequence[Command], as_user: str | None
    ) -> dict[str, str]:
        """Records created before (a retry) by marker, one query per 200: a merged batch may
        hold more link ids than one query's URL can carry."""
        marker = self.settings.marker_field
        found: dict[str, str] = {}
        for chunk in _chunks(commands, COLLECTION_SIZE):
            values = mapping.soql_in([c.link_id for c in chunk])
            soql = f"SELECT Id, {marker} FROM {type_name} WHERE {marker} IN {values}"  # noqa: S608
            rows = await self.client.query(soql, as_user=as_user)
            found.update({str(r[marker]): str(r["Id"]) for r in rows})
        return found

    async def _update(
        self, type_name: str, commands: Sequence[Command], as_user: str | None
    ) -> dict[str, Result]:
        records = [
            {"attributes": {"type": type_name}, "id": c.record_id, **self.fields_of(c)}
            for c in commands
        ]
        answer = await self.client.request(
            "PATCH",
            f"{self.base}/composite/sobjects",
            json={"allOrNone": False, "records": records},
            as_user=as_user,
        )
        return self._per_record(commands, answer)

    async def _conditional_update(
        self, type_name: str, commands: Sequence[Command], as_user: str | None
    ) -> dict[str, Result]:
        subrequests = []
        for n, command in enumerate(commands):
            since = mapping.version_stamp(command.if_version)
            assert since is not None
            subrequests.append(
                {
                    "method": "PATCH",
                    "url": f"{self.base}/sobjects/{type_name}/{command.record_id}",
                    "referenceId": f"u{n}",
                    "body": self.fields_of(command),
                    "httpHeaders": {"If-Unmodified-Since": format_datetime(since, usegmt=True)},
                }
            )
        answer = await self.client.request(
            "POST",
            f"{self.base}/composite",
            json={"allOrNone": False, "compositeRequest": subrequests},
            as_user=as_user,
        )
        out: dict[str, Result] = {}
        for command, item in zip(commands, answer["compositeResponse"], strict=True):
            status = int(item["httpStatusCode"])
            if status < 300:
                out[command.id] = (OutcomeStatus.APPLIED, command.record_id, None)
                continue
            body = item.get("body") or [{}]
            code, message = str(body[0].get("errorCode")), str(body[0].get("message"))
            if status == 412:
                error = classify("PRECONDITION_FAILED", message)
                out[command.id] = (OutcomeStatus.CONFLICT, command.record_id, error)
            else:
                out[command.id] = (OutcomeStatus.FAILED, command.record_id, classify(code, message))
        return out

    async def _delete(self, commands: Sequence[Command], as_user: str | None) -> dict[str, Result]:
        ids = ",".join(str(c.record_id) for c in commands)
        answer = await self.client.request(
            "DELETE",
            f"{self.base}/composite/sobjects",
            params={"ids": ids, "allOrNone": "false"},
            as_user=as_user,
        )
        out = self._per_record(commands, answer)
        for command in commands:  # deleting what is already gone is success (idempotent)
            error = out[command.id][2]
            if error is not None and error.code == "ENTITY_IS_DELETED":
                out[command.id] = (OutcomeStatus.APPLIED, command.record_id, None)
        return out

    def _per_record(self, commands: Sequence[Command], answer: Any) -> dict[str, Result]:
        if not isinstance(answer, list) or len(answer) != len(commands):
            raise RequestRejected(
                400, [{"errorCode": "UNEXPECTED_RESPONSE", "message": str(answer)[:200]}]
            )
        out: dict[str, Result] = {}
        for command, item in zip(commands, answer, strict=True):
            if item.get("success"):
                out[command.id] = (OutcomeStatus.APPLIED, item.get("id") or command.record_id, None)
            else:
                out[command.id] = (OutcomeStatus.FAILED, command.record_id, _error(item))
        return out

    async def _versions(
        self, commands: Sequence[Command], results: dict[str, Result]
    ) -> dict[str, str]:
        """Versions after our writes, read with the capture's fields so that the echo of each
        write carries the same version (`mapping.row_version`) and is recognized."""
        versions: dict[str, str] = {}
        for kind, type_name in _TYPES.items():
            ids = sorted(
                {
                    str(results[c.id][1])
                    for c in commands
                    if c.kind is kind
                    and c.action is not CommandAction.DELETE
                    and results[c.id][0] is OutcomeStatus.APPLIED
                    and results[c.id][1]
                }
            )
            for i in range(0, len(ids), COLLECTION_SIZE):
                chunk = mapping.soql_in(ids[i : i + COLLECTION_SIZE])
                fields = ", ".join(mapping.soql_fields(kind, self.settings.marker_field))
                soql = f"SELECT {fields} FROM {type_name} WHERE Id IN {chunk}"  # noqa: S608
                rows = await self.client.query(soql)
                versions.update({str(r["Id"]): mapping.row_version(r) for r in rows})
        return versions

    def _outcome(
        self, command: Command, result: Result, versions: dict[str, str]
    ) -> CommandOutcome:
        status, record_id, error = result
        return CommandOutcome.of(
            command,
            outcome_id=f"{command.id}/outcome",
            status=status,
            record_id=record_id,
            version=versions.get(record_id or "") if status is OutcomeStatus.APPLIED else None,
            record=command.record if status is OutcomeStatus.APPLIED else None,
            error=error,
            applied_ts=self.clock(),
        )
