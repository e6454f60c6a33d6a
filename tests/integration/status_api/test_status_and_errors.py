"""Users with per-object status (filters, paging), the user status page (ST-20..41), the
system status (ST-1..15), and the error report as JSON and CSV (LS-82)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import asyncpg
import httpx

from tests.integration.status_api.helpers import Tenant, seed_error, seed_status, seed_user

NOW = dt.datetime.now(dt.UTC)
TODAY = NOW.date().isoformat()


async def _rollout(client: httpx.AsyncClient, db: asyncpg.Pool[Any], tenant: Tenant) -> None:
    """Three reps: one syncing, one duplicate email (ST-31), one not assigned."""
    await seed_user(db, tenant.id, "005Ann", email="ann@acme.example")
    await seed_user(
        db,
        tenant.id,
        "005Bob",
        email="dup@acme.example",
        link_state="duplicate_email",
        link_reason="005Dup also uses dup@acme.example",
    )
    await seed_user(db, tenant.id, "005Cid", profile_id="00eOther", link_state="not_linked")
    r = await client.post(
        f"/v1/tenants/{tenant.id}/configurations",
        json={"name": "Sales", "active": True, "settings": {"events": "exchange_to_salesforce"}},
        headers=tenant.admin,
    )
    await client.put(
        f"/v1/tenants/{tenant.id}/configurations/{r.json()['id']}/assignments/profile/00eSales",
        headers=tenant.admin,
    )
    fresh = (NOW - dt.timedelta(minutes=3)).isoformat()
    await seed_status(
        db,
        tenant.id,
        "005Ann",
        "exchange",
        "connection",
        "connected",
        last_capture={"contact": fresh, "event": fresh},
    )
    await seed_status(
        db,
        tenant.id,
        "",
        "salesforce",
        "connection",
        "initial_sync_in_progress",
        last_capture={"contact": (NOW - dt.timedelta(hours=3)).isoformat()},
    )
    await seed_status(
        db,
        tenant.id,
        "005Ann",
        "reconciler",
        "contact",
        "in_sync",
        last_capture={"exchange_to_salesforce": fresh},
        counters={"day": TODAY, "exchange_to_salesforce": 7},
    )


async def test_users_list_with_per_object_status_filters_and_paging(
    client: httpx.AsyncClient, db: asyncpg.Pool[Any], tenant: Tenant
) -> None:
    await _rollout(client, db, tenant)
    url = f"/v1/tenants/{tenant.id}/users"
    page = (await client.get(url, headers=tenant.read)).json()
    by_id = {u["user_id"]: u for u in page["items"]}
    assert set(by_id) == {"005Ann", "005Bob", "005Cid"}
    ann = {(o["object"], o["direction"]): o for o in by_id["005Ann"]["objects"]}
    assert ann[("contact", "exchange_to_salesforce")]["state"] == "in_sync"
    assert ann[("contact", "exchange_to_salesforce")]["status_id"] == "ST-39"
    assert ann[("contact", "exchange_to_salesforce")]["synced_today"] == 7
    assert ann[("contact", "salesforce_to_exchange")]["state"] == "initial_sync_in_progress"
    assert ann[("event", "salesforce_to_exchange")]["state"] == "not_syncing"  # one-way events
    assert ann[("event", "salesforce_to_exchange")]["status_id"] == "ST-38"
    assert by_id["005Bob"]["link_status_id"] == "ST-31"
    assert by_id["005Bob"]["link_detail"] == "005Dup also uses dup@acme.example"
    assert by_id["005Cid"]["assigned"] is False

    dup = await client.get(url, params={"link_state": "duplicate_email"}, headers=tenant.read)
    assert [u["user_id"] for u in dup.json()["items"]] == ["005Bob"]
    unassigned = await client.get(url, params={"assigned": "false"}, headers=tenant.read)
    assert [u["user_id"] for u in unassigned.json()["items"]] == ["005Cid"]
    found = await client.get(url, params={"q": "ANN@"}, headers=tenant.read)
    assert [u["user_id"] for u in found.json()["items"]] == ["005Ann"]

    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        chunk = (await client.get(url, params=params, headers=tenant.read)).json()
        seen += [u["user_id"] for u in chunk["items"]]
        cursor = chunk["next_cursor"]
        if cursor is None:
            break
    assert seen == ["005Ann", "005Bob", "005Cid"]


async def test_user_status_page_rows(
    client: httpx.AsyncClient, db: asyncpg.Pool[Any], tenant: Tenant
) -> None:
    await _rollout(client, db, tenant)
    ann = (await client.get(f"/v1/tenants/{tenant.id}/users/005Ann", headers=tenant.read)).json()
    ids = [row["status_id"] for row in ann["rows"]]
    assert ids[:2] == ["ST-20", "ST-30"]
    assert "ST-41" in ids
    cid = (await client.get(f"/v1/tenants/{tenant.id}/users/005Cid", headers=tenant.read)).json()
    assert cid["rows"][0]["status_id"] == "ST-21"
    assert cid["rows"][0]["fix"].startswith("Assign the user")
    missing = await client.get(f"/v1/tenants/{tenant.id}/users/005Nobody", headers=tenant.read)
    assert missing.status_code == 404


async def test_system_status_rows(
    client: httpx.AsyncClient, db: asyncpg.Pool[Any], tenant: Tenant
) -> None:
    empty = (await client.get(f"/v1/tenants/{tenant.id}/status", headers=tenant.read)).json()
    empty_rows = {r["status_id"]: r for r in empty["rows"]}
    assert empty_rows["ST-3"]["health"] == "error"  # never synced contacts
    assert empty_rows["ST-11"]["value"] == "No"
    assert empty_rows["ST-12"]["value"] == "No"

    await _rollout(client, db, tenant)
    await client.put(
        f"/v1/tenants/{tenant.id}/connections/exchange_ews",
        json={"kind": "exchange_ews", "username": "svc@acme.example", "password": "pw"},
        headers=tenant.admin,
    )
    await seed_status(
        db,
        tenant.id,
        "005Bob",
        "exchange",
        "connection",
        "throttled",
        next_attempt_at=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5),
    )
    await seed_error(db, tenant.id, "005Ann")
    status = (await client.get(f"/v1/tenants/{tenant.id}/status", headers=tenant.read)).json()
    rows = {r["status_id"]: r for r in status["rows"]}
    assert rows["ST-1"]["health"] == "ok"  # contacts 3 minutes ago
    assert rows["ST-4"]["health"] == "ok"
    assert rows["ST-10"]["value"] == "svc@acme.example"
    assert rows["ST-12"]["value"] == "exchange_ews"
    assert rows["ST-14"]["value"] == 1
    assert rows["ST-15"]["value"] == 2  # Ann and Bob through the profile
    assert rows["SL-THROTTLING"]["value"] == "exchange"
    bob = (await client.get(f"/v1/tenants/{tenant.id}/users/005Bob", headers=tenant.read)).json()
    throttled = [o for o in bob["user"]["objects"] if o["direction"] == "exchange_to_salesforce"]
    assert all(o["next_attempt"] is not None for o in throttled)
    assert rows["SL-OPEN-ERRORS"]["value"] == 1
    assert all(r["meaning"] for r in status["rows"])


async def test_error_report_filters_json_and_csv(
    client: httpx.AsyncClient, db: asyncpg.Pool[Any], tenant: Tenant
) -> None:
    old = NOW - dt.timedelta(days=20)
    await seed_error(db, tenant.id, "005Ann", exchange_id="AAMk1", code="REQUIRED_FIELD_MISSING")
    await seed_error(
        db,
        tenant.id,
        "005Ann",
        kind="event",
        direction="salesforce_to_exchange",
        code="ErrorAccessDenied",
        reason="Access to OData is disabled.",
        salesforce_id="00U1",
    )
    await seed_error(
        db, tenant.id, "005Bob", last_seen=old, code='=HYPERLINK("x")', reason="-2+3 formula"
    )
    url = f"/v1/tenants/{tenant.id}/errors"

    everything = (await client.get(url, headers=tenant.read)).json()["items"]
    assert len(everything) == 3
    by_code = {e["code"]: e for e in everything}
    assert by_code["REQUIRED_FIELD_MISSING"]["category"] == "validation_failed"
    assert by_code["ErrorAccessDenied"]["category"] == "access_denied"
    assert "application access policy" in by_code["ErrorAccessDenied"]["remediation"]

    async def codes(**params: str) -> list[str]:
        r = await client.get(url, params=params, headers=tenant.read)
        assert r.status_code == 200, r.text
        return sorted(e["code"] for e in r.json()["items"])

    assert await codes(user_id="005Bob") == ['=HYPERLINK("x")']
    assert await codes(object="event") == ["ErrorAccessDenied"]
    assert await codes(direction="exchange_to_salesforce", user_id="005Ann") == [
        "REQUIRED_FIELD_MISSING"
    ]
    assert len(await codes(since=(NOW - dt.timedelta(days=1)).isoformat())) == 2
    assert await codes(until=(NOW - dt.timedelta(days=1)).isoformat()) == ['=HYPERLINK("x")']
    naive = await client.get(url, params={"since": "2026-01-01T00:00:00"}, headers=tenant.read)
    assert naive.status_code == 422

    first = (await client.get(url, params={"limit": 2}, headers=tenant.read)).json()
    rest = await client.get(
        url, params={"limit": 2, "before_id": first["next_before_id"]}, headers=tenant.read
    )
    assert len(first["items"]) + len(rest.json()["items"]) == 3

    exported = await client.get(url, headers=tenant.read | {"Accept": "text/csv"})
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(rows) == 3
    assert {
        "user_id",
        "object",
        "direction",
        "exchange_id",
        "salesforce_id",
        "code",
        "reason",
        "remediation",
        "first_seen",
        "last_seen",
        "attempts",
    } <= set(rows[0])
    injected = next(r for r in rows if r["user_id"] == "005Bob")
    assert injected["code"] == '\'=HYPERLINK("x")'  # neutralized for spreadsheets
    assert injected["reason"] == "'-2+3 formula"
