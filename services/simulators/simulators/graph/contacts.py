"""Contacts and contact folders (protocols.md A3): CRUD, the folder tree, `$filter` on extended
properties. Delta lives in `delta.py`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from simulators.graph import odata
from simulators.graph.errors import GraphError, bad_request, not_found
from simulators.graph.items import (
    check_if_match,
    current_user,
    etag,
    json_body,
    remove_item,
    take_ext,
    writable,
)
from simulators.graph.store import ContactFolder, Item, Mailbox, graph_timestamp, new_id

CONTACT_DEFAULTS: dict[str, Any] = {
    "categories": [],
    "birthday": None,
    "fileAs": "",
    "displayName": None,
    "givenName": None,
    "initials": None,
    "middleName": None,
    "nickName": None,
    "surname": None,
    "title": None,
    "yomiGivenName": None,
    "yomiSurname": None,
    "yomiCompanyName": None,
    "generation": None,
    "imAddresses": [],
    "jobTitle": None,
    "companyName": None,
    "department": None,
    "officeLocation": None,
    "profession": None,
    "businessHomePage": None,
    "assistantName": None,
    "manager": None,
    "homePhones": [],
    "mobilePhone": None,
    "businessPhones": [],
    "spouseName": None,
    "personalNotes": "",
    "children": [],
    "emailAddresses": [],
    "homeAddress": {},
    "businessAddress": {},
    "otherAddress": {},
}


def render_contact(item: Item, view: odata.View) -> dict[str, Any]:
    body: dict[str, Any] = {
        "@odata.etag": etag(item.change_key),
        "id": item.id,
        "createdDateTime": graph_timestamp(item.created),
        "lastModifiedDateTime": graph_timestamp(item.modified),
        "changeKey": item.change_key,
        "parentFolderId": item.data["parentFolderId"],
    }
    for key, default in CONTACT_DEFAULTS.items():
        body[key] = item.data.get(key, default)
    ext = odata.render_ext(item.ext, item.ext_ids, view.expand_ext)
    if ext is not None:
        body["singleValueExtendedProperties"] = ext
    return odata.apply_select(body, view.select)


def render_folder(folder: ContactFolder, view: odata.View) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": folder.id,
        "displayName": folder.display_name,
        "parentFolderId": folder.parent_folder_id,
    }
    ext = odata.render_ext(folder.ext, folder.ext_ids, view.expand_ext)
    if ext is not None:
        body["singleValueExtendedProperties"] = ext
    return body


def folder_or_404(mailbox: Mailbox, folder_id: str) -> str:
    if folder_id.lower() == "contacts" or folder_id == mailbox.contacts_folder_id:
        return mailbox.contacts_folder_id
    if folder_id not in mailbox.folders:
        raise not_found()
    return folder_id


def contact_or_404(mailbox: Mailbox, contact_id: str, folder_id: str | None = None) -> Item:
    item = mailbox.contacts.get(contact_id)
    if item is None or (folder_id is not None and item.data["parentFolderId"] != folder_id):
        raise not_found()
    return item


def create_contact(mailbox: Mailbox, folder_id: str, body: dict[str, Any]) -> Item:
    item = Item(id=new_id(), data={})
    take_ext(item, body)
    item.data.update(writable(body))
    if not item.data.get("displayName"):
        parts = [item.data.get("givenName"), item.data.get("surname")]
        item.data["displayName"] = " ".join(p for p in parts if p) or None
    item.data["fileAs"] = item.data.get("fileAs") or ""
    item.data["parentFolderId"] = folder_id
    mailbox.touch(item)
    mailbox.contacts[item.id] = item
    return item


def build_router() -> APIRouter:
    router = APIRouter(prefix="/v1.0/users/{user_id}", tags=["contacts"])

    def ctx(request: Request, what: str) -> str:
        return odata.context_url(request, f"users('{request.path_params['user_id']}')/{what}")

    @router.get("/contactFolders")
    async def list_folders(request: Request) -> Response:
        mailbox = current_user(request).mailbox
        view, flt = odata.view_of(request), odata.parse_filter(request)
        folders = [
            f
            for f in mailbox.folders.values()
            if f.parent_folder_id == mailbox.contacts_folder_id
            and flt.matches_ext(f.ext)
            and (flt.field_name is None or f.display_name == flt.field_value)
        ]
        rendered = [render_folder(f, view) for f in folders]
        return odata.page(request, rendered, view, ctx(request, "contactFolders"))

    @router.post("/contactFolders", status_code=201)
    async def create_folder(request: Request) -> Response:
        mailbox = current_user(request).mailbox
        body = await json_body(request)
        name = body.get("displayName")
        parent = body.get("parentFolderId") or mailbox.contacts_folder_id
        if not name:
            raise bad_request("displayName is required.")
        if any(
            f.display_name.lower() == str(name).lower() and f.parent_folder_id == parent
            for f in mailbox.folders.values()
        ):
            raise GraphError(
                409, "ErrorFolderExists", "A folder with the specified name already exists."
            )
        folder = ContactFolder(new_id("AAMkAGfld"), str(name), parent)
        for prop in body.get("singleValueExtendedProperties") or []:
            folder.ext[str(prop["id"]).lower()] = str(prop.get("value", ""))
            folder.ext_ids[str(prop["id"]).lower()] = str(prop["id"])
        mailbox.folders[folder.id] = folder
        return JSONResponse(render_folder(folder, odata.view_of(request)), status_code=201)

    @router.get("/contactFolders/{folder_id}")
    async def get_folder(request: Request, folder_id: str) -> Response:
        mailbox = current_user(request).mailbox
        folder = mailbox.folders.get(folder_id)
        if folder is None:
            raise not_found()
        return JSONResponse(render_folder(folder, odata.view_of(request)))

    @router.patch("/contactFolders/{folder_id}")
    async def update_folder(request: Request, folder_id: str) -> Response:
        mailbox = current_user(request).mailbox
        folder = mailbox.folders.get(folder_id)
        if folder is None:
            raise not_found()
        body = await json_body(request)
        if body.get("displayName"):
            folder.display_name = str(body["displayName"])
        for prop in body.get("singleValueExtendedProperties") or []:
            folder.ext[str(prop["id"]).lower()] = str(prop.get("value", ""))
            folder.ext_ids[str(prop["id"]).lower()] = str(prop["id"])
        return JSONResponse(render_folder(folder, odata.view_of(request)))

    @router.delete("/contactFolders/{folder_id}", status_code=204)
    async def delete_folder(request: Request, folder_id: str) -> Response:
        mailbox = current_user(request).mailbox
        if mailbox.folders.pop(folder_id, None) is None:
            raise not_found()
        for item in [c for c in mailbox.contacts.values() if c.data["parentFolderId"] == folder_id]:
            remove_item(mailbox, mailbox.contacts, item.id)
        return Response(status_code=204)

    @router.get("/contactFolders/{folder_id}/childFolders")
    async def child_folders(request: Request, folder_id: str) -> Response:
        mailbox = current_user(request).mailbox
        parent = folder_or_404(mailbox, folder_id)
        view = odata.view_of(request)
        rendered = [
            render_folder(f, view) for f in mailbox.folders.values() if f.parent_folder_id == parent
        ]
        return odata.page(request, rendered, view, ctx(request, "childFolders"))

    async def list_in(request: Request, folder_id: str) -> Response:
        mailbox = current_user(request).mailbox
        view, flt = odata.view_of(request), odata.parse_filter(request)
        rendered = [
            render_contact(c, view)
            for c in mailbox.contacts.values()
            if c.data["parentFolderId"] == folder_id and flt.matches(c)
        ]
        return odata.page(request, rendered, view, ctx(request, "contacts"))

    async def create_in(request: Request, folder_id: str) -> Response:
        item = create_contact(current_user(request).mailbox, folder_id, await json_body(request))
        view = odata.view_of(request)
        return JSONResponse(render_contact(item, view), status_code=201, headers=view.headers())

    @router.get("/contacts")
    async def list_contacts(request: Request) -> Response:
        return await list_in(request, current_user(request).mailbox.contacts_folder_id)

    @router.post("/contacts", status_code=201)
    async def post_contact(request: Request) -> Response:
        return await create_in(request, current_user(request).mailbox.contacts_folder_id)

    @router.get("/contactFolders/{folder_id}/contacts")
    async def list_folder_contacts(request: Request, folder_id: str) -> Response:
        return await list_in(request, folder_or_404(current_user(request).mailbox, folder_id))

    @router.post("/contactFolders/{folder_id}/contacts", status_code=201)
    async def post_folder_contact(request: Request, folder_id: str) -> Response:
        return await create_in(request, folder_or_404(current_user(request).mailbox, folder_id))

    async def get_one(request: Request, contact_id: str, folder: str | None) -> Response:
        item = contact_or_404(current_user(request).mailbox, contact_id, folder)
        view = odata.view_of(request)
        return JSONResponse(render_contact(item, view), headers=view.headers())

    async def patch_one(request: Request, contact_id: str, folder: str | None) -> Response:
        mailbox = current_user(request).mailbox
        item = contact_or_404(mailbox, contact_id, folder)
        check_if_match(request, item.change_key)
        body = await json_body(request)
        take_ext(item, body)
        item.data.update(writable(body))
        mailbox.touch(item)
        view = odata.view_of(request)
        return JSONResponse(render_contact(item, view), headers=view.headers())

    async def delete_one(request: Request, contact_id: str, folder: str | None) -> Response:
        mailbox = current_user(request).mailbox
        item = contact_or_404(mailbox, contact_id, folder)
        check_if_match(request, item.change_key)
        remove_item(mailbox, mailbox.contacts, item.id)
        return Response(status_code=204)

    @router.get("/contacts/{contact_id}")
    async def get_contact(request: Request, contact_id: str) -> Response:
        return await get_one(request, contact_id, None)

    @router.patch("/contacts/{contact_id}")
    async def patch_contact(request: Request, contact_id: str) -> Response:
        return await patch_one(request, contact_id, None)

    @router.delete("/contacts/{contact_id}", status_code=204)
    async def delete_contact(request: Request, contact_id: str) -> Response:
        return await delete_one(request, contact_id, None)

    @router.get("/contactFolders/{folder_id}/contacts/{contact_id}")
    async def get_folder_contact(request: Request, folder_id: str, contact_id: str) -> Response:
        folder = folder_or_404(current_user(request).mailbox, folder_id)
        return await get_one(request, contact_id, folder)

    @router.patch("/contactFolders/{folder_id}/contacts/{contact_id}")
    async def patch_folder_contact(request: Request, folder_id: str, contact_id: str) -> Response:
        folder = folder_or_404(current_user(request).mailbox, folder_id)
        return await patch_one(request, contact_id, folder)

    @router.delete("/contactFolders/{folder_id}/contacts/{contact_id}", status_code=204)
    async def delete_folder_contact(request: Request, folder_id: str, contact_id: str) -> Response:
        folder = folder_or_404(current_user(request).mailbox, folder_id)
        return await delete_one(request, contact_id, folder)

    return router
