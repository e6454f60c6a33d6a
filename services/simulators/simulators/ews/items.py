"""Item XML: shapes on read (GetItem / SyncFolderItems `ItemShape`) and property paths on write
(CreateItem item bodies, UpdateItem `SetItemField` / `DeleteItemField`).

EWS reference: `itemshape.md` (BaseShape IdOnly/Default/AllProperties + AdditionalProperties),
`setitemfield.md`, `deleteitemfield.md`, `indexedfielduri.md`, `extendedfielduri.md`;
protocols.md B7.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from lxml import etree

from simulators.ews.soap import Element, ItemError, local, t
from simulators.ews.store import StoredItem

SERVER_OWNED = {
    "ItemId",
    "ParentFolderId",
    "DateTimeCreated",
    "LastModifiedTime",
    "ExtendedProperty",
    "DeletedOccurrences",
    "ModifiedOccurrences",
}
_CONTAINERS = {
    "EmailAddress": "EmailAddresses",
    "PhoneNumber": "PhoneNumbers",
    "PhysicalAddress": "PhysicalAddresses",
    "ImAddress": "ImAddresses",
}
ITEM_CLASS = {"Contact": "IPM.Contact", "CalendarItem": "IPM.Appointment"}


def _ts(moment: object) -> str:
    text = str(moment)
    return text.replace("+00:00", "Z").replace(" ", "T")[:19] + "Z"


def extended_key(uri: Element) -> tuple[str, str, str]:
    """(property set id upper-case without braces, name, type) of an `ExtendedFieldURI`."""
    set_id = (uri.get("PropertySetId") or uri.get("DistinguishedPropertySetId") or "").strip("{}")
    name = uri.get("PropertyName") or uri.get("PropertyTag") or uri.get("PropertyId") or ""
    return set_id.upper(), name, uri.get("PropertyType") or "String"


@dataclass
class Shape:
    base: str = "Default"
    fields: set[str] = field(default_factory=set)
    extended: list[tuple[str, str, str]] = field(default_factory=list)

    @classmethod
    def parse(cls, shape: Element | None) -> Shape:
        if shape is None:
            return cls()
        base = shape.findtext(t("BaseShape")) or "Default"
        found = cls(base=base)
        extra = shape.find(t("AdditionalProperties"))
        for uri in extra if extra is not None else []:
            if local(uri.tag) == "ExtendedFieldURI":
                found.extended.append(extended_key(uri))
            elif uri.get("FieldURI"):
                found.fields.add(str(uri.get("FieldURI")).split(":")[-1])
        return found


def item_id(item: StoredItem) -> Element:
    return etree.Element(t("ItemId"), Id=item.id, ChangeKey=item.change_key)


def render(item: StoredItem, shape: Shape, exceptions: list[StoredItem] | None = None) -> Element:
    out = etree.Element(t(item.kind))
    out.append(item_id(item))
    full = shape.base in ("Default", "AllProperties")
    if full:
        etree.SubElement(out, t("ParentFolderId"), Id=item.folder_id)
    for child in item.element:
        if full or local(child.tag) in shape.fields:
            out.append(etree.fromstring(etree.tostring(child)))
    if full or "DateTimeCreated" in shape.fields:
        etree.SubElement(out, t("DateTimeCreated")).text = _ts(item.created)
    for set_id, name, ptype in shape.extended:
        found = item.extended.get((set_id, name))
        if found is None:
            continue
        prop = etree.SubElement(out, t("ExtendedProperty"))
        etree.SubElement(
            prop,
            t("ExtendedFieldURI"),
            PropertySetId=set_id.lower(),
            PropertyName=name,
            PropertyType=ptype,
        )
        etree.SubElement(prop, t("Value")).text = found[1]
    if full or "LastModifiedTime" in shape.fields:
        etree.SubElement(out, t("LastModifiedTime")).text = _ts(item.modified)
    if (full or "ModifiedOccurrences" in shape.fields) and exceptions:
        modified = etree.SubElement(out, t("ModifiedOccurrences"))
        for exception in exceptions:
            occurrence = etree.SubElement(modified, t("Occurrence"))
            occurrence.append(item_id(exception))
            for name in ("Start", "End", "OriginalStart"):
                etree.SubElement(occurrence, t(name)).text = exception.element.findtext(t(name))
    if (full or "DeletedOccurrences" in shape.fields) and item.deleted_occurrences:
        deleted = etree.SubElement(out, t("DeletedOccurrences"))
        for start in item.deleted_occurrences:
            occurrence = etree.SubElement(deleted, t("DeletedOccurrence"))
            etree.SubElement(occurrence, t("Start")).text = start
    return out


def new_body(kind: str, given: Element) -> tuple[Element, dict[tuple[str, str], tuple[str, str]]]:
    """The stored element and extended properties of a created item (server fields stripped)."""
    body = etree.Element(t(kind))
    extended: dict[tuple[str, str], tuple[str, str]] = {}
    for child in given:
        name = local(child.tag)
        if name == "ExtendedProperty":
            uri = child.find(t("ExtendedFieldURI"))
            if uri is None:
                raise ItemError("ErrorSchemaValidation", "ExtendedProperty without a field URI.")
            set_id, prop, ptype = extended_key(uri)
            extended[(set_id, prop)] = (ptype, child.findtext(t("Value")) or "")
        elif name not in SERVER_OWNED:
            body.append(etree.fromstring(etree.tostring(child)))
    if body.find(t("ItemClass")) is None:
        body.insert(0, _text_element("ItemClass", ITEM_CLASS[kind]))
    if kind == "CalendarItem":
        if body.find(t("Start")) is None or body.find(t("End")) is None:
            raise ItemError("ErrorSchemaValidation", "A calendar item needs Start and End.")
        if body.find(t("UID")) is None:
            body.append(_text_element("UID", uuid.uuid4().hex.upper()))
        if body.find(t("CalendarItemType")) is None:
            recurring = body.find(t("Recurrence")) is not None
            body.append(
                _text_element("CalendarItemType", "RecurringMaster" if recurring else "Single")
            )
    return body, extended


def _text_element(name: str, text: str) -> Element:
    element = etree.Element(t(name))
    element.text = text
    return element


def _replace(parent: Element, new: Element) -> None:
    old = parent.find(str(new.tag))
    if old is not None:
        parent.replace(old, new)
    else:
        parent.append(new)


def _entry(container: Element, key: str) -> Element | None:
    return next((e for e in container if e.get("Key") == key), None)


def apply_change(item: StoredItem, change: Element) -> None:
    """One `SetItemField` / `DeleteItemField` (AppendToItemField is not simulated)."""
    kind = local(change.tag)
    if kind not in ("SetItemField", "DeleteItemField"):
        raise ItemError("ErrorInvalidPropertyRequest", f"{kind} is not supported.")
    path = next((c for c in change if local(c.tag).endswith("FieldURI")), None)
    if path is None:
        raise ItemError("ErrorSchemaValidation", f"{kind} without a property path.")
    value = change.find(t(item.kind)) if kind == "SetItemField" else None
    if kind == "SetItemField" and value is None:
        raise ItemError("ErrorSchemaValidation", f"SetItemField needs a t:{item.kind} value.")
    path_kind = local(path.tag)
    if path_kind == "ExtendedFieldURI":
        set_id, name, ptype = extended_key(path)
        if value is None:
            item.extended.pop((set_id, name), None)
        else:
            item.extended[(set_id, name)] = (
                ptype,
                value.findtext(f"{t('ExtendedProperty')}/{t('Value')}") or "",
            )
        return
    uri = str(path.get("FieldURI"))
    parts = uri.split(":")
    name = parts[1] if len(parts) > 1 else parts[0]
    if name in SERVER_OWNED or name in ("ItemClass", "UID", "CalendarItemType"):
        raise ItemError("ErrorInvalidPropertySet", f"{uri} is read-only.")
    if path_kind == "FieldURI":
        if value is None:
            old = item.element.find(t(name))
            if old is not None:
                item.element.remove(old)
            return
        new = value.find(t(name))
        if new is None:
            raise ItemError("ErrorSchemaValidation", f"The value does not hold {name}.")
        _replace(item.element, etree.fromstring(etree.tostring(new)))
        return
    # IndexedFieldURI: contacts:EmailAddress / PhoneNumber / PhysicalAddress[:Street] + FieldIndex
    key = str(path.get("FieldIndex"))
    container_name = _CONTAINERS.get(name)
    if container_name is None:
        raise ItemError("ErrorInvalidIndexedPagingParameters", f"{uri} is not indexed.")
    container = item.element.find(t(container_name))
    if container is None:
        container = etree.SubElement(item.element, t(container_name))
    sub = parts[2] if len(parts) > 2 else None
    entry = _entry(container, key)
    if value is None:
        if entry is not None and sub is not None:
            old = entry.find(t(sub))
            if old is not None:
                entry.remove(old)
        elif entry is not None:
            container.remove(entry)
        return
    source = value.find(t(container_name))
    new_entry = _entry(source, key) if source is not None else None
    if new_entry is None:
        raise ItemError("ErrorSchemaValidation", f"The value holds no Entry Key={key}.")
    if sub is None or entry is None:
        if entry is not None:
            container.replace(entry, etree.fromstring(etree.tostring(new_entry)))
        else:
            container.append(etree.fromstring(etree.tostring(new_entry)))
        return
    part = new_entry.find(t(sub))
    if part is not None:
        _replace(entry, etree.fromstring(etree.tostring(part)))
