"""Initial sync: reps whose Outlook and Salesforce already hold contacts and events, part of them
the same (overlap), are switched on at once; measured: the wall time until both sides hold the
union, the duplicates left, and the API calls each side took next to the floor (issue 8:
Salesforce records written / 200 + polls; Graph one call per written item + delta pages).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bench.system import Bench, Counted

BOTH_WAYS = {"contacts": "both", "events": "both", "sync_private_events": False}


_OUTLOOK_LACKS = ("Title", "Phone", "MailingCity", "AccountId")
"""Mapped fields the seeded Salesforce contacts carry and their Outlook copies don't (LS-29)."""


@dataclass(frozen=True)
class Scale:
    reps: int = 40
    salesforce_contacts: int = 40
    outlook_contacts: int = 40
    shared_contacts: int = 20
    salesforce_events: int = 30
    outlook_events: int = 30
    shared_events: int = 10

    @property
    def contacts_per_rep(self) -> int:
        return self.salesforce_contacts + self.outlook_contacts - self.shared_contacts

    @property
    def events_per_rep(self) -> int:
        return self.salesforce_events + self.outlook_events - self.shared_events

    def emails(self) -> list[str]:
        return [f"rep{n}@bench.example" for n in range(self.reps)]


def _slot(rep: int, i: int) -> tuple[dt.datetime, dt.datetime]:
    """Distinct hour slots from the day after tomorrow on, inside every sync window."""
    day = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=2 + i // 8)
    start = dt.datetime(day.year, day.month, day.day, 8 + i % 8, rep % 4 * 10, tzinfo=dt.UTC)
    return start, start + dt.timedelta(minutes=30)


def _graph_time(value: dt.datetime) -> dict[str, str]:
    return {"dateTime": value.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}


async def _gather_limited(coros: list[Any], limit: int = 16) -> None:
    gate = asyncio.Semaphore(limit)

    async def one(coro: Any) -> None:
        async with gate:
            await coro

    await asyncio.gather(*(one(c) for c in coros))


async def seed(bench: Bench, scale: Scale) -> Expected:
    """Both sides hold their data before Syncline is switched on (through the APIs a rep uses)."""
    emails = scale.emails()
    await bench.salesforce_sim(
        "POST",
        "/seed",
        {
            "reps": scale.reps,
            "rep_emails": emails,
            "contacts_per_rep": scale.salesforce_contacts,
            "leads_per_rep": 0,
            "meetings_per_rep": 0,
            "accounts": 5,
        },
    )
    await bench.login_salesforce()
    for email in emails:
        user = await bench.graph_sim("POST", "/users", {"upn": email})
        bench.sync_folders[email] = user["syncFolderId"]
    state = await bench.salesforce_sim("GET", "/state?object=User")
    owner_of = {u["Id"]: u["Email"] for u in state["User"] if u["Email"] in bench.sync_folders}
    contacts = (await bench.salesforce_sim("GET", "/state?object=Contact"))["Contact"]
    by_rep: dict[str, list[dict[str, Any]]] = {email: [] for email in emails}
    for contact in contacts:
        if contact["OwnerId"] in owner_of:
            by_rep[owner_of[contact["OwnerId"]]].append(contact)
    user_id = {email: uid for uid, email in owner_of.items()}
    expected = Expected()
    for email, held in by_rep.items():
        expected.contacts |= {(email, c["Email"].lower()) for c in held}
    writes: list[Any] = []
    sf_events: list[dict[str, Any]] = []
    for n, email in enumerate(emails):
        folder = f"/users/{email}/contactFolders/{bench.sync_folders[email]}/contacts"
        for contact in by_rep[email][: scale.shared_contacts]:
            if any(contact.get(name) for name in _OUTLOOK_LACKS):
                expected.outlook_enriched += 1
            body = {
                "givenName": contact["FirstName"],
                "surname": contact["LastName"],
                "emailAddresses": [{"address": contact["Email"]}],
            }
            writes.append(bench.graph("POST", folder, body))
        for i in range(scale.outlook_contacts - scale.shared_contacts):
            body = {
                "givenName": "Olivia",
                "surname": f"Outlook{n}x{i}",
                "emailAddresses": [{"address": f"olivia.{n}.{i}@outlook-only.example"}],
            }
            expected.contacts.add((email, f"olivia.{n}.{i}@outlook-only.example"))
            writes.append(bench.graph("POST", folder, body))
        for i in range(scale.salesforce_events):
            start, end = _slot(n, i)
            expected.events.add((email, f"Account review {n}-{i}"))
            if i >= scale.shared_events:
                # LS-31/LS-76: untouched Salesforce events that predate sync stay out of Outlook.
                expected.salesforce_only_events.add((email, f"Account review {n}-{i}"))
            sf_events.append(
                {
                    "attributes": {"type": "Event"},
                    "Subject": f"Account review {n}-{i}",
                    "StartDateTime": start.isoformat(),
                    "EndDateTime": end.isoformat(),
                    "DurationInMinutes": 30,
                    "OwnerId": user_id[email],
                }
            )
            if i < scale.shared_events:
                body = {
                    "subject": f"Account review {n}-{i}",
                    "start": _graph_time(start),
                    "end": _graph_time(end),
                }
                writes.append(bench.graph("POST", f"/users/{email}/events", body))
        for i in range(scale.outlook_events - scale.shared_events):
            start, end = _slot(n, scale.salesforce_events + i)
            expected.events.add((email, f"Outlook meeting {n}-{i}"))
            body = {
                "subject": f"Outlook meeting {n}-{i}",
                "start": _graph_time(start),
                "end": _graph_time(end),
            }
            writes.append(bench.graph("POST", f"/users/{email}/events", body))
    for i in range(0, len(sf_events), 200):
        chunk = sf_events[i : i + 200]
        results = await bench.salesforce(
            "POST", "/composite/sobjects", {"allOrNone": True, "records": chunk}
        )
        failed = [r for r in results if not r.get("success")]
        if failed:
            raise RuntimeError(f"seeding Salesforce events failed: {failed[:2]}")
    # The reps' own seeding is not what is measured: lift the per-mailbox throttle meanwhile.
    limits = await bench.graph_sim("POST", "/config", {})
    await bench.graph_sim(
        "POST", "/config", {"concurrency_limit": 10_000, "budget_per_window": 10**9}
    )
    try:
        await _gather_limited(writes)
    finally:
        keep = ("concurrency_limit", "budget_per_window")
        await bench.graph_sim("POST", "/config", {k: limits[k] for k in keep})
    return expected


@dataclass
class Expected:
    """What both sides must hold once synced: (rep, e-mail) contacts and (rep, subject) events."""

    contacts: set[tuple[str, str]] = field(default_factory=set)
    events: set[tuple[str, str]] = field(default_factory=set)
    salesforce_only_events: set[tuple[str, str]] = field(default_factory=set)
    outlook_enriched: int = 0
    """Matched contacts whose Salesforce copy holds mapped fields the Outlook copy lacks: the
    merge (LS-71) must write each of them into Outlook once."""

    def wanted(self, held_kind: str) -> set[tuple[str, str]]:
        """What `held_kind` (e.g. "outlook_events") must hold once synced."""
        if held_kind.endswith("contacts"):
            return self.contacts
        if held_kind == "outlook_events":
            return self.events - self.salesforce_only_events
        return self.events


async def holdings(bench: Bench) -> dict[str, Counter[tuple[str, str]]]:
    """Per side and kind, how often each (rep, key) is held (from the inspection APIs)."""
    graph = await bench.graph_sim("GET", "/state")
    out: dict[str, Counter[tuple[str, str]]] = {
        k: Counter() for k in ("outlook_contacts", "outlook_events", "sf_contacts", "sf_events")
    }
    for user in graph["users"]:
        upn = user["userPrincipalName"]
        if upn not in bench.reps:
            continue
        folder = bench.sync_folders[upn]
        for c in user["contacts"]:
            if c["parentFolderId"] == folder and c.get("emailAddresses"):
                out["outlook_contacts"][upn, c["emailAddresses"][0]["address"].lower()] += 1
        for e in user["events"]:
            out["outlook_events"][upn, str(e.get("subject"))] += 1
    owner = {uid: email for email, uid in bench.reps.items()}
    state = await bench.salesforce_sim("GET", "/state?object=Contact")
    for row in _live(state["Contact"], owner):
        out["sf_contacts"][owner[row["OwnerId"]], str(row.get("Email") or "").lower()] += 1
    state = await bench.salesforce_sim("GET", "/state?object=Event")
    for row in _live(state["Event"], owner):
        out["sf_events"][owner[row["OwnerId"]], str(row.get("Subject"))] += 1
    return out


def _live(rows: list[dict[str, Any]], owner: dict[str, str]) -> list[dict[str, Any]]:
    return [r for r in rows if not r.get("IsDeleted") and r.get("OwnerId") in owner]


def _missing(held: dict[str, Counter[tuple[str, str]]], expected: Expected) -> dict[str, int]:
    return {kind: len(expected.wanted(kind) - set(c)) for kind, c in held.items()}


async def converge(bench: Bench, expected: Expected, within: float = 420) -> tuple[float, bool]:
    """Seconds until every side holds every expected record (or `within` ran out)."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        if not any(_missing(await holdings(bench), expected).values()):
            return time.monotonic() - started, True
        await asyncio.sleep(1.0)
    return time.monotonic() - started, False


async def duplicates(bench: Bench, expected: Expected) -> dict[str, dict[str, int]]:
    """Per side and kind: copies beyond one of an expected record, expected records missing (both
    should be zero, LS-71), Salesforce events that predate sync pushed to Outlook anyway (zero,
    LS-31), and other records (the weekly series the Salesforce seed gives every rep, one row per
    occurrence in Salesforce)."""
    held = await holdings(bench)
    out: dict[str, dict[str, int]] = {"duplicates": {}, "missing": {}, "other_records": {}}
    for kind, copies in held.items():
        wanted = expected.wanted(kind)
        out["duplicates"][kind] = sum(n - 1 for key, n in copies.items() if key in wanted)
        out["missing"][kind] = len(wanted - set(copies))
        out["other_records"][kind] = sum(
            n
            for key, n in copies.items()
            if key not in wanted and key not in expected.salesforce_only_events
        )
    out["existing_salesforce_events_pushed"] = {
        "outlook_events": len(expected.salesforce_only_events & set(held["outlook_events"]))
    }
    return out


async def graph_page_size(bench: Bench) -> int:
    settings = await bench.graph_sim("POST", "/config", {})
    return int(settings["default_page_size"])


def floors(scale: Scale, page_size: int, expected: Expected) -> dict[str, int]:
    """The issue's floors for this data (polling is added by the caller, from the idle rate)."""
    # Salesforce-only events that predate sync are not written to Outlook (LS-31). A matched
    # contact is a written item too when the merge adds Salesforce's fields to it.
    to_outlook = (
        scale.reps * (scale.salesforce_contacts - scale.shared_contacts) + expected.outlook_enriched
    )
    to_salesforce = scale.reps * (
        (scale.outlook_contacts - scale.shared_contacts)
        + (scale.outlook_events - scale.shared_events)
    )
    # Each mailbox: one delta round over the sync folder and one over the calendar, each
    # ceil(items / page) pages (at least one, the page carrying the deltaLink).
    delta_pages = scale.reps * (
        max(1, math.ceil(scale.outlook_contacts / page_size))
        + max(1, math.ceil(scale.outlook_events / page_size))
    )
    # Reading what Salesforce holds: query pages of 2,000 rows for contacts, events, users.
    sf_reads = (
        math.ceil(scale.reps * scale.salesforce_contacts / 2000)
        + math.ceil(scale.reps * scale.salesforce_events / 2000)
        + 1
    )
    return {
        "records_written_to_outlook": to_outlook,
        "matched_records_enriched_in_outlook": expected.outlook_enriched,
        "records_written_to_salesforce": to_salesforce,
        "graph_delta_pages": delta_pages,
        "graph_floor": to_outlook + delta_pages,
        "salesforce_floor": math.ceil(to_salesforce / 200) + sf_reads,
    }


def call_summary(graph: Counted, sf: Counted) -> dict[str, Any]:
    return {
        "graph_calls": graph.service_calls,
        "salesforce_calls": sf.service_calls,
        "graph_by_endpoint": graph.by_endpoint,
        "salesforce_by_endpoint": sf.by_endpoint,
    }
