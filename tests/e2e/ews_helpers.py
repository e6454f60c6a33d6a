"""The e2e tests' side of on-premises Exchange: a rep working in an EWS mailbox.

`EwsRep` acts the way Outlook on an on-premises server would: raw SOAP (CreateItem, UpdateItem,
DeleteItem) to the EWS simulator with the simulator's account, no Syncline code involved, and it
reads the mailbox back through the simulator's inspection API (`GET /_sim/state?mailbox=`, items
as `AllProperties` XML). Element order follows the EWS schema (types are `xs:sequence`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

import httpx
from lxml import etree

from tests.e2e.harness import System, wait_for

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
M = "http://schemas.microsoft.com/exchange/services/2006/messages"
T = "http://schemas.microsoft.com/exchange/services/2006/types"
NS = {"s": SOAP, "m": M, "t": T}
SYNC_FOLDER = "Salesforce_Sync"

__all__ = ["EwsItem", "EwsRep", "ews_rep", "utc_z"]


def utc_z(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class EwsItem:
    """One item of the mailbox as the simulator holds it: the plain fields by element name."""

    id: str
    change_key: str
    folder_id: str
    kind: str
    fields: dict[str, str] = field(default_factory=dict)
    emails: tuple[str, ...] = ()
    extended: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> str | None:
        return self.fields.get(name)

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> EwsItem:
        root = etree.fromstring(raw["xml"].encode())
        fields: dict[str, str] = {}
        for child in root:
            if isinstance(child.tag, str) and len(child) == 0 and child.text is not None:
                fields[etree.QName(child).localname] = child.text
        emails = tuple(
            str(e.text) for e in root.iterfind(f"{{{T}}}EmailAddresses/{{{T}}}Entry") if e.text
        )
        return cls(
            id=raw["id"],
            change_key=raw["change_key"],
            folder_id=raw["folder_id"],
            kind=raw["kind"],
            fields=fields,
            emails=emails,
            extended=dict(raw.get("extended") or {}),
        )


def _envelope(body: str, mailbox: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<s:Envelope xmlns:s="{SOAP}" xmlns:m="{M}" xmlns:t="{T}"><s:Header>'
        '<t:RequestServerVersion Version="Exchange2016"/>'
        "<t:ExchangeImpersonation><t:ConnectingSID>"
        f"<t:PrimarySmtpAddress>{escape(mailbox)}</t:PrimarySmtpAddress>"
        "</t:ConnectingSID></t:ExchangeImpersonation>"
        f"</s:Header><s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def _created_id(doc: Any) -> str:
    return str(doc.xpath("//m:Items/*/t:ItemId/@Id", namespaces=NS)[0])


def _text(tag: str, value: str | None) -> str:
    return "" if value is None else f"<t:{tag}>{escape(value)}</t:{tag}>"


@dataclass
class EwsRep:
    """A rep's on-premises mailbox, driven over real HTTPS + SOAP (Basic auth, impersonation)."""

    http: httpx.AsyncClient
    base_url: str
    username: str
    password: str
    smtp: str

    async def soap(self, body: str) -> Any:
        """One EWS operation; fails the test unless every ResponseMessage says NoError."""
        r = await self.http.post(
            f"{self.base_url}/EWS/Exchange.asmx",
            content=_envelope(body, self.smtp),
            auth=(self.username, self.password),
            headers={"Content-Type": "text/xml; charset=utf-8"},
        )
        doc = etree.fromstring(r.content)
        codes = doc.xpath("//m:ResponseCode/text()", namespaces=NS)
        if r.status_code != 200 or any(c != "NoError" for c in codes):
            raise AssertionError(f"EWS {r.status_code}: {r.text[:800]}")
        return doc

    async def state(self) -> dict[str, Any]:
        r = await self.http.get(f"{self.base_url}/_sim/state", params={"mailbox": self.smtp})
        r.raise_for_status()
        return dict(r.json()["mailboxes"][0])

    async def _folder(self, name: str) -> str | None:
        for folder in (await self.state())["folders"]:
            if folder["name"] == name:
                return str(folder["id"])
        return None

    async def sync_folder_id(self, within: float = 60) -> str:
        """The Salesforce_Sync folder, which the connector creates when the rep is rostered."""

        async def probe() -> str | None:
            return await self._folder(SYNC_FOLDER)

        return await wait_for(probe, within=within, what=f"Salesforce_Sync in {self.smtp}")

    async def items(self, kind: str, folder_name: str | None = None) -> list[EwsItem]:
        state = await self.state()
        folder_id = None
        if folder_name is not None:
            folder_id = next((f["id"] for f in state["folders"] if f["name"] == folder_name), None)
            if folder_id is None:
                return []
        return [
            EwsItem.parse(raw)
            for raw in state["items"]
            if raw["kind"] == kind and (folder_id is None or raw["folder_id"] == folder_id)
        ]

    async def contacts(self) -> list[EwsItem]:
        """The contacts in Salesforce_Sync (the only contact folder that syncs, LS-22)."""
        return await self.items("Contact", SYNC_FOLDER)

    async def events(self) -> list[EwsItem]:
        return await self.items("CalendarItem", "Calendar")

    async def create_contact(
        self,
        given: str,
        surname: str | None,
        email: str | None = None,
        *,
        company: str | None = None,
        title: str | None = None,
        folder: str | None = None,
    ) -> str:
        """A contact in Salesforce_Sync (or in `folder`, a folder id, e.g. the Contacts root)."""
        folder_id = folder or await self.sync_folder_id()
        emails = (
            f'<t:EmailAddresses><t:Entry Key="EmailAddress1">{escape(email)}</t:Entry>'
            "</t:EmailAddresses>"
            if email
            else ""
        )
        display = " ".join(n for n in (given, surname) if n)
        contact = (
            f"<t:Contact>{_text('DisplayName', display)}"
            f"{_text('GivenName', given)}"
            f"{_text('CompanyName', company)}{emails}{_text('JobTitle', title)}"
            f"{_text('Surname', surname)}</t:Contact>"
        )
        doc = await self.soap(
            '<m:CreateItem MessageDisposition="SaveOnly">'
            f'<m:SavedItemFolderId><t:FolderId Id="{folder_id}"/></m:SavedItemFolderId>'
            f"<m:Items>{contact}</m:Items></m:CreateItem>"
        )
        return _created_id(doc)

    async def contacts_root(self) -> str:
        folder = await self._folder("Contacts")
        assert folder is not None
        return folder

    async def set_field(self, item: EwsItem, uri: str, kind: str, tag: str, value: str) -> None:
        """UpdateItem/SetItemField of one plain field (`contacts:JobTitle`, `item:Subject`...)."""
        calendar = kind == "CalendarItem"
        extra = ' SendMeetingInvitationsOrCancellations="SendToNone"' if calendar else ""
        await self.soap(
            f'<m:UpdateItem MessageDisposition="SaveOnly" ConflictResolution="AlwaysOverwrite"'
            f"{extra}><m:ItemChanges><t:ItemChange>"
            f'<t:ItemId Id="{item.id}" ChangeKey="{item.change_key}"/><t:Updates>'
            f'<t:SetItemField><t:FieldURI FieldURI="{uri}"/><t:{kind}>{_text(tag, value)}'
            f"</t:{kind}></t:SetItemField></t:Updates></t:ItemChange></m:ItemChanges>"
            "</m:UpdateItem>"
        )

    async def delete(self, item: EwsItem) -> None:
        extra = ' SendMeetingCancellations="SendToNone"' if item.kind == "CalendarItem" else ""
        await self.soap(
            f'<m:DeleteItem DeleteType="MoveToDeletedItems"{extra}>'
            f'<m:ItemIds><t:ItemId Id="{item.id}"/></m:ItemIds></m:DeleteItem>'
        )

    async def create_event(
        self,
        subject: str,
        start: dt.datetime,
        minutes: int,
        *,
        location: str | None = None,
        time_zone: str = "UTC",
        weekly_occurrences: int | None = None,
        all_day: bool = False,
    ) -> str:
        """An appointment in the default calendar (no attendees, so no meeting mail); with
        `weekly_occurrences`, a weekly series on the start's weekday (EWS schema order:
        Recurrence comes after Location, before StartTimeZone); `all_day`: `start` and the end
        are midnights of `time_zone`, as Outlook stores all-day appointments."""
        end = start + dt.timedelta(minutes=minutes)
        recurrence = ""
        if weekly_occurrences is not None:
            recurrence = (
                "<t:Recurrence><t:WeeklyRecurrence><t:Interval>1</t:Interval>"
                f"<t:DaysOfWeek>{start.strftime('%A')}</t:DaysOfWeek>"
                "<t:FirstDayOfWeek>Sunday</t:FirstDayOfWeek></t:WeeklyRecurrence>"
                f"<t:NumberedRecurrence><t:StartDate>{start.date().isoformat()}</t:StartDate>"
                f"<t:NumberOfOccurrences>{weekly_occurrences}</t:NumberOfOccurrences>"
                "</t:NumberedRecurrence></t:Recurrence>"
            )
        item = (
            f"<t:CalendarItem>{_text('Subject', subject)}"
            f"{_text('Start', utc_z(start))}{_text('End', utc_z(end))}"
            f"<t:IsAllDayEvent>{'true' if all_day else 'false'}</t:IsAllDayEvent>"
            f"<t:LegacyFreeBusyStatus>Busy</t:LegacyFreeBusyStatus>{_text('Location', location)}"
            f'{recurrence}<t:StartTimeZone Id="{escape(time_zone)}"/></t:CalendarItem>'
        )
        doc = await self.soap(
            '<m:CreateItem SendMeetingInvitations="SendToNone">'
            '<m:SavedItemFolderId><t:DistinguishedFolderId Id="calendar"/></m:SavedItemFolderId>'
            f"<m:Items>{item}</m:Items></m:CreateItem>"
        )
        return _created_id(doc)


async def ews_rep(system: System, http: httpx.AsyncClient, smtp: str) -> EwsRep:
    """`http` must trust the stack's CA (`System.http()`)."""
    creds = system.stack.ews_credentials
    return EwsRep(http, system.stack.ews_base_url, creds["username"], creds["password"], smtp)
