"""Per-org capture: poll each object on SystemModstamp with an overlap window, plus getDeleted.

Never per user (one org-wide API budget). Each cycle, per object: SOQL `SystemModstamp >=
watermark - overlap` (indexed, C9), skipping rows already published at the same stamp; then
`/sobjects/{type}/deleted` from the last covered instant (C8), with owners looked up through
queryAll. Change events are keyed `tenant/user` for the users the roster says receive them
(`roster.Audience`) and the cursor is saved only after the broker acked every event before it.

The first run of User, Account and Lead is an org snapshot (op=r). Contacts and Events are
snapshotted per rostered user instead (`baseline`), so the first run of those two only sets
the watermark: what existed before it reaches each user through that user's snapshot.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel
from syncmodel.kinds import Kind, Op, Side
from syncmodel.messages import ChangeEvent, bus_key, change_event_id
from syncmodel.records import EventType, RelatedRecord

from salesforce_connector import mapping, relations
from salesforce_connector.client import SalesforceClient
from salesforce_connector.offsets import CursorStore, ObjectCursor
from salesforce_connector.roster import Audience
from salesforce_connector.settings import SalesforceSettings
from salesforce_connector.snapshot import snapshot_object

log = logging.getLogger(__name__)
Publisher = Callable[[str, str, BaseModel], Awaitable[None]]
BatchPublisher = Callable[[list[tuple[str, str, BaseModel]]], Awaitable[None]]
FLUSH_AT = 1000
"""Events buffered before they are sent as one lot (bounded memory on a big snapshot)."""
PER_USER = (Kind.CONTACT, Kind.EVENT)
OBJECTS: tuple[tuple[Kind, str], ...] = (
    (Kind.USER, "User"),
    (Kind.ACCOUNT, "Account"),
    (Kind.LEAD, "Lead"),
    (Kind.CONTACT, "Contact"),
    (Kind.EVENT, "Event"),
)
_MIN_DELETED_WINDOW = dt.timedelta(minutes=1)  # getDeleted needs start < end by > 1 minute
_DELETED_MEMORY = dt.timedelta(minutes=15)
"""How long a delete seen in a queryAll row is remembered, so that getDeleted (whole minutes,
run when its window is at least a minute) does not publish it again."""


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Capture:
    def __init__(
        self,
        settings: SalesforceSettings,
        client: SalesforceClient,
        cursors: CursorStore,
        publisher: Publisher,
        audience: Callable[[], Audience],
        clock: Callable[[], dt.datetime] = _utcnow,
        publish_batch: BatchPublisher | None = None,
    ) -> None:
        self.settings = settings
        self.client = client
        self.cursors = cursors
        self.publisher = publisher
        self.publish_batch = publish_batch
        self._pending: list[tuple[str, str, BaseModel]] = []
        self.audience = audience
        self.clock = clock
        self.user_zones: dict[str, str | None] = {}
        self._seen: dict[str, dict[str, str]] = {}  # object -> id -> version published
        self._related: dict[str, list[RelatedRecord]] = {}  # event id -> EventRelation rows
        self.series: dict[relations.SeriesKey, str] = {}  # series -> its series record id
        self._occurrences: set[str] = set()  # deleted ids that were series occurrences
        self._deleted: dict[str, dt.datetime] = {}  # deletes published from queryAll rows
        self.published = 0
        self.rebaselined: set[Kind] = set()  # contact/event kinds re-read in the last poll

    async def emit(self, topic: str, key: str, message: BaseModel) -> None:
        """Queue one event; sent (in order) by the next `flush`, or now if the queue is full.
        Events are sent in lots, not one broker round trip each: a 100-user snapshot is
        thousands of events."""
        self._pending.append((topic, key, message))
        if len(self._pending) >= FLUSH_AT:
            await self.flush()

    async def flush(self) -> None:
        """Send every queued event and wait for the broker's acks. Called before a cursor is
        saved and before a status that must follow the events (baseline.py)."""
        pending, self._pending = self._pending, []
        if self.publish_batch is not None:
            await self.publish_batch(pending)
            return
        for topic, key, message in pending:
            await self.publisher(topic, key, message)

    async def poll_once(self) -> int:
        before = self.published
        self.rebaselined = set()
        if not self.user_zones:
            await self._load_user_zones()
        for kind, object_name in OBJECTS:
            cursor = await self.cursors.load(object_name)
            if cursor.watermark is None and kind in PER_USER:
                cursor = await self._start_watermark(object_name)
                if kind is Kind.CONTACT:
                    await self._directory_snapshot()
            elif cursor.watermark is None:
                cursor = await snapshot_object(self, kind, object_name, "snapshot")
            else:
                cursor = await self._changes(kind, object_name, cursor)
                if kind is not Kind.USER:
                    cursor = await self._deletes(kind, object_name, cursor)
            await self.flush()
            await self.cursors.save(object_name, cursor)  # every publish above was acked
        return self.published - before

    async def _start_watermark(self, object_name: str) -> ObjectCursor:
        """First run of a per-user object: start at its newest SystemModstamp (the server's
        clock, not ours); the records themselves come with each user's baseline."""
        started = self.clock().replace(second=0, microsecond=0)
        soql = f"SELECT Id, SystemModstamp FROM {object_name} ORDER BY SystemModstamp DESC LIMIT 1"  # noqa: S608
        rows = await self.client.query(soql)
        newest = mapping.parse_datetime(rows[0]["SystemModstamp"]) if rows else None
        return ObjectCursor(watermark=newest or started, deleted_through=started)

    def recipients(
        self, kind: Kind, owner: str | None, audience: Audience | None = None
    ) -> list[str]:
        """Users whose partitions get this record. LS-45: auto-relate needs the e-mail of every
        contact the reps could meet, whoever owns it, so a contact nobody syncs still goes out,
        keyed by its owner, for the reconciler's directory only (its owner doesn't sync)."""
        users = (audience or self.audience()).recipients(kind, owner)
        if not users and kind is Kind.CONTACT:
            return [owner or "-"]
        return users

    async def _directory_snapshot(self) -> None:
        """First run: the contacts with an e-mail that no user syncs (the rest come with each
        user's baseline), published once for the auto-relate directory."""
        fields = ", ".join(mapping.soql_fields(Kind.CONTACT, self.settings.marker_field))
        soql = f"SELECT {fields} FROM Contact WHERE Email != null ORDER BY SystemModstamp, Id"  # noqa: S608
        audience = self.audience()
        for row in await self.client.query(soql):
            if not audience.recipients(Kind.CONTACT, row.get("OwnerId")):
                await self.publish(Kind.CONTACT, Op.READ, row, "directory", audience=audience)
        await self.flush()

    async def _load_user_zones(self) -> None:
        for row in await self.client.query("SELECT Id, TimeZoneSidKey FROM User"):
            self.user_zones[row["Id"]] = row.get("TimeZoneSidKey")

    async def _changes(self, kind: Kind, object_name: str, cursor: ObjectCursor) -> ObjectCursor:
        assert cursor.watermark is not None
        since = cursor.watermark - dt.timedelta(seconds=self.settings.overlap_s)
        names = mapping.soql_fields(kind, self.settings.marker_field)
        # queryAll with IsDeleted: a delete stamps SystemModstamp, so it shows in this poll
        # instead of waiting for getDeleted's whole minutes (C8); getDeleted stays the net.
        with_deletes = kind is not Kind.USER  # User rows are deactivated, never deleted
        fields = ", ".join([*names, "IsDeleted"] if with_deletes else names)
        stamp = since.strftime("%Y-%m-%dT%H:%M:%SZ")
        where = f"WHERE SystemModstamp >= {stamp} ORDER BY SystemModstamp, Id"
        soql = f"SELECT {fields} FROM {object_name} {where}"  # noqa: S608
        rows = await self.client.query(soql, include_deleted=with_deletes)
        # IsDeleted is not content: versions stay those of the same row read by `query`.
        deleted = {str(r["Id"]) for r in rows if r.pop("IsDeleted", False)}
        seen = self._seen.setdefault(object_name, {})
        fresh = [r for r in rows if seen.get(r["Id"]) != mapping.row_version(r)]
        await self.prepare(kind, [r for r in fresh if r["Id"] not in deleted])
        watermark = cursor.watermark
        for row in fresh:  # the rest was already published in the overlap window
            stamp = str(row["SystemModstamp"])
            if row["Id"] in deleted:
                await self._deleted_row(kind, row)
                seen[row["Id"]] = mapping.row_version(row)
                continue
            created = mapping.parse_datetime(row.get("CreatedDate"))
            # New since our watermark (same second: unless we published it already) = create.
            is_new = created is not None and (
                created > cursor.watermark
                or (created == cursor.watermark and row["Id"] not in seen)
            )
            op = Op.CREATE if is_new else Op.UPDATE
            await self.publish(kind, op, row, None)
            parsed = mapping.parse_datetime(stamp)
            if parsed is not None and parsed > watermark:
                watermark = parsed
        # Forget what fell out of the overlap window so the map stays small.
        horizon = mapping.format_datetime(watermark - dt.timedelta(seconds=self.settings.overlap_s))
        self._seen[object_name] = {i: s for i, s in seen.items() if s >= horizon}
        kept = watermark - _DELETED_MEMORY
        self._deleted = {i: at for i, at in self._deleted.items() if at >= kept}
        return ObjectCursor(watermark=watermark, deleted_through=cursor.deleted_through)

    async def _deletes(self, kind: Kind, object_name: str, cursor: ObjectCursor) -> ObjectCursor:
        start = cursor.deleted_through or cursor.watermark
        end = self.clock().replace(second=0, microsecond=0)
        if start is None or end - start < _MIN_DELETED_WINDOW:
            return cursor
        answer = await self.client.deleted(object_name, start, end)
        earliest = mapping.parse_datetime(answer.get("earliestDateAvailable"))
        if earliest is not None and earliest > start:
            log.warning("delete log gap; re-reading the object", extra={"object": object_name})
            if kind in PER_USER:
                self.rebaselined.add(kind)
            return await snapshot_object(self, kind, object_name, "rebaseline")
        records = answer.get("deletedRecords") or []
        owners = await self._owners_of(object_name, [r["id"] for r in records])
        for record in records:
            if record["id"] in self._deleted:
                continue  # already published from its queryAll row
            if record["id"] in self._occurrences:
                # An occurrence leaving its series (a cancelled one we removed, or a rep's
                # delete) is no delete of the series: occurrences are implied (LS-33).
                continue
            await self._publish_delete(kind, record["id"], owners.get(record["id"]), record)
        covered = mapping.parse_datetime(answer.get("latestDateCovered")) or end
        return ObjectCursor(watermark=cursor.watermark, deleted_through=covered)

    async def _owners_of(self, object_name: str, ids: list[str]) -> dict[str, str | None]:
        """Owners of deleted records (queryAll); for events, also notes which were plain
        occurrences of a Lightning series (`_occurrences`)."""
        owners: dict[str, str | None] = {}
        self._occurrences = set()
        fields = "Id, OwnerId"
        if object_name == "Event":
            fields += ", IsRecurrence2, IsRecurrence2Series, IsRecurrence2Exception"
        for i in range(0, len(ids), 200):
            chunk = mapping.soql_in(ids[i : i + 200])
            soql = f"SELECT {fields} FROM {object_name} WHERE Id IN {chunk}"  # noqa: S608
            rows = await self.client.query(soql, include_deleted=True)
            owners.update({r["Id"]: r.get("OwnerId") for r in rows})
            if object_name == "Event":
                self._occurrences.update(
                    r["Id"] for r in rows if mapping.event_type_of(r) is EventType.OCCURRENCE
                )
        return owners

    async def _deleted_row(self, kind: Kind, row: dict[str, Any]) -> None:
        """A deleted row of the incremental queryAll: published as the delete getDeleted would
        report (a plain series occurrence is no delete of its series, LS-33)."""
        if kind is Kind.EVENT and mapping.event_type_of(row) is EventType.OCCURRENCE:
            return
        if row["Id"] in self._deleted:
            return
        deleted_at = str(row["SystemModstamp"])
        await self._publish_delete(kind, row["Id"], row.get("OwnerId"), {"deletedDate": deleted_at})
        self._deleted[row["Id"]] = mapping.parse_datetime(deleted_at) or self.clock()

    async def _publish_delete(
        self, kind: Kind, record_id: str, owner: str | None, record: dict[str, Any]
    ) -> None:
        deleted_at = mapping.parse_datetime(record.get("deletedDate"))
        for user in self.recipients(kind, owner):
            event = ChangeEvent(
                id=change_event_id(
                    Side.SALESFORCE, record_id, f"deleted:{record.get('deletedDate')}"
                ),
                tenant=self.settings.tenant,
                user=user,
                side=Side.SALESFORCE,
                kind=kind,
                op=Op.DELETE,
                record_id=record_id,
                version=None,
                source_ts=deleted_at,
                captured_ts=self.clock(),
            )
            await self.emit(self.settings.changes_topic, bus_key(self.settings.tenant, user), event)
            self.published += 1

    async def prepare(self, kind: Kind, rows: list[dict[str, Any]]) -> None:
        """Look-ups a batch of rows needs before it is published: the EventRelation rows of
        events and the series record of exceptions (one query per 200 events)."""
        if kind is not Kind.EVENT or not rows:
            return
        await relations.series_masters(self.client, rows, self.series)
        wanted = [
            str(r["Id"]) for r in rows if mapping.event_type_of(r) is not EventType.OCCURRENCE
        ]
        self._related = await relations.relations_of(self.client, wanted)

    async def publish(
        self,
        kind: Kind,
        op: Op,
        row: dict[str, Any],
        cause: str | None,
        *,
        audience: Audience | None = None,
        only: set[str] | None = None,
    ) -> None:
        """Publish one row to each user who receives it (`only`: a per-user snapshot's users)."""
        owner = row["Id"] if kind is Kind.USER else row.get("OwnerId")
        users = self.recipients(kind, owner, audience)
        if only is not None:
            users = [u for u in users if u in only]
        record = self._record(kind, row) if users else None
        if record is None:
            return
        version = mapping.row_version(row)
        for user in users:
            event = ChangeEvent(
                id=change_event_id(Side.SALESFORCE, row["Id"], version),
                tenant=self.settings.tenant,
                user=user,
                side=Side.SALESFORCE,
                kind=kind,
                op=op,
                record_id=row["Id"],
                version=version,
                after=record,
                source_ts=mapping.version_stamp(version),
                captured_ts=self.clock(),
                cause=cause,
            )
            await self.emit(self.settings.changes_topic, bus_key(self.settings.tenant, user), event)
            self.published += 1
        self._seen.setdefault(_object_of(kind), {})[row["Id"]] = version

    def _record(self, kind: Kind, row: dict[str, Any]) -> Any:
        marker = self.settings.marker_field
        if kind is Kind.USER:
            self.user_zones[row["Id"]] = row.get("TimeZoneSidKey")
            return mapping.user_from_sf(row)
        if kind is Kind.CONTACT:
            return mapping.contact_from_sf(row, marker)
        if kind is Kind.LEAD:
            return mapping.lead_from_sf(row)
        if kind is Kind.ACCOUNT:
            return mapping.account_from_sf(row)
        zone = self.user_zones.get(row.get("OwnerId") or "")
        key = relations.series_key(row)
        master = self.series.get(key) if key is not None else None
        event = mapping.event_from_sf(row, zone, marker, series_master_id=master)
        # Plain occurrences of a Lightning series are implied by the series' RRULE.
        if event.event_type is EventType.OCCURRENCE:
            return None
        return relations.with_relations(event, self._related.get(row["Id"], ()))


def _object_of(kind: Kind) -> str:
    return next(name for k, name in OBJECTS if k is kind)
