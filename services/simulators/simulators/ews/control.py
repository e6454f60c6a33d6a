"""The simulator's own `/_sim/` API (tests and tools only): state, seeding, credentials,
mailboxes and impersonation rights, the throttling switch, SyncState invalidation, and cancelling
an occurrence of a series (which a real user does in Outlook)."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections import Counter
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from lxml import etree
from pydantic import BaseModel, Field

from simulators.common.tls import ServerTLS
from simulators.ews.items import Shape, render
from simulators.ews.soap import Element, t
from simulators.ews.store import SYNC_FOLDER, EwsStore, Mailbox

DOMAIN = "contoso-sim.example"
_FIRST = ["Ada", "Grace", "Linus", "Barbara", "Ken", "Margaret", "Dennis", "Frances"]
_LAST = ["Lovelace", "Hopper", "Torvalds", "Liskov", "Thompson", "Hamilton", "Ritchie", "Allen"]


def _text(parent: Element, name: str, value: str) -> Element:
    child = etree.SubElement(parent, t(name))
    child.text = value
    return child


def contact_element(given: str, surname: str, email: str, company: str) -> Element:
    contact = etree.Element(t("Contact"))
    _text(contact, "DisplayName", f"{given} {surname}")
    _text(contact, "GivenName", given)
    _text(contact, "CompanyName", company)
    emails = etree.SubElement(contact, t("EmailAddresses"))
    entry = _text(emails, "Entry", email)
    entry.set("Key", "EmailAddress1")
    _text(contact, "Surname", surname)
    return contact


def event_element(subject: str, start: dt.datetime, minutes: int, weekly: bool = False) -> Element:
    item = etree.Element(t("CalendarItem"))
    _text(item, "Subject", subject)
    _text(item, "Start", start.strftime("%Y-%m-%dT%H:%M:%SZ"))
    _text(item, "End", (start + dt.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    _text(item, "IsAllDayEvent", "false")
    _text(item, "LegacyFreeBusyStatus", "Busy")
    _text(item, "Location", "Room 1")
    if weekly:
        recurrence = etree.SubElement(item, t("Recurrence"))
        pattern = etree.SubElement(recurrence, t("WeeklyRecurrence"))
        _text(pattern, "Interval", "1")
        _text(pattern, "DaysOfWeek", start.strftime("%A"))
        _text(pattern, "FirstDayOfWeek", "Sunday")
        rng = etree.SubElement(recurrence, t("NumberedRecurrence"))
        _text(rng, "StartDate", start.date().isoformat())
        _text(rng, "NumberOfOccurrences", "10")
    tz = etree.SubElement(item, t("StartTimeZone"))
    tz.set("Id", "UTC")
    return item


def seed(
    store: EwsStore, seed_value: int, reps: int, contacts: int = 5, events: int = 3
) -> dict[str, Any]:
    """Reset to `reps` demo mailboxes (plus one without impersonation rights) with demo data."""
    rnd = random.Random(seed_value)
    store.mailboxes.clear()
    store.impersonation.clear()
    store.epoch = uuid.uuid4().hex[:8]
    names = []
    for n in range(reps):
        mailbox = store.add_mailbox(f"rep{n + 1}@{DOMAIN}", f"Rep {n + 1}")
        names.append(mailbox.smtp)
        contacts_root = mailbox.distinguished("contacts")
        calendar = mailbox.distinguished("calendar")
        assert contacts_root is not None
        assert calendar is not None
        folder = store.add_folder(mailbox, contacts_root, SYNC_FOLDER, "IPF.Contact")
        for i in range(contacts):
            given, last = rnd.choice(_FIRST), rnd.choice(_LAST)
            email = f"{given}.{last}.{i}@customer{rnd.randint(1, 9)}.example".lower()
            store.add_item(mailbox, folder, "Contact", contact_element(given, last, email, "Acme"))
        base = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
        for i in range(events):
            start = base + dt.timedelta(days=rnd.randint(1, 20), hours=i)
            store.add_item(
                mailbox,
                calendar,
                "CalendarItem",
                event_element(f"Demo {i}", start, 30, weekly=i == 0),
            )
    store.add_mailbox(f"noimpersonation@{DOMAIN}", "No Rights", impersonable=False)
    return {"mailboxes": names}


class SeedRequest(BaseModel):
    seed: int = 1
    reps: int = Field(default=3, ge=0, le=20)
    contacts: int = Field(default=5, ge=0, le=5000)
    events: int = Field(default=3, ge=0, le=5000)


class MailboxRequest(BaseModel):
    smtp: str
    display_name: str | None = None
    impersonable: bool = True
    sync_folder: bool = False


class ImpersonationRequest(BaseModel):
    smtp: str
    allowed: bool


class ThrottleRequest(BaseModel):
    count: int = Field(default=1, ge=0, description="How many EWS requests answer ErrorServerBusy.")
    back_off_ms: int = Field(default=250, ge=0)


class ModifyOccurrenceRequest(BaseModel):
    smtp: str
    item_id: str = Field(description="The recurring master.")
    original_start: str = Field(description="The occurrence's original start, UTC `...Z`.")
    start: str
    end: str
    subject: str | None = None


class CancelOccurrenceRequest(BaseModel):
    smtp: str
    item_id: str
    start: str = Field(description="The occurrence's original start, UTC `YYYY-MM-DDTHH:MM:SSZ`.")


def _mailbox_state(mailbox: Mailbox) -> dict[str, Any]:
    shape = Shape(base="AllProperties")
    items = []
    for item in mailbox.items.values():
        if item.deleted:
            continue
        items.append(
            {
                "id": item.id,
                "change_key": item.change_key,
                "folder_id": item.folder_id,
                "kind": item.kind,
                "xml": etree.tostring(render(item, shape)).decode(),
                "extended": {f"{k[0]}:{k[1]}": v[1] for k, v in item.extended.items()},
            }
        )
    return {
        "smtp": mailbox.smtp,
        "folders": [
            {"id": f.id, "name": f.display_name, "class": f.folder_class, "parent": f.parent_id}
            for f in mailbox.folders.values()
        ],
        "items": items,
        "sent": list(mailbox.sent),
    }


def build_router(store: EwsStore, operations: Counter[str], tls: ServerTLS | None) -> APIRouter:
    router = APIRouter(prefix="/_sim", tags=["simulator control"])

    def mailbox_of(smtp: str) -> Mailbox:
        found = store.find(smtp)
        if found is None:
            raise HTTPException(404, "no such mailbox")
        return found

    @router.get("/state")
    async def state(mailbox: str | None = None) -> dict[str, Any]:
        with store.lock:
            chosen = [mailbox_of(mailbox)] if mailbox else list(store.mailboxes.values())
            return {
                "mailboxes": [_mailbox_state(mb) for mb in chosen],
                "operations": dict(operations),
            }

    @router.post("/seed")
    async def post_seed(body: SeedRequest) -> dict[str, Any]:
        with store.lock:
            return seed(store, body.seed, body.reps, body.contacts, body.events)

    @router.post("/mailboxes", status_code=201)
    async def add_mailbox(body: MailboxRequest) -> dict[str, Any]:
        with store.lock:
            mailbox = store.add_mailbox(body.smtp, body.display_name, body.impersonable)
            folder_id = None
            if body.sync_folder:
                root = mailbox.distinguished("contacts")
                assert root is not None
                folder_id = store.add_folder(mailbox, root, SYNC_FOLDER, "IPF.Contact").id
            return {"smtp": mailbox.smtp, "sync_folder_id": folder_id}

    @router.post("/impersonation")
    async def impersonation(body: ImpersonationRequest) -> dict[str, Any]:
        with store.lock:
            key = mailbox_of(body.smtp).smtp.lower()
            if body.allowed:
                store.impersonation.add(key)
            else:
                store.impersonation.discard(key)
            return {"impersonation": sorted(store.impersonation)}

    @router.post("/throttle")
    async def throttle(body: ThrottleRequest) -> dict[str, Any]:
        with store.lock:
            store.throttle_left, store.throttle_back_off_ms = body.count, body.back_off_ms
            return {"throttle_left": store.throttle_left, "back_off_ms": body.back_off_ms}

    @router.post("/invalidate-sync")
    async def invalidate() -> dict[str, Any]:
        with store.lock:
            store.epoch = uuid.uuid4().hex[:8]
            return {"epoch": store.epoch}

    @router.post("/cancel-occurrence")
    async def cancel_occurrence(body: CancelOccurrenceRequest) -> dict[str, Any]:
        with store.lock:
            mailbox = mailbox_of(body.smtp)
            item = mailbox.items.get(body.item_id)
            if item is None or item.element.find(t("Recurrence")) is None:
                raise HTTPException(404, "no such recurring master")
            item.deleted_occurrences.append(body.start)
            store.touch(mailbox, item)
            return {"id": item.id, "change_key": item.change_key}

    @router.post("/modify-occurrence")
    async def modify_occurrence(body: ModifyOccurrenceRequest) -> dict[str, Any]:
        """What a user does by moving one occurrence in Outlook: an exception item."""
        with store.lock:
            mailbox = mailbox_of(body.smtp)
            master = mailbox.items.get(body.item_id)
            if master is None or master.element.find(t("Recurrence")) is None:
                raise HTTPException(404, "no such recurring master")
            element = store.copy_element(master.element)
            for name in ("Recurrence", "CalendarItemType", "Start", "End"):
                old = element.find(t(name))
                if old is not None:
                    element.remove(old)
            for name, value in (
                ("Start", body.start),
                ("End", body.end),
                ("OriginalStart", body.original_start),
                ("CalendarItemType", "Exception"),
            ):
                _text(element, name, value)
            if body.subject is not None:
                subject = element.find(t("Subject"))
                if subject is None:
                    subject = _text(element, "Subject", "")
                subject.text = body.subject
            folder = mailbox.folders[master.folder_id]
            exception = store.add_item(mailbox, folder, "CalendarItem", element)
            exception.master_id = master.id
            exception.extended = dict(master.extended)
            store.touch(mailbox, master)  # SyncFolderItems reports the master as updated
            return {"id": exception.id, "master_change_key": master.change_key}

    @router.get("/credentials")
    async def credentials(request: Request) -> dict[str, Any]:
        base = str(request.base_url).rstrip("/")
        with store.lock:
            return {
                "ca_certificate_pem": tls.ca_pem if tls else None,
                "username": store.username,
                "password": store.password,
                "auth": ["Basic", "NTLM"],
                "ews_url": f"{base}/EWS/Exchange.asmx",
                "autodiscover_url": f"{base}/autodiscover/autodiscover.xml",
                "autodiscover_soap_url": f"{base}/autodiscover/autodiscover.svc",
                "sync_folder_name": SYNC_FOLDER,
                "mailboxes": sorted(
                    m.smtp for k, m in store.mailboxes.items() if k in store.impersonation
                ),
                "mailboxes_without_impersonation": sorted(
                    m.smtp for k, m in store.mailboxes.items() if k not in store.impersonation
                ),
            }

    return router
