"""SOQL over REST: parser edge cases, relationship fields, paging, queryAll.

Docs: REST API Developer Guide "Query", "Query More Results", "QueryAll"; SOQL and SOSL
Reference "SOQL SELECT Syntax", "Condition Expression Syntax (WHERE Clause)", "Date Formats and
Date Literals", "ORDER BY", "LIMIT", "OFFSET" (protocols.md C4).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.contract.salesforce_sim.conftest import Org


def _records(org: Org, soql: str) -> list[dict[str, Any]]:
    r = org.query(soql)
    assert r.status_code == 200, r.text
    records: list[dict[str, Any]] = r.json()["records"]
    return records


def test_select_with_relationship_fields_and_attributes(org: Org) -> None:
    """SOQL "Relationship Queries": child-to-parent dot notation renders nested objects."""
    rows = _records(org, "SELECT Id, LastName, Owner.Email, Account.Name FROM Contact LIMIT 2")
    row = rows[0]
    assert row["attributes"]["type"] == "Contact"
    assert row["attributes"]["url"] == f"/services/data/v62.0/sobjects/Contact/{row['Id']}"
    assert row["Owner"]["attributes"]["type"] == "User"
    assert row["Owner"]["Email"] in {r["email"] for r in org.seeded["reps"]}
    assert set(row) == {"attributes", "Id", "LastName", "Owner", "Account"}


def test_where_and_or_not_parentheses_in_like_null(org: Org) -> None:
    """WHERE clause: AND/OR/NOT with parentheses, IN, LIKE (case-insensitive), NULL."""
    rep = org.seeded["reps"][0]["id"]
    mine = _records(org, f"SELECT Id, Email FROM Contact WHERE OwnerId = '{rep}'")
    assert len(mine) == 10
    by_15 = _records(org, f"SELECT Id FROM Contact WHERE OwnerId = '{rep[:15]}'")
    assert len(by_15) == 10  # 15-character ids match too
    ids = [r["Id"] for r in mine[:3]]
    quoted = ",".join(f"'{i}'" for i in ids)
    assert len(_records(org, f"SELECT Id FROM Contact WHERE Id IN ({quoted})")) == 3
    assert (
        len(
            _records(
                org, f"SELECT Id FROM Contact WHERE OwnerId = '{rep}' AND Id NOT IN ({quoted})"
            )
        )
        == 7
    )
    like = _records(org, "SELECT Id, Subject FROM Event WHERE Subject LIKE 'weekly%'")
    assert like
    assert all(r["Subject"].startswith("Weekly") for r in like)
    nested = _records(
        org,
        f"SELECT Id FROM Event WHERE OwnerId = '{rep}' "
        "AND (IsPrivate = true OR NOT Subject LIKE '%a%')",
    )
    events = org.http.get("/_sim/state", params={"object": "Event"}).json()["Event"]
    expected = {
        e["Id"]
        for e in events
        if not e["IsDeleted"]
        and e["OwnerId"] == rep
        and (e["IsPrivate"] or "a" not in (e["Subject"] or "").lower())
    }
    assert expected
    assert {r["Id"] for r in nested} == expected
    nulls = _records(org, "SELECT Id FROM Event WHERE WhoId = null")
    not_nulls = _records(org, "SELECT Id FROM Event WHERE WhoId != null")
    total = org.query("SELECT COUNT() FROM Event").json()["totalSize"]
    assert len(nulls) + len(not_nulls) == total


def test_datetime_literals_and_date_functions(org: Org) -> None:
    """Date Formats and Date Literals: unquoted ISO datetimes, TODAY, LAST_N_DAYS:n."""
    all_rows = _records(org, "SELECT Id FROM Contact WHERE SystemModstamp > 2000-01-01T00:00:00Z")
    assert len(all_rows) == 20
    assert (
        _records(org, "SELECT Id FROM Contact WHERE SystemModstamp > 2999-01-01T00:00:00+01:00")
        == []
    )
    assert len(_records(org, "SELECT Id FROM Contact WHERE CreatedDate = TODAY")) == 20
    assert len(_records(org, "SELECT Id FROM Contact WHERE CreatedDate = LAST_N_DAYS:3")) == 20
    assert _records(org, "SELECT Id FROM Contact WHERE CreatedDate < YESTERDAY") == []


@pytest.mark.parametrize(
    ("soql", "code"),
    [
        ("SELECT FROM Contact", "MALFORMED_QUERY"),
        ("SELECT Id Contact", "MALFORMED_QUERY"),
        ("SELECT Id FROM Contact WHERE", "MALFORMED_QUERY"),
        (
            "SELECT Id FROM Contact WHERE LastName = 'a' AND Email = 'b' OR Title = 'c'",
            "MALFORMED_QUERY",
        ),
        ("SELECT Id FROM Contact WHERE SystemModstamp > '2020-01-01T00:00:00Z'", "MALFORMED_QUERY"),
        ("SELECT Id FROM Contact WHERE LastName = 'unterminated", "MALFORMED_QUERY"),
        ("SELECT Id FROM Contact LIMIT x", "MALFORMED_QUERY"),
        ("SELECT Id FROM Contact ORDER BY", "MALFORMED_QUERY"),
        ("SELECT Nope FROM Contact", "INVALID_FIELD"),
        ("SELECT Id FROM Nope", "INVALID_TYPE"),
    ],
)
def test_malformed_soql_is_400_with_error_code(org: Org, soql: str, code: str) -> None:
    """Status Codes and Error Responses: 400 MALFORMED_QUERY / INVALID_FIELD / INVALID_TYPE."""
    r = org.query(soql)
    assert r.status_code == 400
    assert r.json()[0]["errorCode"] == code


def test_order_by_limit_offset(org: Org) -> None:
    """ORDER BY (ASC/DESC, NULLS LAST), LIMIT, OFFSET."""
    names = [
        r["LastName"] for r in _records(org, "SELECT LastName FROM Contact ORDER BY LastName ASC")
    ]
    assert names == sorted(names, key=str.lower)
    desc = [
        r["LastName"] for r in _records(org, "SELECT LastName FROM Contact ORDER BY LastName DESC")
    ]
    assert desc == names[::-1] or [n.lower() for n in desc] == sorted(
        (n.lower() for n in names), reverse=True
    )
    page = _records(org, "SELECT LastName FROM Contact ORDER BY LastName LIMIT 5 OFFSET 3")
    assert [r["LastName"] for r in page] == names[3:8]
    whos = _records(org, "SELECT WhoId FROM Event ORDER BY WhoId DESC NULLS LAST")
    assert whos[-1]["WhoId"] is None
    assert whos[0]["WhoId"] is not None


def test_paging_with_next_records_url_at_2000(org: Org) -> None:
    """Query More Results: 2,000 rows per page, host-relative nextRecordsUrl, done."""
    org.reseed(seed=1, reps=1, contacts_per_rep=4100, meetings_per_rep=0, leads_per_rep=0)
    first = org.query("SELECT Id FROM Contact").json()
    assert first["totalSize"] == 4100
    assert first["done"] is False
    assert len(first["records"]) == 2000
    assert first["nextRecordsUrl"].startswith("/services/data/v62.0/query/")
    assert first["nextRecordsUrl"].endswith("-2000")
    second = org.http.get(first["nextRecordsUrl"], headers=org.auth).json()
    third = org.http.get(second["nextRecordsUrl"], headers=org.auth).json()
    assert len(second["records"]) == 2000
    assert len(third["records"]) == 100
    assert third["done"] is True
    assert "nextRecordsUrl" not in third
    ids = {r["Id"] for page in (first, second, third) for r in page["records"]}
    assert len(ids) == 4100
    small = org.query("SELECT Id FROM Contact", headers={"Sforce-Query-Options": "batchSize=500"})
    assert len(small.json()["records"]) == 500
    bad = org.http.get("/services/data/v62.0/query/01gXXXX-2000", headers=org.auth)
    assert bad.status_code == 400
    assert bad.json()[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


def test_query_all_includes_deleted_rows(org: Org) -> None:
    """QueryAll: soft-deleted rows (IsDeleted = true) appear; Query hides them."""
    contact = _records(org, "SELECT Id FROM Contact LIMIT 1")[0]["Id"]
    assert org.delete(f"/sobjects/Contact/{contact}").status_code == 204
    assert _records(org, f"SELECT Id FROM Contact WHERE Id = '{contact}'") == []
    rows = org.get(
        "/queryAll", params={"q": f"SELECT Id, IsDeleted FROM Contact WHERE Id = '{contact}'"}
    )
    assert rows.json()["records"][0]["IsDeleted"] is True
