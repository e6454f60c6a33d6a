"""Contacts (protocols.md A3: learn.microsoft.com/graph/api/resources/contact, contactfolder),
wire conventions (A2: paging, changeKey/@odata.etag, If-Match) and extended properties (A11)."""

from __future__ import annotations

from typing import Any

import httpx

MATCH = "and ep/value eq 'link-1|v1'"
PROP = "String {8ECCC264-6880-4EBE-992F-8888D2EEAA1D} Name SynclineOrigin"


def _create(graph: httpx.Client, mailbox: dict[str, Any], **fields: Any) -> dict[str, Any]:
    response = graph.post(
        f"/users/{mailbox['upn']}/contactFolders/{mailbox['folder']}/contacts",
        json={"givenName": "Ada", "surname": "Lovelace", **fields},
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_a3_create_returns_201_full_contact_with_etag_equal_to_change_key(
    graph: httpx.Client, mailbox: dict[str, Any]
) -> None:
    contact = _create(
        graph, mailbox, emailAddresses=[{"address": "ada@example.org", "name": "Ada"}]
    )
    assert contact["@odata.etag"] == f'W/"{contact["changeKey"]}"'
    assert contact["parentFolderId"] == mailbox["folder"]
    assert contact["displayName"] == "Ada Lovelace"
    assert contact["mobilePhone"] is None  # nulls are present, not omitted
    assert contact["createdDateTime"].endswith("Z")
    assert len(contact["createdDateTime"]) == 28


def test_a3_folder_filter_finds_salesforce_sync(
    graph: httpx.Client, mailbox: dict[str, Any]
) -> None:
    response = graph.get(
        f"/users/{mailbox['upn']}/contactFolders",
        params={"$filter": "displayName eq 'Salesforce_Sync'"},
    )
    assert [f["id"] for f in response.json()["value"]] == [mailbox["folder"]]


def test_a2_if_match_mismatch_is_412_and_match_succeeds(
    graph: httpx.Client, mailbox: dict[str, Any]
) -> None:
    contact = _create(graph, mailbox)
    url = f"/users/{mailbox['upn']}/contacts/{contact['id']}"
    ok = graph.patch(url, json={"jobTitle": "CTO"}, headers={"If-Match": contact["@odata.etag"]})
    assert ok.status_code == 200
    assert ok.json()["changeKey"] != contact["changeKey"]
    stale = graph.patch(url, json={"jobTitle": "CEO"}, headers={"If-Match": contact["@odata.etag"]})
    assert stale.status_code == 412
    assert stale.json()["error"]["code"] == "ErrorIrresolvableConflict"
    assert graph.delete(url, headers={"If-Match": contact["@odata.etag"]}).status_code == 412
    assert graph.delete(url, headers={"If-Match": ok.json()["@odata.etag"]}).status_code == 204
    assert graph.get(url).json()["error"]["code"] == "ErrorItemNotFound"


def test_a2_paging_follows_next_link_with_top(graph: httpx.Client, mailbox: dict[str, Any]) -> None:
    created = {_create(graph, mailbox, surname=f"N{i}")["id"] for i in range(7)}
    url: str | None = f"/users/{mailbox['upn']}/contactFolders/{mailbox['folder']}/contacts?$top=3"
    seen, pages = [], 0
    while url:
        body = graph.get(url).json()
        seen += [c["id"] for c in body["value"]]
        url, pages = body.get("@odata.nextLink"), pages + 1
    assert pages == 3
    assert set(seen) == created
    assert len(seen) == 7


def test_a11_extended_property_filter_and_expand(
    graph: httpx.Client, mailbox: dict[str, Any]
) -> None:
    marked = _create(
        graph, mailbox, singleValueExtendedProperties=[{"id": PROP, "value": "link-1|v1"}]
    )
    _create(graph, mailbox)
    folder_url = f"/users/{mailbox['upn']}/contactFolders/{mailbox['folder']}/contacts"
    found = graph.get(
        folder_url,
        params={"$filter": f"singleValueExtendedProperties/Any(ep: ep/id eq '{PROP}' {MATCH})"},
    ).json()["value"]
    assert [c["id"] for c in found] == [marked["id"]]
    assert "singleValueExtendedProperties" not in marked  # not returned unless expanded
    expanded = graph.get(
        f"/users/{mailbox['upn']}/contacts/{marked['id']}",
        params={"$expand": f"singleValueExtendedProperties($filter=id eq '{PROP}')"},
    ).json()
    assert expanded["singleValueExtendedProperties"] == [{"id": PROP, "value": "link-1|v1"}]


def test_a3_contacts_outside_folder_are_not_listed_in_it(
    graph: httpx.Client, mailbox: dict[str, Any]
) -> None:
    elsewhere = graph.post(
        f"/users/{mailbox['upn']}/contacts", json={"givenName": "Default"}
    ).json()
    in_folder = graph.get(
        f"/users/{mailbox['upn']}/contactFolders/{mailbox['folder']}/contacts"
    ).json()
    assert elsewhere["id"] not in {c["id"] for c in in_folder["value"]}
    assert elsewhere["parentFolderId"] != mailbox["folder"]


def test_control_contacts_probe_lists_matching_contacts_of_every_mailbox(
    graph: httpx.Client, mailbox: dict[str, Any], sim: httpx.Client
) -> None:
    created = _create(graph, mailbox, surname="ProbeZq1")
    _create(graph, mailbox, surname="Elsewhere")
    found = sim.get("/_sim/contacts", params={"surname_prefix": "ProbeZq"}).json()["value"]
    assert found == [{"user": mailbox["upn"], "id": created["id"], "surname": "ProbeZq1"}]
