"""The rep's `Salesforce_Sync` contact folder (LS-20: created if missing; LS-22: only it syncs)
and the mailbox claim on it (LS-101..103): a single-value extended property naming the Syncline
tenant that syncs this mailbox. A mailbox claimed by another tenant is not synced."""

from __future__ import annotations

from urllib.parse import quote

from exchange_connector.client import GraphClient
from exchange_connector.errors import ClaimedByOtherTenant
from exchange_connector.mapping import TENANT_CLAIM_PROPERTY

SYNC_FOLDER = "Salesforce_Sync"


async def ensure_sync_folder(client: GraphClient, mailbox: str, tenant: str) -> str:
    """Return the folder id, creating the folder and claiming the mailbox on first use."""
    expand = f"singleValueExtendedProperties($filter=id eq '{TENANT_CLAIM_PROPERTY}')"
    body = await client.get_json(
        "contactFolders",
        mailbox,
        params={"$filter": f"displayName eq '{SYNC_FOLDER}'", "$expand": expand},
    )
    folders = body.get("value") or []
    if not folders:
        created = await client.request(
            "POST",
            "contactFolders",
            mailbox,
            json={
                "displayName": SYNC_FOLDER,
                "singleValueExtendedProperties": [{"id": TENANT_CLAIM_PROPERTY, "value": tenant}],
            },
        )
        return str(created.json()["id"])
    folder = folders[0]
    claims = [
        str(p.get("value"))
        for p in folder.get("singleValueExtendedProperties") or []
        if str(p.get("id", "")).lower() == TENANT_CLAIM_PROPERTY.lower() and p.get("value")
    ]
    if claims and claims[0] != tenant:
        raise ClaimedByOtherTenant("MailboxClaimed", f"mailbox is synced by tenant {claims[0]!r}")
    if not claims:
        await client.request(
            "PATCH",
            f"contactFolders/{quote(folder['id'])}",
            mailbox,
            json={
                "singleValueExtendedProperties": [{"id": TENANT_CLAIM_PROPERTY, "value": tenant}]
            },
        )
    return str(folder["id"])


async def release_claim(client: GraphClient, mailbox: str, folder_id: str) -> None:
    """Explicit admin action (LS-103): clear the claim so another tenant may sync the mailbox."""
    await client.request(
        "PATCH",
        f"contactFolders/{quote(folder_id)}",
        mailbox,
        json={"singleValueExtendedProperties": [{"id": TENANT_CLAIM_PROPERTY, "value": ""}]},
    )
