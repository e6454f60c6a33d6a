"""The rep's `Salesforce_Sync` contacts folder under Contacts (LS-20, LS-22) and the mailbox
claim on it (LS-101..103): the same named property the Graph transport writes
(`{8ECCC264-…} SynclineTenant`), so a mailbox claimed over one transport is recognised over the
other. EWS reference: `findfolder-operation.md`, `createfolder-operation.md`,
`updatefolder-operation.md`."""

from __future__ import annotations

from ewsclient.client import EwsClient, raise_for_message
from ewsclient.errors import ClaimedByOtherTenant, ExchangeError
from ewsclient.soap import MARKER_SET_ID, Element, el, m, t

SYNC_FOLDER = "Salesforce_Sync"
CLAIM_NAME = "SynclineTenant"


def _contacts_root() -> Element:
    return el(t("DistinguishedFolderId"), {"Id": "contacts"})


def claim_uri() -> Element:
    return el(
        t("ExtendedFieldURI"),
        {"PropertySetId": MARKER_SET_ID, "PropertyName": CLAIM_NAME, "PropertyType": "String"},
    )


def _claim_value(tenant: str) -> Element:
    return el(t("ExtendedProperty"), None, claim_uri(), el(t("Value"), text=tenant))


async def _find(client: EwsClient, mailbox: str) -> tuple[str, str | None] | None:
    """(folder id, claiming tenant or None) of the sync folder, if it exists."""
    restriction = el(
        m("Restriction"),
        None,
        el(
            t("IsEqualTo"),
            None,
            el(t("FieldURI"), {"FieldURI": "folder:DisplayName"}),
            el(t("FieldURIOrConstant"), None, el(t("Constant"), {"Value": SYNC_FOLDER})),
        ),
    )
    request = el(
        m("FindFolder"),
        {"Traversal": "Shallow"},
        el(
            m("FolderShape"),
            None,
            el(t("BaseShape"), text="IdOnly"),
            el(t("AdditionalProperties"), None, claim_uri()),
        ),
        restriction,
        el(m("ParentFolderIds"), None, _contacts_root()),
    )
    (message,) = await client.call(request, mailbox)
    raise_for_message(message)
    for folder in message.iterfind(f".//{t('Folders')}/*"):
        folder_id = folder.find(t("FolderId"))
        if folder_id is None:
            continue
        claim = folder.findtext(f"{t('ExtendedProperty')}/{t('Value')}") or None
        return str(folder_id.get("Id")), claim
    return None


async def find_sync_folder(client: EwsClient, mailbox: str) -> str | None:
    found = await _find(client, mailbox)
    return found[0] if found else None


async def _set_claim(client: EwsClient, mailbox: str, folder_id: str, tenant: str | None) -> None:
    field = (
        el(
            t("SetFolderField"),
            None,
            claim_uri(),
            el(t("ContactsFolder"), None, _claim_value(tenant)),
        )
        if tenant
        else el(t("DeleteFolderField"), None, claim_uri())
    )
    change = el(
        t("FolderChange"), None, el(t("FolderId"), {"Id": folder_id}), el(t("Updates"), None, field)
    )
    request = el(m("UpdateFolder"), None, el(m("FolderChanges"), None, change))
    (message,) = await client.call(request, mailbox)
    raise_for_message(message)


async def ensure_sync_folder(client: EwsClient, mailbox: str, tenant: str | None = None) -> str:
    """The folder id; created (and claimed) on first use, claimed when found unclaimed.
    A folder claimed by another tenant raises ClaimedByOtherTenant (LS-101)."""
    found = await _find(client, mailbox)
    if found is not None:
        folder_id, claim = found
        if tenant and claim and claim != tenant:
            raise ClaimedByOtherTenant("MailboxClaimed", f"mailbox is synced by tenant {claim!r}")
        if tenant and not claim:
            await _set_claim(client, mailbox, folder_id, tenant)
        return folder_id
    folder = el(t("ContactsFolder"), None, el(t("DisplayName"), text=SYNC_FOLDER))
    if tenant:
        folder.append(_claim_value(tenant))
    request = el(
        m("CreateFolder"),
        None,
        el(m("ParentFolderId"), None, _contacts_root()),
        el(m("Folders"), None, folder),
    )
    (message,) = await client.call(request, mailbox)
    try:
        raise_for_message(message)
    except ExchangeError as exc:
        if exc.code != "ErrorFolderExists":  # a concurrent replica created it first
            raise
        return await ensure_sync_folder(client, mailbox, tenant)
    node = message.find(f".//{t('FolderId')}")
    if node is None:
        raise ExchangeError("NoFolderId", "CreateFolder answered without a FolderId")
    return str(node.get("Id"))


async def release_claim(client: EwsClient, mailbox: str, folder_id: str) -> None:
    """Explicit admin action (LS-103): clear the claim so another tenant may sync the mailbox."""
    await _set_claim(client, mailbox, folder_id, None)
