"""In-memory org state: records per sObject, the delete log, query locators, the clock.

Records are dicts of API field name -> Python value (aware UTC datetimes, dates, bools, ints,
strings, None). Deleted records stay in place with IsDeleted=true (the recycle bin) so that
queryAll can see them; the delete log feeds `/sobjects/{type}/deleted` (C8).
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from dataclasses import dataclass, field
from typing import Any

from simulators.salesforce import errors
from simulators.salesforce.schema import OBJECTS, canonical_id, make_id, object_of_id

Record = dict[str, Any]
UTC = dt.UTC


@dataclass
class DeleteLogEntry:
    object_name: str
    id: str
    deleted_at: dt.datetime


@dataclass
class QueryCursor:
    """Rows of one query, served page by page through `nextRecordsUrl` (C4)."""

    rows: list[dict[str, Any]]
    batch_size: int


@dataclass
class OrgSettings:
    daily_api_allocation: int = 100_000
    session_timeout_s: float = 7200.0
    delete_log_retention_days: float = 15.0
    page_size: int = 2000


@dataclass
class Store:
    settings: OrgSettings = field(default_factory=OrgSettings)
    records: dict[str, dict[str, Record]] = field(
        default_factory=lambda: {name: {} for name in OBJECTS}
    )
    delete_log: list[DeleteLogEntry] = field(default_factory=list)
    delete_log_purged_before: dt.datetime | None = None
    cursors: dict[str, QueryCursor] = field(default_factory=dict)
    clock_offset: dt.timedelta = dt.timedelta(0)
    lock: threading.RLock = field(default_factory=threading.RLock)
    _serial: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _cursor_serial: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def now(self) -> dt.datetime:
        """Salesforce stamps have second precision (`.000` milliseconds on the wire)."""
        return (dt.datetime.now(UTC) + self.clock_offset).replace(microsecond=0)

    def new_id(self, object_name: str) -> str:
        return make_id(OBJECTS[object_name].key_prefix, next(self._serial))

    def reset(self) -> None:
        with self.lock:
            for table in self.records.values():
                table.clear()
            self.delete_log.clear()
            self.cursors.clear()
            self.delete_log_purged_before = None

    # --- reads ---------------------------------------------------------------------------------

    def resolve(self, raw_id: str, object_name: str | None = None) -> str:
        """Canonical 18-character id or MALFORMED_ID (15/18 chars, case-insensitive 18)."""
        id18 = canonical_id(raw_id)
        if id18 is None or object_of_id(id18) is None:
            raise errors.malformed_id(raw_id)
        if object_name is not None and object_of_id(id18) != object_name:
            raise errors.malformed_id(raw_id)
        return id18

    def find(self, id18: str) -> Record | None:
        object_name = object_of_id(id18)
        if object_name is None:
            return None
        return self.records[object_name].get(id18)

    def live(self, object_name: str, id18: str) -> Record:
        rec = self.records[object_name].get(id18)
        if rec is None:
            raise errors.not_found()
        if rec["IsDeleted"]:
            raise errors.ApiError(404, "ENTITY_IS_DELETED", "entity is deleted")
        return rec

    def rows(self, object_name: str, include_deleted: bool = False) -> list[Record]:
        table = self.records[object_name].values()
        return [r for r in table if include_deleted or not r["IsDeleted"]]

    # --- writes (validation lives in writes.py) -----------------------------------------------

    def insert(self, object_name: str, values: Record, actor_id: str | None) -> Record:
        now = self.now()
        rec: Record = {name: None for name in OBJECTS[object_name].fields}
        for f in OBJECTS[object_name].fields.values():
            if f.type == "boolean":
                rec[f.name] = False
        rec.update(values)
        rec["Id"] = values.get("Id") or self.new_id(object_name)
        rec["IsDeleted"] = False
        rec["CreatedDate"] = rec["LastModifiedDate"] = rec["SystemModstamp"] = now
        rec["CreatedById"] = rec["LastModifiedById"] = actor_id
        self.records[object_name][rec["Id"]] = rec
        return rec

    def touch(self, rec: Record, values: Record, actor_id: str | None) -> None:
        now = self.now()
        rec.update(values)
        rec["LastModifiedDate"] = rec["SystemModstamp"] = now
        if actor_id is not None:
            rec["LastModifiedById"] = actor_id

    def soft_delete(self, object_name: str, rec: Record) -> None:
        now = self.now()
        rec["IsDeleted"] = True
        rec["SystemModstamp"] = now
        self.delete_log.append(DeleteLogEntry(object_name, rec["Id"], now))

    def purge_delete_log(self, before: dt.datetime | None = None) -> None:
        """Simulate the background job that prunes the delete log (C8)."""
        cutoff = before or self.now()
        with self.lock:
            self.delete_log = [e for e in self.delete_log if e.deleted_at >= cutoff]
            self.delete_log_purged_before = cutoff

    def earliest_delete_available(self) -> dt.datetime:
        retention = self.now() - dt.timedelta(days=self.settings.delete_log_retention_days)
        if self.delete_log_purged_before is not None:
            return max(retention, self.delete_log_purged_before)
        return retention

    # --- query cursors --------------------------------------------------------------------------

    def open_cursor(self, rows: list[dict[str, Any]], batch_size: int) -> str:
        locator = f"01g5g{next(self._cursor_serial):010d}AAA"
        self.cursors[locator] = QueryCursor(rows, batch_size)
        return locator


def format_datetime(value: dt.datetime) -> str:
    """Salesforce's wire format: `2020-04-09T18:32:55.000+0000` (C3)."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def to_json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return format_datetime(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value
