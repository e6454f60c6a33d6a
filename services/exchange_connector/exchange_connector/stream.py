"""Capture: Graph delta rounds → normalized change events on `syncline.changes`.

A round follows nextLinks to the deltaLink, publishes the page's change events, waits for every
broker ack, and only then saves the deltaLink (ARCHITECTURE.md, "Delivery guarantees"). The first
round of a mailbox is the snapshot (`op r`, snapshot.py); later rounds are changes (`c/u/d`).
A `410` / `syncStateNotFound` drops the cursor and re-baselines with a fresh snapshot; the
reconciler's links make that duplicate-free.

Events (protocols.md A5): `calendarView/delta` reports singles, occurrences and exceptions, never
series masters, and may not report deleted occurrences. So every series touched in a round is
re-read: the master (recurrence) and its instances in the window, from which exceptions and
cancelled occurrences (exdates) are derived. `@removed` also covers items that merely left the
window, so a removal is confirmed with a GET before it becomes a delete.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from dateutil import rrule as du_rrule
from syncmodel.kinds import Kind, Op
from syncmodel.messages import ChangeEvent

from exchange_connector.client import PREFER, GraphClient
from exchange_connector.errors import SyncStateGone, Unavailable
from exchange_connector.mapping import MARKER_PROPERTY, contact_from_graph, event_from_graph
from exchange_connector.offsets import Cursor
from exchange_connector.transport import MailboxStream
from exchange_connector.zones import zone

log = logging.getLogger(__name__)
EXPAND_MARKER = f"singleValueExtendedProperties($filter=id eq '{MARKER_PROPERTY}')"


def _graph_ts(value: Any) -> dt.datetime | None:
    if not value:
        return None
    text = str(value).replace("Z", "+00:00")
    head, _, rest = text.partition(".")
    if rest:  # 7 fractional digits on the wire; Python takes 6
        frac, _, offset = rest.partition("+")
        text = f"{head}.{frac[:6]}+{offset or '00:00'}"
    return dt.datetime.fromisoformat(text)


def _create_or_update(item: dict[str, Any]) -> Op:
    """Delta does not say which; an item never modified after creation is a create."""
    created = _graph_ts(item.get("createdDateTime"))
    modified = _graph_ts(item.get("lastModifiedDateTime"))
    if created and modified and abs((modified - created).total_seconds()) < 1:
        return Op.CREATE
    return Op.UPDATE


@dataclass
class MailboxCapture(MailboxStream[GraphClient]):
    """Capture state and collaborators for one rostered mailbox served over Graph."""

    window_past: dt.timedelta = dt.timedelta(days=30)
    window_future: dt.timedelta = dt.timedelta(days=365)

    # --- contacts -----------------------------------------------------------------------------

    def contacts_url(self) -> str:
        assert self.folder_id is not None
        return self.client.url(
            self.mailbox, f"contactFolders/{quote(self.folder_id)}/contacts/delta"
        )

    async def contacts_round(self, url: str, snapshot: bool, cause: str | None) -> Cursor:
        async for page in self.client.pages(url, self.mailbox):
            events = [self._contact_change(item, snapshot, cause) for item in page.get("value", [])]
            await self.publish(events)
            if "@odata.deltaLink" in page:
                return Cursor(page["@odata.deltaLink"])
        raise SyncStateGone("NoDeltaLink", "delta round ended without a deltaLink")

    def _contact_change(
        self, item: dict[str, Any], snapshot: bool, cause: str | None
    ) -> ChangeEvent:
        if "@removed" in item:
            return self.change(Kind.CONTACT, Op.DELETE, item["id"], None, None, None, cause)
        modified = _graph_ts(item.get("lastModifiedDateTime"))
        op = Op.READ if snapshot else _create_or_update(item)
        return self.change(
            Kind.CONTACT,
            op,
            item["id"],
            item.get("changeKey"),
            contact_from_graph(item),
            modified,
            cause,
        )

    # --- events -------------------------------------------------------------------------------

    def events_window(self) -> tuple[dt.datetime, dt.datetime]:
        now = self.now().replace(microsecond=0)
        return now - self.window_past, now + self.window_future

    def events_url(self, window: tuple[dt.datetime, dt.datetime]) -> str:
        lo, hi = (w.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") for w in window)
        return self.client.url(
            self.mailbox, f"calendarView/delta?startDateTime={lo}&endDateTime={hi}"
        )

    async def events_round(
        self, url: str, window: tuple[dt.datetime, dt.datetime], snapshot: bool, cause: str | None
    ) -> Cursor:
        masters: set[str] = set()
        removed: list[str] = []
        async for page in self.client.pages(url, self.mailbox):
            singles = []
            for item in page.get("value", []):
                if "@removed" in item:
                    removed.append(item["id"])
                elif item.get("seriesMasterId"):
                    masters.add(item["seriesMasterId"])
                elif item.get("type") == "seriesMaster":
                    masters.add(item["id"])  # some tenants report masters (A5, [I])
                else:
                    singles.append(self._event_change(item, snapshot, cause))
            await self.publish(singles)
            if "@odata.deltaLink" in page:
                await self._publish_series(masters, window, snapshot, cause)
                await self._publish_confirmed_removals(removed, masters, cause)
                lo, hi = (w.isoformat() for w in window)
                return Cursor(page["@odata.deltaLink"], lo, hi)
        raise SyncStateGone("NoDeltaLink", "delta round ended without a deltaLink")

    def _event_change(
        self, item: dict[str, Any], snapshot: bool, cause: str | None, exdates: tuple[Any, ...] = ()
    ) -> ChangeEvent:
        modified = _graph_ts(item.get("lastModifiedDateTime"))
        op = Op.READ if snapshot else _create_or_update(item)
        event = event_from_graph(item, exdates)
        return self.change(
            Kind.EVENT, op, item["id"], item.get("changeKey"), event, modified, cause
        )

    async def _publish_series(
        self,
        masters: set[str],
        window: tuple[dt.datetime, dt.datetime],
        snapshot: bool,
        cause: str | None,
    ) -> None:
        """Re-read each touched series: master and first instances page, batched (A7)."""
        lo, hi = (w.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") for w in window)
        base = f"/users/{quote(self.mailbox)}/events"
        requests: list[dict[str, Any]] = []
        for i, master_id in enumerate(sorted(masters)):
            expand = quote(EXPAND_MARKER)
            requests.append(
                {
                    "id": f"m{i}",
                    "method": "GET",
                    "url": f"{base}/{quote(master_id)}?$expand={expand}",
                }
            )
            window_query = f"startDateTime={lo}&endDateTime={hi}"
            requests.append(
                {
                    "id": f"i{i}",
                    "method": "GET",
                    "url": f"{base}/{quote(master_id)}/instances?{window_query}",
                }
            )
        for req in requests:  # sub-requests do not inherit the batch's headers
            req["headers"] = {"Prefer": PREFER}
        answers = await self.client.batch(self.mailbox, requests) if requests else {}
        for i, master_id in enumerate(sorted(masters)):
            m_status, master = answers[f"m{i}"]
            i_status, first_page = answers[f"i{i}"]
            if m_status == 404:
                deleted = self.change(Kind.EVENT, Op.DELETE, master_id, None, None, None, cause)
                await self.publish([deleted])
                continue
            if m_status >= 400 or i_status >= 400:
                raise Unavailable(
                    f"Http{max(m_status, i_status)}", f"series {master_id} unreadable"
                )
            instances = list(first_page.get("value", []))
            next_link = first_page.get("@odata.nextLink")
            if next_link:
                async for page in self.client.pages(next_link, self.mailbox):
                    instances += page.get("value", [])
            exdates = cancelled_occurrences(master, instances, window)
            changes = [self._event_change(master, snapshot, cause, exdates)]
            changes += [
                self._event_change(i, snapshot, cause)
                for i in instances
                if i.get("type") == "exception"
            ]
            await self.publish(changes)

    async def _publish_confirmed_removals(
        self, removed: list[str], masters: set[str], cause: str | None
    ) -> None:
        """`@removed` also means "left the window": only a 404 makes it a delete (A5)."""
        candidates = [i for i in dict.fromkeys(removed) if i not in masters]
        base = f"/users/{quote(self.mailbox)}/events"
        requests = [
            {"id": str(n), "method": "GET", "url": f"{base}/{quote(item_id)}?$select=id"}
            for n, item_id in enumerate(candidates)
        ]
        answers = await self.client.batch(self.mailbox, requests) if requests else {}
        deletes = [
            self.change(Kind.EVENT, Op.DELETE, item_id, None, None, None, cause)
            for n, item_id in enumerate(candidates)
            if answers[str(n)][0] == 404
        ]
        await self.publish(deletes)


def cancelled_occurrences(
    master: dict[str, Any], instances: list[dict[str, Any]], window: tuple[dt.datetime, dt.datetime]
) -> tuple[dt.date | dt.datetime, ...]:
    """Original starts the pattern promises in the window that no instance answers for."""
    event = event_from_graph(master)
    rec = event.recurrence
    if rec is None:
        return ()
    tz = zone(rec.time_zone)
    if event.is_all_day:
        assert event.start_date is not None
        dtstart = dt.datetime.combine(rec.start_date, dt.time())
    else:
        assert event.start is not None
        dtstart = dt.datetime.combine(rec.start_date, event.start.astimezone(tz).time())
    rule = du_rrule.rrulestr(rec.rrule, dtstart=dtstart, ignoretz=True)
    lo = window[0].astimezone(tz).replace(tzinfo=None)
    hi = window[1].astimezone(tz).replace(tzinfo=None)
    present = {str(i.get("originalStart", ""))[:19] for i in instances}
    missing: list[dt.date | dt.datetime] = []
    for local in rule.between(lo, hi, inc=True):
        start = local.replace(tzinfo=tz).astimezone(dt.UTC)
        if start.strftime("%Y-%m-%dT%H:%M:%S") not in present:
            missing.append(local.date() if event.is_all_day else start)
    return tuple(missing)
