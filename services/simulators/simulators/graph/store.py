"""The simulator's in-memory state: one directory tenant, its apps, users and their mailboxes.

Items are kept as Graph JSON (the fields a client sent, plus defaults) with the server-owned parts
(`id`, `changeKey`, extended properties, a change sequence number) alongside. Handlers are all
`async def` on one event loop and never await while mutating, so no locks are needed.
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

DEMO_TENANT_ID = str(uuid.uuid5(uuid.NAMESPACE_DNS, "tenant.syncline-demo.example"))
DEMO_CLIENT_ID = str(uuid.uuid5(uuid.NAMESPACE_DNS, "app.syncline-demo.example"))
DEMO_CLIENT_SECRET = "sim~demo-client-secret-not-for-production"
DEMO_DOMAIN = "contoso-sim.example"

_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def new_id(prefix: str = "AAMkAG") -> str:
    """An opaque, URL-safe item id that looks like Exchange's (alphanumeric only, by design:
    occurrence ids append `-<original start>` to their master's id)."""
    return prefix + "".join(secrets.choice(_ALNUM) for _ in range(40))


def new_change_key() -> str:
    return base64.b64encode(secrets.token_bytes(12)).decode()


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def graph_timestamp(moment: dt.datetime) -> str:
    """UTC with 7 fractional digits and `Z` (protocols.md A2)."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


@dataclass
class Item:
    """A contact, a single event or a series master."""

    id: str
    data: dict[str, Any]
    kind: str = "contact"
    change_key: str = field(default_factory=new_change_key)
    seq: int = 0
    created: dt.datetime = field(default_factory=utc_now)
    modified: dt.datetime = field(default_factory=utc_now)
    ext: dict[str, str] = field(default_factory=dict)
    """singleValueExtendedProperties: lower-cased id -> (original id, value) kept in `ext_ids`."""
    ext_ids: dict[str, str] = field(default_factory=dict)
    seq_touched: bool = False
    """False until the first `touch` (creation): a new item's modified time equals its created."""
    # Events only: occurrence key (UTC original start, compact) -> override fields / cancelled.
    exceptions: dict[str, Exception_] = field(default_factory=dict)
    cancelled: set[str] = field(default_factory=set)

    def set_ext(self, prop_id: str, value: str) -> None:
        self.ext[prop_id.lower()] = value
        self.ext_ids[prop_id.lower()] = prop_id


@dataclass
class Exception_:
    """A modified occurrence of a series: overriding fields and its own changeKey."""

    overrides: dict[str, Any]
    change_key: str = field(default_factory=new_change_key)
    modified: dt.datetime = field(default_factory=utc_now)


@dataclass
class ContactFolder:
    id: str
    display_name: str
    parent_folder_id: str
    ext: dict[str, str] = field(default_factory=dict)
    ext_ids: dict[str, str] = field(default_factory=dict)


@dataclass
class SentMessage:
    """An invitation/update/cancellation Exchange would have sent (so tests can assert none)."""

    kind: str
    event_id: str
    subject: str | None
    to: list[str]
    ts: str


@dataclass
class Mailbox:
    user_id: str
    root_folder_id: str = field(default_factory=lambda: new_id("AAMkAGfold"))
    contacts_folder_id: str = field(default_factory=lambda: new_id("AAMkAGcont"))
    calendar_id: str = field(default_factory=lambda: new_id("AAMkAGcal"))
    folders: dict[str, ContactFolder] = field(default_factory=dict)
    contacts: dict[str, Item] = field(default_factory=dict)
    events: dict[str, Item] = field(default_factory=dict)
    event_tombstones: dict[str, int] = field(default_factory=dict)
    transactions: dict[str, str] = field(default_factory=dict)
    sent: list[SentMessage] = field(default_factory=list)
    time_zone: str = "Pacific Standard Time"
    seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    on_change: Callable[[Mailbox, Item, str], None] | None = None
    """Change-notification hook (subscriptions.py): (mailbox, item, created|updated|deleted)."""

    def next_seq(self) -> int:
        return next(self.seq)

    def touch(self, item: Item) -> None:
        """Record a change: new changeKey, sequence number and modification time."""
        item.change_key = new_change_key()
        item.seq = self.next_seq()
        item.modified = utc_now() if item.seq_touched else item.created
        self.changed(item, "updated" if item.seq_touched else "created")
        item.seq_touched = True

    def changed(self, item: Item, change_type: str) -> None:
        if self.on_change is not None:
            self.on_change(self, item, change_type)


@dataclass
class User:
    id: str
    user_principal_name: str
    display_name: str
    given_name: str
    surname: str
    mailbox: Mailbox
    job_title: str | None = None

    @property
    def mail(self) -> str:
        return self.user_principal_name

    def to_graph(self) -> dict[str, Any]:
        return {
            "businessPhones": [],
            "displayName": self.display_name,
            "givenName": self.given_name,
            "jobTitle": self.job_title,
            "mail": self.mail,
            "mobilePhone": None,
            "officeLocation": None,
            "preferredLanguage": "en-US",
            "surname": self.surname,
            "userPrincipalName": self.user_principal_name,
            "id": self.id,
        }


@dataclass
class ClientApp:
    """An app registration: secret and/or certificate, and its application access policy."""

    client_id: str
    secret: str | None
    certificate_pem: bytes | None = None
    allowed_mailboxes: set[str] | None = None
    """None = every mailbox (no policy); else user ids the policy lets the app reach."""


@dataclass
class SimSettings:
    """Tunables tests change through `POST /_sim/config`."""

    concurrency_limit: int = 4
    budget_per_window: int = 10_000
    budget_window_s: float = 600.0
    token_lifetime_s: tuple[int, int] = (3600, 5400)
    default_page_size: int = 10
    throttle_retry_after_s: int = 1
    request_latency_ms: float = 0
    subscription_max_minutes: int = 4230
    delta_empty_first_page: bool = False
    """A12: a round's first page is empty but carries a nextLink (clients must keep paging)."""
    delta_replay: bool = False
    """A5: an item may appear more than once in a round."""


@dataclass
class GraphStore:
    tenant_id: str = DEMO_TENANT_ID
    domain: str = DEMO_DOMAIN
    apps: dict[str, ClientApp] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    users_by_upn: dict[str, User] = field(default_factory=dict)
    settings: SimSettings = field(default_factory=SimSettings)
    on_change: Callable[[Mailbox, Item, str], None] | None = None

    def add_user(self, upn: str, given: str, surname: str, time_zone: str | None = None) -> User:
        user_id = str(uuid.uuid4())
        mailbox = Mailbox(user_id=user_id, on_change=self.on_change)
        if time_zone:
            mailbox.time_zone = time_zone
        user = User(user_id, upn, f"{given} {surname}", given, surname, mailbox)
        self.users[user_id] = user
        self.users_by_upn[upn.lower()] = user
        return user

    def find_user(self, id_or_upn: str) -> User | None:
        user = self.users.get(id_or_upn)
        if user is not None:
            return user
        return self.users_by_upn.get(id_or_upn.lower())

    def reset(self) -> None:
        self.users.clear()
        self.users_by_upn.clear()
