"""Realistic generated demo data for one org (deterministic for a given random seed).

Profiles, the integration user, reps in several time zones, accounts, contacts, leads, and per
rep: single meetings with contacts and invitees (EventRelation), all-day events, a private
event, a Lightning event series (Recurrence2: occurrences carrying the RRULE, one exception),
and a Classic recurring event (IsRecurrence, unsupported by sync: LS-11b).
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field
from simulators.salesforce import series, writes
from simulators.salesforce.store import Store

DOMAIN = "syncline-demo.example.com"
_FIRST = [
    "Ava",
    "Ben",
    "Chloe",
    "Diego",
    "Emma",
    "Farid",
    "Grace",
    "Hiro",
    "Isla",
    "Jonas",
    "Keira",
    "Liam",
    "Maya",
    "Noah",
    "Olga",
    "Priya",
    "Quinn",
    "Rosa",
    "Sam",
    "Tara",
]
_LAST = [
    "Andersen",
    "Brown",
    "Costa",
    "Dubois",
    "Evans",
    "Fischer",
    "Garcia",
    "Hughes",
    "Ito",
    "Jensen",
    "Khan",
    "Larsen",
    "Moreau",
    "Nakamura",
    "Okafor",
    "Patel",
    "Rossi",
    "Silva",
]
_COMPANIES = [
    "Acme Robotics",
    "Blue Harbor Foods",
    "Cobalt Analytics",
    "Delta Freight",
    "Evergreen Clinics",
    "Fjord Energy",
    "Granite Insurance",
    "Helios Solar",
    "Iris Media",
    "Juniper Bank",
    "Kestrel Aero",
    "Lumen Labs",
]
_REP_ZONES = [
    "America/Los_Angeles",
    "America/New_York",
    "Europe/London",
    "Europe/Berlin",
    "Asia/Tokyo",
    "America/Chicago",
    "Australia/Sydney",
]
_SUBJECTS = [
    "Discovery call",
    "Quarterly review",
    "Product demo",
    "Contract negotiation",
    "Onboarding kickoff",
    "Pricing discussion",
    "Lunch meeting",
]


class SeedRequest(BaseModel):
    """What `POST /_sim/seed` accepts."""

    seed: int = 42
    reps: int = Field(default=3, ge=0, le=200)
    rep_emails: list[str] = Field(default_factory=list, description="Override rep emails.")
    accounts: int = Field(default=8, ge=0)
    contacts_per_rep: int = Field(default=10, ge=0)
    leads_per_rep: int = Field(default=3, ge=0)
    meetings_per_rep: int = Field(default=4, ge=0)
    reset: bool = True


def _iso(value: dt.datetime) -> str:
    return value.isoformat()


def seed(store: Store, integration_username: str, request: SeedRequest) -> dict[str, Any]:
    rng = random.Random(request.seed)
    if request.reset:
        store.reset()
    profiles = {
        name: store.insert("Profile", {"Name": name}, None)["Id"]
        for name in ("System Administrator", "Standard User", "Integration User")
    }
    integration = store.insert(
        "User",
        _user(integration_username, "Syncline", "Integration", "GMT", profiles["Integration User"]),
        None,
    )
    actor = integration["Id"]
    reps = []
    for n in range(request.reps):
        first, last = _FIRST[n % len(_FIRST)], _LAST[(n * 7) % len(_LAST)]
        email = (
            request.rep_emails[n]
            if n < len(request.rep_emails)
            else f"{first}.{last}{n}@{DOMAIN}".lower()
        )
        tz = _REP_ZONES[n % len(_REP_ZONES)]
        reps.append(
            store.insert("User", _user(email, first, last, tz, profiles["Standard User"]), None)
        )
    accounts = [
        writes.create(
            store,
            "Account",
            {
                "Name": _COMPANIES[i % len(_COMPANIES)]
                + (f" {i // len(_COMPANIES) + 1}" if i >= len(_COMPANIES) else ""),
                "OwnerId": reps[i % len(reps)]["Id"] if reps else actor,
            },
            actor,
        )
        for i in range(request.accounts)
    ]
    counts = {"contacts": 0, "leads": 0, "events": 0, "event_relations": 0}
    for rep in reps:
        contacts = [
            _contact(store, rng, rep, accounts, actor) for _ in range(request.contacts_per_rep)
        ]
        counts["contacts"] += len(contacts)
        for _ in range(request.leads_per_rep):
            first, last = rng.choice(_FIRST), rng.choice(_LAST)
            writes.create(
                store,
                "Lead",
                {
                    "FirstName": first,
                    "LastName": last,
                    "Company": rng.choice(_COMPANIES),
                    "Email": f"{first}.{last}@lead-{rng.randint(1, 999)}.example".lower(),
                    "OwnerId": rep["Id"],
                },
                actor,
            )
            counts["leads"] += 1
        events, relations = _events(store, rng, rep, contacts, reps, request, actor)
        counts["events"] += events
        counts["event_relations"] += relations
    return {
        "users": len(reps) + 1,
        "reps": [
            {"id": r["Id"], "email": r["Email"], "time_zone": r["TimeZoneSidKey"]} for r in reps
        ],
        "integration_user_id": actor,
        "accounts": len(accounts),
        **counts,
    }


def _user(username: str, first: str, last: str, tz: str, profile_id: str) -> dict[str, Any]:
    return {
        "Username": username,
        "Email": username,
        "FirstName": first,
        "LastName": last,
        "Name": f"{first} {last}",
        "Alias": (first[:1] + last[:4]).lower(),
        "IsActive": True,
        "TimeZoneSidKey": tz,
        "LocaleSidKey": "en_US",
        "LanguageLocaleKey": "en_US",
        "ProfileId": profile_id,
        "UserType": "Standard",
    }


def _contact(
    store: Store, rng: random.Random, rep: dict[str, Any], accounts: list[Any], actor: str
) -> dict[str, Any]:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    account = rng.choice(accounts) if accounts else None
    domain = account["Name"].split()[0].lower() + ".example" if account else "example.org"
    fields: dict[str, Any] = {
        "FirstName": first,
        "LastName": last,
        "Email": f"{first}.{last}{rng.randint(1, 9999)}@{domain}".lower(),
        "Title": rng.choice(["VP Sales", "CTO", "Buyer", "Office Manager", "Engineer"]),
        "Phone": f"+1 555 {rng.randint(100, 999)} {rng.randint(1000, 9999)}",
        "MailingCity": rng.choice(["Seattle", "Boston", "London", "Berlin", "Tokyo"]),
        "OwnerId": rep["Id"],
    }
    if account:
        fields["AccountId"] = account["Id"]
    return writes.create(store, "Contact", fields, actor)


def _events(
    store: Store,
    rng: random.Random,
    rep: dict[str, Any],
    contacts: list[dict[str, Any]],
    reps: list[dict[str, Any]],
    request: SeedRequest,
    actor: str,
) -> tuple[int, int]:
    today = store.now().replace(hour=0, minute=0, second=0)
    owner = rep["Id"]
    events = relations = 0
    for _ in range(request.meetings_per_rep):
        start = today + dt.timedelta(days=rng.randint(-10, 20), hours=rng.randint(8, 17))
        who = rng.choice(contacts) if contacts else None
        ev = writes.create(
            store,
            "Event",
            {
                "Subject": rng.choice(_SUBJECTS),
                "Location": rng.choice(["Zoom", "HQ Room 4", "Client office"]),
                "StartDateTime": _iso(start),
                "EndDateTime": _iso(start + dt.timedelta(minutes=rng.choice([30, 45, 60]))),
                "OwnerId": owner,
                "ShowAs": "Busy",
                "Type": "Meeting",
                **({"WhoId": who["Id"], "WhatId": who["AccountId"]} if who else {}),
            },
            actor,
        )
        events += 1
        invitees = [r for r in reps if r["Id"] != owner][:1] + rng.sample(
            contacts, min(2, len(contacts))
        )
        for person in invitees:
            writes.create(
                store,
                "EventRelation",
                {
                    "EventId": ev["Id"],
                    "RelationId": person["Id"],
                    "IsInvitee": True,
                    "Status": "New",
                },
                actor,
            )
            relations += 1
    all_day = (today + dt.timedelta(days=rng.randint(1, 10))).date()
    writes.create(
        store,
        "Event",
        {
            "Subject": "Trade show",
            "IsAllDayEvent": True,
            "ActivityDate": all_day.isoformat(),
            "DurationInMinutes": 2 * 1440,
            "OwnerId": owner,
            "ShowAs": "OutOfOffice",
        },
        actor,
    )
    private_start = today + dt.timedelta(days=2, hours=12)
    writes.create(
        store,
        "Event",
        {
            "Subject": "Doctor appointment",
            "IsPrivate": True,
            "StartDateTime": _iso(private_start),
            "DurationInMinutes": 60,
            "OwnerId": owner,
            "ShowAs": "OutOfOffice",
        },
        actor,
    )
    events += 2 + _series(store, rep, today, actor) + _classic_series(store, rep, today, actor)
    return events, relations


def _series(store: Store, rep: dict[str, Any], today: dt.datetime, actor: str) -> int:
    """A Lightning series: weekly on Wednesdays for 6 weeks; occurrence 3 moved (exception)."""
    # 16:00 on a Wednesday in the rep's zone: the RRULE's BYDAY is a wall-clock weekday.
    zone = ZoneInfo(rep["TimeZoneSidKey"])
    day = today.astimezone(zone).date()
    day += dt.timedelta(days=(2 - day.weekday()) % 7)
    first = dt.datetime.combine(day, dt.time(16), zone).astimezone(dt.UTC)
    rrule = "RRULE:FREQ=WEEKLY;INTERVAL=1;BYDAY=WE;WKST=SU;COUNT=6"
    common = {
        "Subject": "Weekly pipeline review",
        "OwnerId": rep["Id"],
        "IsRecurrence2": True,
        "Recurrence2PatternText": rrule,
        "Recurrence2PatternStartDate": _iso(first),
        "Recurrence2PatternTimeZone": rep["TimeZoneSidKey"],
        "Recurrence2PatternVersion": "1",
        "DurationInMinutes": 30,
    }
    record = writes.create(store, "Event", {**common, "StartDateTime": _iso(first)}, actor)
    # The insert made the series record plus five occurrence records (series.py).
    third = series.occurrences_of(store, record)[1]
    moved = third["StartDateTime"] + dt.timedelta(hours=1)
    # An occurrence edited individually becomes an exception.
    writes.update(store, "Event", third["Id"], {"StartDateTime": _iso(moved)}, actor)
    return 6


def _classic_series(store: Store, rep: dict[str, Any], today: dt.datetime, actor: str) -> int:
    start = today + dt.timedelta(days=1, hours=9)
    writes.create(
        store,
        "Event",
        {
            "Subject": "Daily stand-up (Classic)",
            "OwnerId": rep["Id"],
            "StartDateTime": _iso(start),
            "DurationInMinutes": 15,
            "IsRecurrence": True,
            "RecurrenceStartDateTime": _iso(start),
            "RecurrenceEndDateOnly": (start + dt.timedelta(days=30)).date().isoformat(),
            "RecurrenceType": "RecursDaily",
            "RecurrenceInterval": 1,
            "RecurrenceTimeZoneSidKey": rep["TimeZoneSidKey"],
        },
        actor,
    )
    return 1
