"""Realistic demo data: an app registration (secret + certificate), reps with mailboxes in several
zones, contacts in and outside `Salesforce_Sync`, and meetings: singles, multi-attendee across
zones, all-day, private, and recurring series with a moved and a cancelled occurrence."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from simulators.graph.calendar import occurrence_keys
from simulators.graph.contacts import create_contact
from simulators.graph.events import create_event
from simulators.graph.store import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    ClientApp,
    ContactFolder,
    Exception_,
    GraphStore,
    User,
    new_id,
)
from simulators.graph.times import format_dttz, zone

SYNC_FOLDER = "Salesforce_Sync"
_REPS = [
    ("Avery", "Nguyen", "Pacific Standard Time"),
    ("Blake", "Okafor", "Eastern Standard Time"),
    ("Chiara", "Rossi", "W. Europe Standard Time"),
    ("Dev", "Iyer", "India Standard Time"),
    ("Emma", "Larsen", "Romance Standard Time"),
    ("Felipe", "Souza", "E. South America Standard Time"),
]
_FIRST = ["Jordan", "Priya", "Lukas", "Mei", "Omar", "Sofia", "Hiro", "Zanele", "Noah", "Ines"]
_LAST = ["Schmidt", "Garcia", "Kim", "Dubois", "Haddad", "Novak", "Tanaka", "Mensah", "Silva"]
_COMPANIES = ["Fabrikam", "Northwind Traders", "Tailspin Toys", "Litware", "Adventure Works"]
_TOPICS = ["Pipeline review", "Renewal call", "Demo", "QBR", "Pricing follow-up", "Kick-off"]


@dataclass(frozen=True)
class DemoCertificate:
    private_key_pem: str
    certificate_pem: str
    thumbprint_sha1: str


def make_certificate() -> DemoCertificate:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "syncline-sim-app")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    return DemoCertificate(key_pem, cert_pem, cert.fingerprint(hashes.SHA1()).hex().upper())  # noqa: S303


def ensure_demo_app(store: GraphStore, certificate: DemoCertificate) -> None:
    store.apps[DEMO_CLIENT_ID] = ClientApp(
        DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, certificate.certificate_pem.encode()
    )


def add_sync_folder(user: User) -> ContactFolder:
    mailbox = user.mailbox
    folder = ContactFolder(new_id("AAMkAGfld"), SYNC_FOLDER, mailbox.contacts_folder_id)
    mailbox.folders[folder.id] = folder
    return folder


def _contact_body(rng: random.Random, domain_hint: str) -> dict[str, Any]:
    first, last, company = rng.choice(_FIRST), rng.choice(_LAST), rng.choice(_COMPANIES)
    domain = company.lower().replace(" ", "") + ".example"
    return {
        "givenName": first,
        "surname": last,
        "emailAddresses": [
            {"name": f"{first} {last}", "address": f"{first}.{last}@{domain}".lower()}
        ],
        "companyName": company,
        "jobTitle": rng.choice(["VP Sales", "CTO", "Buyer", "Head of IT", None]),
        "businessPhones": [f"+1 555 01{rng.randint(10, 99)}"],
        "mobilePhone": rng.choice([None, f"+1 555 02{rng.randint(10, 99)}"]),
        "businessAddress": {"city": rng.choice(["Seattle", "Berlin", "Pune", "Lyon"])},
        "personalNotes": f"seeded for {domain_hint}",
    }


def _at(day: dt.date, hour: int, tz_name: str) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=zone(tz_name))


def _timed(tz_name: str, start: dt.datetime, minutes: int) -> dict[str, Any]:
    return {
        "start": format_dttz(start, tz_name),
        "end": format_dttz(start + dt.timedelta(minutes=minutes), tz_name),
    }


def seed_rep_events(rng: random.Random, user: User, others: list[User], count: int) -> None:
    tz_name = user.mailbox.time_zone
    today = dt.date.today()
    for i in range(count):
        day = today + dt.timedelta(days=rng.randint(-20, 60))
        body: dict[str, Any] = {
            "subject": f"{rng.choice(_TOPICS)} with {rng.choice(_COMPANIES)}",
            "body": {"contentType": "text", "content": "Agenda: numbers, next steps."},
            "location": {"displayName": rng.choice(["Teams", "HQ 3.14", "Client site", ""])},
            **_timed(tz_name, _at(day, rng.randint(8, 17), tz_name), rng.choice([30, 45, 60])),
            "showAs": rng.choice(["busy", "busy", "tentative", "free"]),
        }
        if i % 3 == 0 and others:
            # Multi-attendee across zones: colleagues in other zones plus an external contact.
            guests = rng.sample(others, k=min(2, len(others)))
            body["attendees"] = [
                {"type": "required", "emailAddress": {"address": g.mail, "name": g.display_name}}
                for g in guests
            ] + [{"type": "optional", "emailAddress": {"address": "buyer@fabrikam.example"}}]
        if i % 7 == 3:
            body["sensitivity"] = "private"
        create_event(user, body)
    # All-day event (dates, not instants).
    day = today + dt.timedelta(days=rng.randint(1, 30))
    create_event(
        user,
        {
            "subject": "Trade show",
            "isAllDay": True,
            "start": {"dateTime": f"{day}T00:00:00", "timeZone": tz_name},
            "end": {"dateTime": f"{day + dt.timedelta(days=2)}T00:00:00", "timeZone": tz_name},
            "showAs": "oof",
        },
    )
    # Weekly series with one moved and one cancelled occurrence.
    monday = today - dt.timedelta(days=today.weekday() + 14)
    master, _ = create_event(
        user,
        {
            "subject": "Weekly pipeline sync",
            **_timed(tz_name, _at(monday, 9, tz_name), 30),
            "recurrence": {
                "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"]},
                "range": {
                    "type": "numbered",
                    "startDate": monday.isoformat(),
                    "numberOfOccurrences": 12,
                    "recurrenceTimeZone": tz_name,
                },
            },
        },
    )
    lo = _at(monday, 0, tz_name)
    keys = occurrence_keys(master, lo, lo + dt.timedelta(days=120))
    if len(keys) > 4:
        moved = _at(monday + dt.timedelta(days=22), 11, tz_name)
        master.exceptions[keys[3]] = Exception_(overrides=_timed(tz_name, moved, 30))
        master.cancelled.add(keys[4])


def seed(
    store: GraphStore, seed_value: int = 1, reps: int = 3, contacts: int = 10, events: int = 8
) -> dict[str, Any]:
    """Replace the directory's users with freshly generated demo reps (plus one mailbox that the
    application access policy excludes)."""
    rng = random.Random(seed_value)
    store.reset()
    users = []
    for first, last, tz_name in _REPS[: max(1, min(reps, len(_REPS)))]:
        users.append(store.add_user(f"{first}.{last}@{store.domain}".lower(), first, last, tz_name))
    outsider = store.add_user(f"outsider@{store.domain}", "Olive", "Outsider", "UTC")
    for index, user in enumerate(users):
        # The last rep has no Salesforce_Sync folder yet: the connector must create it (LS-20).
        if index < len(users) - 1 or len(users) == 1:
            folder = add_sync_folder(user)
            for _ in range(contacts):
                create_contact(user.mailbox, folder.id, _contact_body(rng, user.mail))
        for _ in range(max(1, contacts // 3)):
            # Contacts elsewhere do not sync (LS-22).
            create_contact(
                user.mailbox, user.mailbox.contacts_folder_id, _contact_body(rng, user.mail)
            )
        seed_rep_events(rng, user, [u for u in users if u is not user], events)
    for user in users:
        user.mailbox.sent.clear()  # seeding is not the product sending invitations
    for app in store.apps.values():
        app.allowed_mailboxes = {u.id for u in users}
    return {
        "users": [u.user_principal_name for u in users],
        "denied_by_policy": [outsider.user_principal_name],
    }
