"""Folder operations (EWS reference `getfolder-operation.md`, `findfolder-operation.md`,
`createfolder-operation.md`, `updatefolder-operation.md`), incl. folder extended properties (the
mailbox claim Syncline keeps on its Salesforce_Sync folder, LS-101)."""

from __future__ import annotations

from lxml import etree

from simulators.ews.context import Context, children, each
from simulators.ews.items import Shape, extended_key
from simulators.ews.soap import Element, EwsFault, ItemError, local, m, success, t
from simulators.ews.store import Folder

_FOLDER_TAGS = {"IPF.Contact": "ContactsFolder", "IPF.Appointment": "CalendarFolder"}


def _folder_xml(folder: Folder, shape: Shape | None = None) -> Element:
    out = etree.Element(t(_FOLDER_TAGS.get(folder.folder_class, "Folder")))
    etree.SubElement(out, t("FolderId"), Id=folder.id, ChangeKey=folder.change_key)
    if folder.parent_id:
        etree.SubElement(out, t("ParentFolderId"), Id=folder.parent_id)
    etree.SubElement(out, t("FolderClass")).text = folder.folder_class
    etree.SubElement(out, t("DisplayName")).text = folder.display_name
    for set_id, name, ptype in shape.extended if shape else []:
        found = folder.extended.get((set_id, name))
        if found is not None:
            prop = etree.SubElement(out, t("ExtendedProperty"))
            etree.SubElement(
                prop,
                t("ExtendedFieldURI"),
                PropertySetId=set_id.lower(),
                PropertyName=name,
                PropertyType=ptype,
            )
            etree.SubElement(prop, t("Value")).text = found[1]
    return out


def get_folder(ctx: Context, request: Element) -> bytes:
    shape = Shape.parse(request.find(m("FolderShape")))

    def one(ref: Element) -> Element:
        _, folder = ctx.folder(ref)
        msg = success("GetFolder")
        etree.SubElement(msg, m("Folders")).append(_folder_xml(folder, shape))
        return msg

    return each("GetFolder", children(request.find(m("FolderIds"))), one)


def find_folder(ctx: Context, request: Element) -> bytes:
    shape = Shape.parse(request.find(m("FolderShape")))
    deep = request.get("Traversal") == "Deep"
    name_filter = None
    equal = request.find(f"{m('Restriction')}/{t('IsEqualTo')}")
    if equal is not None:
        name_filter = equal.find(f"{t('FieldURIOrConstant')}/{t('Constant')}")

    def one(ref: Element) -> Element:
        mailbox, parent = ctx.folder(ref)
        found, frontier = [], [parent.id]
        while frontier:
            pid = frontier.pop()
            kids = [f for f in mailbox.folders.values() if f.parent_id == pid]
            found += kids
            if deep:
                frontier += [f.id for f in kids]
        if name_filter is not None:
            found = [f for f in found if f.display_name == name_filter.get("Value")]
        msg = success("FindFolder")
        root = etree.SubElement(
            msg, m("RootFolder"), TotalItemsInView=str(len(found)), IncludesLastItemInRange="true"
        )
        folders = etree.SubElement(root, t("Folders"))
        for folder in found:
            folders.append(_folder_xml(folder, shape))
        return msg

    return each("FindFolder", children(request.find(m("ParentFolderIds"))), one)


def create_folder(ctx: Context, request: Element) -> bytes:
    parent_ref = children(request.find(m("ParentFolderId")))
    if not parent_ref:
        raise EwsFault("ErrorSchemaValidation", "CreateFolder needs a ParentFolderId.")

    def one(given: Element) -> Element:
        mailbox, parent = ctx.folder(parent_ref[0])
        name = given.findtext(t("DisplayName")) or ""
        if any(
            f.parent_id == parent.id and f.display_name == name for f in mailbox.folders.values()
        ):
            raise ItemError("ErrorFolderExists", "A folder with the specified name already exists.")
        default_cls = {"ContactsFolder": "IPF.Contact", "CalendarFolder": "IPF.Appointment"}
        cls = given.findtext(t("FolderClass")) or default_cls.get(local(given.tag), "IPF.Note")
        folder = ctx.store.add_folder(mailbox, parent, name, cls)
        for prop in given.iterfind(t("ExtendedProperty")):
            uri = prop.find(t("ExtendedFieldURI"))
            if uri is not None:
                set_id, prop_name, ptype = extended_key(uri)
                folder.extended[(set_id, prop_name)] = (ptype, prop.findtext(t("Value")) or "")
        msg = success("CreateFolder")
        out = etree.SubElement(etree.SubElement(msg, m("Folders")), t(local(given.tag)))
        etree.SubElement(out, t("FolderId"), Id=folder.id, ChangeKey=folder.change_key)
        return msg

    return each("CreateFolder", children(request.find(m("Folders"))), one)


def update_folder(ctx: Context, request: Element) -> bytes:
    """SetFolderField / DeleteFolderField on DisplayName and extended properties."""

    def one(change: Element) -> Element:
        ref = next((c for c in change if local(c.tag).endswith("FolderId")), None)
        if ref is None:
            raise ItemError("ErrorInvalidIdEmpty", "The FolderId is missing.")
        _, folder = ctx.folder(ref)
        for update in children(change.find(t("Updates"))):
            uri = update.find(t("ExtendedFieldURI"))
            value = next((c for c in update if local(c.tag).endswith("Folder")), None)
            if uri is not None:
                set_id, name, ptype = extended_key(uri)
                if local(update.tag) == "DeleteFolderField" or value is None:
                    folder.extended.pop((set_id, name), None)
                else:
                    text = value.findtext(f"{t('ExtendedProperty')}/{t('Value')}") or ""
                    folder.extended[(set_id, name)] = (ptype, text)
            elif value is not None and value.find(t("DisplayName")) is not None:
                folder.display_name = value.findtext(t("DisplayName")) or ""
            else:
                raise ItemError("ErrorInvalidPropertySet", "Only names and extended properties.")
        msg = success("UpdateFolder")
        out = etree.SubElement(etree.SubElement(msg, m("Folders")), t("Folder"))
        etree.SubElement(out, t("FolderId"), Id=folder.id, ChangeKey=folder.change_key)
        return msg

    return each("UpdateFolder", children(request.find(m("FolderChanges"))), one)
