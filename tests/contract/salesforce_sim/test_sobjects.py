"""sObject rows: create/read/update/delete, ids, validation, conditional update, upsert, describe.

Docs: REST API Developer Guide "sObject Rows", "sObject Describe", "Insert or Update (Upsert) a
Record Using an External ID", "Conditional Requests" (If-Unmodified-Since → 412), "Status Codes
and Error Responses"; Object Reference "Event", "Contact" (protocols.md C3, C5, C13).
"""

from __future__ import annotations

import datetime as dt
from email.utils import format_datetime, parsedate_to_datetime

from tests.contract.salesforce_sim.conftest import Org


def _contact(org: Org, **fields: object) -> str:
    r = org.post("/sobjects/Contact", {"LastName": "Lopez", **fields})
    assert r.status_code == 201, r.text
    assert r.json()["success"] is True
    assert r.json()["errors"] == []
    assert r.headers["location"].endswith(r.json()["id"])
    return str(r.json()["id"])


def test_create_read_update_delete_contact(org: Org) -> None:
    """sObject Rows: POST 201 {id,success,errors}; GET; PATCH 204; DELETE 204; again 404."""
    cid = _contact(org, FirstName="Ana", Email="ana@example.com")
    assert len(cid) == 18
    assert cid.startswith("003")
    got = org.get(f"/sobjects/Contact/{cid}").json()
    assert got["Name"] == "Ana Lopez"
    assert got["OwnerId"] == org.seeded["integration_user_id"]
    assert got["SystemModstamp"].endswith(".000+0000")
    assert org.patch(f"/sobjects/Contact/{cid}", {"Title": "CFO"}).status_code == 204
    assert org.get(f"/sobjects/Contact/{cid}", params={"fields": "Title"}).json()["Title"] == "CFO"
    assert org.delete(f"/sobjects/Contact/{cid}").status_code == 204
    again = org.delete(f"/sobjects/Contact/{cid}")
    assert again.status_code == 404
    assert again.json()[0]["errorCode"] == "ENTITY_IS_DELETED"


def test_ids_15_and_18_case_insensitive_and_malformed(org: Org) -> None:
    """Ids: 15-char case-sensitive and 18-char case-safe forms; junk → MALFORMED_ID."""
    cid = _contact(org)
    assert org.get(f"/sobjects/Contact/{cid[:15]}").json()["Id"] == cid
    assert org.get(f"/sobjects/Contact/{cid.lower()}").json()["Id"] == cid
    bad = org.get("/sobjects/Contact/003xyz")
    assert bad.status_code == 400
    assert bad.json()[0]["errorCode"] == "MALFORMED_ID"
    wrong_type = org.get(f"/sobjects/Lead/{cid}")
    assert wrong_type.status_code == 400


def test_validation_errors_use_platform_codes(org: Org) -> None:
    """Errors: STRING_TOO_LONG, REQUIRED_FIELD_MISSING, INVALID_FIELD, MALFORMED_ID,
    INVALID_CROSS_REFERENCE_KEY, each as [{"message","errorCode","fields"}]."""
    too_long = org.post("/sobjects/Contact", {"LastName": "x" * 81})
    assert too_long.status_code == 400
    assert too_long.json()[0]["errorCode"] == "STRING_TOO_LONG"
    assert too_long.json()[0]["fields"] == ["LastName"]
    missing = org.post("/sobjects/Contact", {"FirstName": "No"}).json()[0]
    assert missing == {
        "message": "Required fields are missing: [LastName]",
        "errorCode": "REQUIRED_FIELD_MISSING",
        "fields": ["LastName"],
    }
    unknown = org.post("/sobjects/Contact", {"LastName": "a", "Foo__c": 1}).json()[0]
    assert unknown["errorCode"] == "INVALID_FIELD"
    bad_ref = org.post("/sobjects/Contact", {"LastName": "a", "AccountId": "junk"}).json()[0]
    assert bad_ref["errorCode"] == "MALFORMED_ID"
    assert bad_ref["fields"] == ["AccountId"]
    gone = _contact(org)
    org.delete(f"/sobjects/Contact/{gone}")
    dangling = org.post(
        "/sobjects/Event",
        {
            "Subject": "x",
            "WhoId": gone,
            "StartDateTime": "2026-01-05T10:00:00Z",
            "DurationInMinutes": 30,
        },
    )
    assert dangling.json()[0]["errorCode"] == "INVALID_CROSS_REFERENCE_KEY"
    event_without_end = org.post(
        "/sobjects/Event", {"Subject": "x", "StartDateTime": "2026-01-05T10:00:00Z"}
    )
    assert event_without_end.json()[0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    read_only = org.post("/sobjects/Contact", {"LastName": "a", "Name": "b"}).json()[0]
    assert read_only["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"


def test_event_fields_are_derived_like_the_platform(org: Org) -> None:
    """Object Reference "Event": ActivityDateTime mirrors start, DurationInMinutes from the end;
    all-day events are date spans (ActivityDate, DurationInMinutes = days * 1440)."""
    r = org.post(
        "/sobjects/Event",
        {
            "Subject": "Demo",
            "StartDateTime": "2026-03-02T15:00:00-05:00",
            "EndDateTime": "2026-03-02T16:30:00-05:00",
            "IsPrivate": True,
            "ShowAs": "Free",
        },
    )
    ev = org.get(f"/sobjects/Event/{r.json()['id']}").json()
    assert ev["StartDateTime"] == "2026-03-02T20:00:00.000+0000"
    assert ev["ActivityDateTime"] == ev["StartDateTime"]
    assert ev["DurationInMinutes"] == 90
    assert ev["ActivityDate"] == "2026-03-02"
    assert ev["IsPrivate"] is True
    day = org.post(
        "/sobjects/Event",
        {
            "Subject": "Offsite",
            "IsAllDayEvent": True,
            "ActivityDate": "2026-03-10",
            "DurationInMinutes": 2880,
        },
    )
    allday = org.get(f"/sobjects/Event/{day.json()['id']}").json()
    assert allday["EndDate"] == "2026-03-11"
    assert allday["ActivityDateTime"] is None
    too_long = org.post(
        "/sobjects/Event",
        {
            "Subject": "x",
            "StartDateTime": "2026-01-01T00:00:00Z",
            "EndDateTime": "2026-01-20T00:00:00Z",
        },
    )
    assert too_long.status_code == 400


def test_if_unmodified_since_gives_412_when_changed_later(org: Org) -> None:
    """Conditional Requests: If-Unmodified-Since older than LastModifiedDate → 412."""
    cid = _contact(org)
    stamp = parsedate_to_datetime(format_datetime(dt.datetime.now(dt.UTC), usegmt=True))
    before = format_datetime(stamp - dt.timedelta(hours=1), usegmt=True)
    later = format_datetime(stamp + dt.timedelta(hours=1), usegmt=True)
    refused = org.patch(
        f"/sobjects/Contact/{cid}", {"Title": "x"}, headers={"If-Unmodified-Since": before}
    )
    assert refused.status_code == 412
    assert refused.json()[0]["errorCode"] == "PRECONDITION_FAILED"
    ok = org.patch(
        f"/sobjects/Contact/{cid}", {"Title": "y"}, headers={"If-Unmodified-Since": later}
    )
    assert ok.status_code == 204


def test_upsert_by_external_id_creates_then_updates(org: Org) -> None:
    """Upsert: 201 {"created":true} then 200 {"created":false} (v46+); 300 on several matches;
    404 for a field that is not an external id."""
    path = "/sobjects/Contact/Syncline_Id__c/link-1"
    created = org.patch(path, {"LastName": "Kim"})
    assert created.status_code == 201
    assert created.json()["created"] is True
    updated = org.patch(path, {"Title": "CEO"})
    assert updated.status_code == 200
    assert updated.json() == {
        "id": created.json()["id"],
        "success": True,
        "errors": [],
        "created": False,
    }
    assert org.get(path).json()["Title"] == "CEO"
    duplicate = org.post("/sobjects/Contact", {"LastName": "Dup", "Syncline_Id__c": "link-1"})
    assert duplicate.json()[0]["errorCode"] == "DUPLICATE_VALUE"
    assert org.patch("/sobjects/Contact/Email/x@y.z", {"LastName": "a"}).status_code == 404
    old_version = org.http.patch(
        "/services/data/v45.0" + path, json={"Title": "x"}, headers=org.auth
    )
    assert old_version.status_code == 204


def test_describe_reports_lengths_and_external_ids(org: Org) -> None:
    """sObject Describe: fields with length, nillable, createable, externalId."""
    fields = {f["name"]: f for f in org.get("/sobjects/Contact/describe").json()["fields"]}
    assert fields["LastName"]["length"] == 80
    assert fields["LastName"]["nillable"] is False
    assert fields["Email"]["length"] == 80
    assert fields["MailingPostalCode"]["length"] == 20
    assert fields["Syncline_Id__c"]["externalId"] is True
    event = {f["name"]: f for f in org.get("/sobjects/Event/describe").json()["fields"]}
    assert {"IsRecurrence2", "Recurrence2PatternText", "ShowAs", "WhoId"} <= event.keys()


def test_inserting_a_lightning_pattern_creates_the_series_record(org: Org) -> None:
    """Object Reference "Event" (Recurrence2): an insert carrying a pattern is the series
    record, as in the seeded series; a plain insert is not."""
    r = org.post(
        "/sobjects/Event",
        {
            "Subject": "Weekly",
            "StartDateTime": "2026-03-03T15:00:00Z",
            "EndDateTime": "2026-03-03T16:00:00Z",
            "IsRecurrence2": True,
            "Recurrence2PatternText": "RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=3",
            "Recurrence2PatternStartDate": "2026-03-03T15:00:00Z",
            "Recurrence2PatternTimeZone": "UTC",
        },
    )
    assert r.status_code == 201, r.text
    series = org.get(f"/sobjects/Event/{r.json()['id']}").json()
    assert series["IsRecurrence2Series"] is True
    assert series["GroupEventType"] == "3"
    single = org.post(
        "/sobjects/Event",
        {"Subject": "Once", "StartDateTime": "2026-03-03T15:00:00Z", "DurationInMinutes": 30},
    )
    plain = org.get(f"/sobjects/Event/{single.json()['id']}").json()
    assert plain["IsRecurrence2Series"] is False
