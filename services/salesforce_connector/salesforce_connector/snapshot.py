"""Snapshot reads (op=r): every live record of one object, on first run or after a gap.

A gap longer than the delete-log retention (getDeleted's `earliestDateAvailable` after our last
poll) cannot be replayed, so the object is re-read in full with cause `rebaseline` and the
reconciler compares the full set instead of silently missing deletes (C8). The same read,
narrowed by `where` and `only`, is a per-user snapshot (`baseline`).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from syncmodel.kinds import Kind, Op

from salesforce_connector.mapping import parse_datetime, soql_fields
from salesforce_connector.offsets import ObjectCursor

if TYPE_CHECKING:
    from salesforce_connector.roster import Audience
    from salesforce_connector.stream import Capture


async def snapshot_object(
    capture: Capture,
    kind: Kind,
    object_name: str,
    cause: str,
    *,
    where: str = "",
    audience: Audience | None = None,
    only: set[str] | None = None,
) -> ObjectCursor:
    started = capture.clock().replace(second=0, microsecond=0)
    fields = ", ".join(soql_fields(kind, capture.settings.marker_field))
    soql = f"SELECT {fields} FROM {object_name} {where} ORDER BY SystemModstamp, Id"  # noqa: S608
    rows = await capture.client.query(soql)
    await capture.prepare(kind, rows)
    watermark: dt.datetime | None = None
    for row in rows:
        await capture.publish(kind, Op.READ, row, cause, audience=audience, only=only)
        stamp = parse_datetime(row.get("SystemModstamp"))
        if stamp is not None and (watermark is None or stamp > watermark):
            watermark = stamp
    await capture.flush()
    return ObjectCursor(watermark=watermark or started, deleted_through=started)
