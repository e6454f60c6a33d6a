"""Record explain (link, versions, last decision and why) and reset sync (LS-83): async through
the outbox, idempotent while open, progress observable."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
from syncmodel.messages import Control, ControlAction

from tests.integration.status_api.helpers import Tenant, seed_error, seed_link, seed_user


async def test_explain_a_record_from_either_side(
    client: httpx.AsyncClient, db: asyncpg.Pool[Any], tenant: Tenant
) -> None:
    await seed_user(db, tenant.id, "005Ann")
    link_id = await seed_link(
        db, tenant.id, "005Ann", exchange_id="AAMkEvt1=", salesforce_id="00U000000000001AAA"
    )
    await seed_error(
        db, tenant.id, "005Ann", kind="event", link_id=link_id, exchange_id="AAMkEvt1="
    )
    base = f"/v1/tenants/{tenant.id}/users/005Ann/records"
    by_exchange = await client.get(f"{base}/exchange/AAMkEvt1=", headers=tenant.read)
    assert by_exchange.status_code == 200, by_exchange.text
    body = by_exchange.json()
    assert body["link_id"] == link_id
    assert body["salesforce_id"] == "00U000000000001AAA"
    assert body["last_decision"] == "private_not_synced"
    assert body["last_decision_text"]
    assert body["exchange_version"] == "CQAAABYAAAA"
    assert body["exchange_snapshot"]["sensitivity"] == "private"
    assert body["decision"] == "private_not_synced"
    assert "private" in body["last_decision_text"]
    assert [e["link_id"] for e in body["errors"]] == [link_id]

    by_salesforce = await client.get(
        f"{base}/salesforce/00U000000000001AAA", params={"object": "event"}, headers=tenant.read
    )
    assert by_salesforce.json()["link_id"] == link_id
    wrong_kind = await client.get(
        f"{base}/salesforce/00U000000000001AAA", params={"object": "contact"}, headers=tenant.read
    )
    assert wrong_kind.status_code == 404
    other_user = await client.get(
        f"/v1/tenants/{tenant.id}/users/005Bob/records/exchange/AAMkEvt1=", headers=tenant.read
    )
    assert other_user.status_code == 404


async def test_reset_is_async_idempotent_and_observable(
    client: httpx.AsyncClient, db: asyncpg.Pool[Any], tenant: Tenant
) -> None:
    await seed_user(db, tenant.id, "005Ann")
    url = f"/v1/tenants/{tenant.id}/users/005Ann/resets"
    first = await client.post(url, json={"object": "contact"}, headers=tenant.admin)
    assert first.status_code == 202
    assert first.json()["state"] == "queued"
    again = await client.post(url, json={"object": "contact"}, headers=tenant.admin)
    assert again.status_code == 200
    assert again.json()["request_id"] == first.json()["request_id"]
    events = await client.post(url, json={"object": "event"}, headers=tenant.admin)
    assert events.status_code == 202  # another object is another reset

    outbox = await db.fetch(
        "SELECT message_id, topic, key, payload FROM outbox WHERE key = $1"
        " AND payload->>'action' = 'reset_sync' ORDER BY id",
        tenant.id,
    )
    assert len(outbox) == 2  # the repeated request queued nothing
    message = Control.model_validate(outbox[0]["payload"])
    assert outbox[0]["topic"] == "syncline.control"
    assert message.action is ControlAction.RESET_SYNC
    assert (message.tenant, message.user, message.kind) == (tenant.id, "005Ann", "contact")

    # The relay publishes it ...
    await db.execute("UPDATE outbox SET sent_at = now() WHERE message_id = $1", message.id)
    request = f"{url}/{first.json()['request_id']}"
    assert (await client.get(request, headers=tenant.read)).json()["state"] == "dispatched"
    # (and once the relay prunes it after the retention, it still was)
    await db.execute("DELETE FROM outbox WHERE message_id = $1", message.id)
    assert (await client.get(request, headers=tenant.read)).json()["state"] == "dispatched"
    # ... the reconciler reports progress ...
    await db.execute(
        "UPDATE reset_requests SET state = 'in_progress', progress = $2 WHERE request_id = $1",
        first.json()["request_id"],
        {"links_cleared": 40, "records_rematched": 12, "total": 40},
    )
    progressing = (await client.get(request, headers=tenant.read)).json()
    assert progressing["state"] == "in_progress"
    assert progressing["progress"]["records_rematched"] == 12
    user = (await client.get(f"/v1/tenants/{tenant.id}/users/005Ann", headers=tenant.read)).json()
    assert "ST-22" in [r["status_id"] for r in user["rows"]]
    # ... and both connectors finish re-reading the user: the reset is complete.
    for side in ("exchange", "salesforce"):
        await db.execute(
            "INSERT INTO sync_barriers (tenant_id, user_id, side) VALUES ($1, '005Ann', $2)",
            tenant.id,
            side,
        )
        halfway = (await client.get(request, headers=tenant.read)).json()
        assert side in halfway["progress"]["resnapshotted"]
    assert halfway["state"] == "completed"
    # A new request then starts a new reset.
    fresh = await client.post(url, json={"object": "contact"}, headers=tenant.admin)
    assert fresh.status_code == 202
    assert fresh.json()["request_id"] != first.json()["request_id"]
    history = (await client.get(url, headers=tenant.read)).json()
    assert len(history) == 3

    unknown = await client.post(
        f"/v1/tenants/{tenant.id}/users/005Ghost/resets",
        json={"object": "contact"},
        headers=tenant.admin,
    )
    assert unknown.status_code == 404
    bad = await client.post(url, json={"object": "lead"}, headers=tenant.admin)
    assert bad.status_code == 422
