"""sObject Collections, Composite, getUpdated / getDeleted.

Docs: REST API Developer Guide "sObject Collections" (create, update, upsert, delete),
"Composite", "sObject Get Updated", "sObject Get Deleted" (protocols.md C6-C8).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote

from tests.contract.salesforce_sim.conftest import Org


def test_collection_create_per_record_results_in_order(org: Org) -> None:
    """Collections create: 200 with per-record results; errors use statusCode (allOrNone=false)."""
    records = [{"attributes": {"type": "Contact"}, "LastName": f"Bulk {i}"} for i in range(199)]
    records.insert(5, {"attributes": {"type": "Contact"}, "LastName": "y" * 81})
    r = org.post("/composite/sobjects", {"allOrNone": False, "records": records})
    assert r.status_code == 200
    results = r.json()
    assert len(results) == 200
    assert results[5] == {
        "success": False,
        "errors": [
            {
                "statusCode": "STRING_TOO_LONG",
                "message": results[5]["errors"][0]["message"],
                "fields": ["LastName"],
            }
        ],
    }
    assert all(x["success"] and x["id"].startswith("003") for i, x in enumerate(results) if i != 5)
    total = org.query("SELECT COUNT() FROM Contact WHERE LastName LIKE 'Bulk %'").json()[
        "totalSize"
    ]
    assert total == 199


def test_collection_all_or_none_rolls_back(org: Org) -> None:
    """Collections with allOrNone=true: one failure rolls back all; others get
    ALL_OR_NONE_OPERATION_ROLLED_BACK."""
    records = [
        {"attributes": {"type": "Contact"}, "LastName": "Atomic"},
        {"attributes": {"type": "Contact"}, "FirstName": "missing last name"},
    ]
    results = org.post("/composite/sobjects", {"allOrNone": True, "records": records}).json()
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert results[1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert (
        org.query("SELECT COUNT() FROM Contact WHERE LastName = 'Atomic'").json()["totalSize"] == 0
    )


def test_collection_limit_update_and_delete(org: Org) -> None:
    """Collections: > 200 records → 400 EXCEEDED_ID_LIMIT; PATCH update; DELETE ?ids=."""
    too_many = [{"attributes": {"type": "Contact"}, "LastName": "x"}] * 201
    r = org.post("/composite/sobjects", {"records": too_many})
    assert r.status_code == 400
    assert r.json()[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    ids = [x["id"] for x in org.post("/composite/sobjects", {"records": too_many[:3]}).json()]
    updates = [{"attributes": {"type": "Contact"}, "id": i, "Title": "Updated"} for i in ids]
    updates.append({"attributes": {"type": "Contact"}, "id": "003000000000000", "Title": "x"})
    upd = org.patch("/composite/sobjects", {"allOrNone": False, "records": updates}).json()
    assert [u["success"] for u in upd] == [True, True, True, False]
    deleted = org.delete("/composite/sobjects", params={"ids": ",".join(ids), "allOrNone": "false"})
    assert [d["id"] for d in deleted.json()] == ids
    assert all(d["success"] for d in deleted.json())


def test_collection_upsert_reports_created(org: Org) -> None:
    """Collections upsert: PATCH /composite/sobjects/{SObject}/{ExternalIdField}, `created`."""
    records = [
        {"attributes": {"type": "Contact"}, "Syncline_Id__c": f"k{i}", "LastName": "U"}
        for i in range(2)
    ]
    first = org.patch(
        "/composite/sobjects/Contact/Syncline_Id__c", {"allOrNone": False, "records": records}
    ).json()
    second = org.patch(
        "/composite/sobjects/Contact/Syncline_Id__c", {"allOrNone": False, "records": records}
    ).json()
    assert [r["created"] for r in first] == [True, True]
    assert [r["created"] for r in second] == [False, False]
    assert [r["id"] for r in first] == [r["id"] for r in second]


def test_composite_references_and_all_or_none(org: Org) -> None:
    """Composite: ≤ 25 subrequests, @{ref.id} references, allOrNone → PROCESSING_HALTED."""
    contact = org.query("SELECT Id FROM Contact LIMIT 1").json()["records"][0]["Id"]
    body: dict[str, Any] = {
        "allOrNone": True,
        "compositeRequest": [
            {
                "method": "POST",
                "url": "/services/data/v62.0/sobjects/Event",
                "referenceId": "ev",
                "body": {
                    "Subject": "Composite",
                    "StartDateTime": "2026-04-01T09:00:00Z",
                    "DurationInMinutes": 30,
                },
            },
            {
                "method": "POST",
                "url": "/services/data/v62.0/sobjects/EventRelation",
                "referenceId": "rel",
                "body": {"EventId": "@{ev.id}", "RelationId": contact, "IsInvitee": True},
            },
        ],
    }
    out = org.post("/composite", body).json()["compositeResponse"]
    assert [x["httpStatusCode"] for x in out] == [201, 201]
    rel = org.get(f"/sobjects/EventRelation/{out[1]['body']['id']}").json()
    assert rel["EventId"] == out[0]["body"]["id"]
    body["compositeRequest"][1]["body"]["RelationId"] = "junk"
    failed = org.post("/composite", body).json()["compositeResponse"]
    assert failed[0]["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert failed[1]["body"][0]["errorCode"] == "MALFORMED_ID"
    assert (
        org.query("SELECT COUNT() FROM Event WHERE Subject = 'Composite'").json()["totalSize"] == 1
    )
    # One EventRelation per event and person (protocols.md C13): a second is DUPLICATE_VALUE.
    again = org.post(
        "/sobjects/EventRelation", {"EventId": out[0]["body"]["id"], "RelationId": contact}
    )
    assert again.status_code == 400
    assert again.json()[0]["errorCode"] == "DUPLICATE_VALUE"
    too_many = {"compositeRequest": [body["compositeRequest"][0]] * 26}
    assert org.post("/composite", too_many).status_code == 400


def _window(minutes_back: int = 10, minutes_ahead: int = 5) -> dict[str, str]:
    now = dt.datetime.now(dt.UTC)
    return {
        "start": (now - dt.timedelta(minutes=minutes_back)).isoformat(),
        "end": (now + dt.timedelta(minutes=minutes_ahead)).isoformat(),
    }


def test_get_updated_and_get_deleted(org: Org) -> None:
    """getUpdated: {ids, latestDateCovered}; getDeleted: {deletedRecords, earliestDateAvailable,
    latestDateCovered}; seconds dropped; start < end; out of range: INVALID_REPLICATION_DATE."""
    org.http.post("/_sim/settings", json={"clock_offset_s": -120})  # changes 2 minutes ago
    org.reseed(seed=7, reps=2)
    cid = org.post("/sobjects/Contact", {"LastName": "Gone"}).json()["id"]
    org.delete(f"/sobjects/Contact/{cid}")
    org.http.post("/_sim/settings", json={"clock_offset_s": 0})
    window = _window()
    deleted = org.get("/sobjects/Contact/deleted/", params=window).json()
    assert {"id": cid, "deletedDate": deleted["deletedRecords"][0]["deletedDate"]} in deleted[
        "deletedRecords"
    ]
    assert deleted["latestDateCovered"].endswith(":00.000+0000")
    updated = org.get("/sobjects/Contact/updated/", params=window).json()
    assert len(updated["ids"]) == 20
    assert cid not in updated["ids"]
    backwards = org.get(
        "/sobjects/Contact/updated/", params={"start": window["end"], "end": window["start"]}
    )
    assert backwards.json()[0]["errorCode"] == "INVALID_REPLICATION_DATE"
    too_old = org.get("/sobjects/Contact/updated/", params=_window(minutes_back=31 * 24 * 60))
    assert too_old.json()[0]["errorCode"] == "INVALID_REPLICATION_DATE"


def test_purged_delete_log_moves_earliest_date_available(org: Org) -> None:
    """getDeleted: earliestDateAvailable later than your last poll means deletes were missed."""
    org.http.post("/_sim/purge-delete-log")
    body = org.get("/sobjects/Contact/deleted/", params=_window()).json()
    earliest = dt.datetime.strptime(body["earliestDateAvailable"], "%Y-%m-%dT%H:%M:%S.%f%z")
    assert earliest > dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    assert quote("+") == "%2B"  # the client must URL-encode offsets; httpx does
