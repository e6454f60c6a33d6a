"""EWS item XML ↔ the shared `Contact` record and the write helpers both kinds use, pure.

Writes are expressed once as a list of `Field`s — (property path, item fragment or None) — from
which both a CreateItem body (fragments merged in schema order; EWS types are `xs:sequence`, so
order matters, protocols.md B5 `ErrorSchemaValidation`) and UpdateItem `SetItemField` /
`DeleteItemField` changes (a full overwrite of every mapped field, LS-29) are built.
Times are written and read in UTC with the authored zone in `StartTimeZone` (Windows name);
all-day items are midnights of that zone. Our marker is the same MAPI named property the Graph
transport writes (`{8ECCC264-...} SynclineMarker`, protocols.md B7/A11).
"""

from __future__ import annotations

import datetime as dt

from ewsclient.soap import MARKER_SET_ID, Element, el, t
from syncmodel.records import Address, Contact

from exchange_connector.mapping import body_text

MARKER_NAME = "SynclineMarker"
Field = tuple[Element, Element | None]

_PHONES = {
    "BusinessPhone": "business_phone",
    "MobilePhone": "mobile_phone",
    "HomePhone": "home_phone",
    "OtherTelephone": "other_phone",
    "BusinessFax": "business_fax",
    "AssistantPhone": "assistant_phone",
}
_ADDRESS_PARTS = {
    "Street": "street",
    "City": "city",
    "State": "state",
    "CountryOrRegion": "country",
    "PostalCode": "postal_code",
}
_ADDRESSES = {"Business": "mailing_address", "Other": "other_address"}
_CONTAINERS = ("EmailAddresses", "PhysicalAddresses", "PhoneNumbers")


def text_of(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


def field_uri(uri: str) -> Element:
    return el(t("FieldURI"), {"FieldURI": uri})


def _indexed(uri: str, index: str) -> Element:
    return el(t("IndexedFieldURI"), {"FieldURI": uri, "FieldIndex": index})


def marker_uri() -> Element:
    return el(
        t("ExtendedFieldURI"),
        {"PropertySetId": MARKER_SET_ID, "PropertyName": MARKER_NAME, "PropertyType": "String"},
    )


def marker_field(link_id: str, command_id: str) -> Field:
    value = el(
        t("ExtendedProperty"), None, marker_uri(), el(t("Value"), text=f"{link_id}|{command_id}")
    )
    return marker_uri(), value


def marker_of(item: Element) -> str | None:
    for prop in item.iterfind(t("ExtendedProperty")):
        uri = prop.find(t("ExtendedFieldURI"))
        if uri is None or uri.get("PropertyName") != MARKER_NAME:
            continue
        if (uri.get("PropertySetId") or "").strip("{}").upper() == MARKER_SET_ID:
            return (prop.findtext(t("Value")) or "").split("|", 1)[0] or None
    return None


def item_id_of(item: Element) -> tuple[str, str | None]:
    node = item.find(t("ItemId"))
    if node is None:
        raise ValueError("an item without an ItemId")
    return str(node.get("Id")), node.get("ChangeKey")


def utc_of(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def z_of(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def modified_of(item: Element) -> dt.datetime | None:
    return utc_of(item.findtext(t("LastModifiedTime")))


# --- contacts ---------------------------------------------------------------------------------


def _entry(item: Element, container: str, key: str) -> Element | None:
    return next(
        (e for e in item.iterfind(f"{t(container)}/{t('Entry')}") if e.get("Key") == key), None
    )


def body_of(item: Element) -> str | None:
    node = item.find(t("Body"))
    if node is None:
        return None
    kind = "html" if (node.get("BodyType") or "Text").lower() == "html" else "text"
    return body_text({"contentType": kind, "content": node.text or ""})


def contact_from_ews(item: Element) -> Contact:
    email = _entry(item, "EmailAddresses", "EmailAddress1")
    phones = {field: _entry(item, "PhoneNumbers", key) for key, field in _PHONES.items()}
    addresses: dict[str, Address | None] = {}
    for key, field in _ADDRESSES.items():
        entry = _entry(item, "PhysicalAddresses", key)
        parts = {
            a: text_of(entry.findtext(t(p))) if entry is not None else None
            for p, a in _ADDRESS_PARTS.items()
        }
        addresses[field] = Address(**parts) if any(parts.values()) else None
    birthday = item.findtext(t("Birthday"))
    return Contact(
        first_name=text_of(item.findtext(t("GivenName"))),
        last_name=text_of(item.findtext(t("Surname"))),
        email=text_of(email.text) if email is not None else None,
        company=text_of(item.findtext(t("CompanyName"))),
        title=text_of(item.findtext(t("JobTitle"))),
        department=text_of(item.findtext(t("Department"))),
        assistant_name=text_of(item.findtext(t("AssistantName"))),
        birthday=dt.date.fromisoformat(birthday[:10]) if birthday else None,
        notes=body_of(item),
        marker=marker_of(item),
        **{
            field: text_of(node.text) if node is not None else None
            for field, node in phones.items()
        },
        **addresses,
    )


def value_element(tag: str, text: str | None) -> Element | None:
    return None if text is None else el(t(tag), text=text)


def _indexed_value(
    container: str, key: str, text: str | None, part: str | None = None
) -> Element | None:
    if text is None:
        return None
    entry = el(t("Entry"), {"Key": key})
    if part is None:
        entry.text = text
    else:
        entry.append(el(t(part), text=text))
    return el(t(container), None, entry)


def contact_fields(contact: Contact) -> list[Field]:
    """Every mapped contact field, in Contact schema order (item fields first)."""
    name = " ".join(p for p in (contact.first_name, contact.last_name) if p) or contact.email or ""
    fields: list[Field] = [
        (field_uri("item:Body"), el(t("Body"), {"BodyType": "Text"}, text=contact.notes or "")),
        (field_uri("contacts:DisplayName"), value_element("DisplayName", name)),
        (field_uri("contacts:GivenName"), value_element("GivenName", contact.first_name)),
        (field_uri("contacts:CompanyName"), value_element("CompanyName", contact.company)),
        (
            _indexed("contacts:EmailAddress", "EmailAddress1"),
            _indexed_value("EmailAddresses", "EmailAddress1", contact.email),
        ),
    ]
    for key, field in _ADDRESSES.items():
        address: Address | None = getattr(contact, field)
        for part, attr in _ADDRESS_PARTS.items():
            text = getattr(address, attr) if address is not None else None
            fields.append(
                (
                    _indexed(f"contacts:PhysicalAddress:{part}", key),
                    _indexed_value("PhysicalAddresses", key, text, part),
                )
            )
    for key, field in _PHONES.items():
        fields.append(
            (
                _indexed("contacts:PhoneNumber", key),
                _indexed_value("PhoneNumbers", key, getattr(contact, field)),
            )
        )
    birthday = f"{contact.birthday.isoformat()}T00:00:00Z" if contact.birthday else None
    fields += [
        (
            field_uri("contacts:AssistantName"),
            value_element("AssistantName", contact.assistant_name),
        ),
        (field_uri("contacts:Birthday"), value_element("Birthday", birthday)),
        (field_uri("contacts:Department"), value_element("Department", contact.department)),
        (field_uri("contacts:JobTitle"), value_element("JobTitle", contact.title)),
        (field_uri("contacts:Surname"), value_element("Surname", contact.last_name)),
    ]
    return fields


# --- events -----------------------------------------------------------------------------------


# --- request bodies ---------------------------------------------------------------------------


def item_for_create(kind: str, fields: list[Field], marker: Field | None) -> Element:
    """A `t:Contact` / `t:CalendarItem` from the non-empty fragments, merged and in order.

    The marker (an ExtendedProperty) goes after the item-level fields and before the
    type-specific ones, where ItemType's sequence has it."""
    item = el(t(kind))
    first_specific = "DisplayName" if kind == "Contact" else "Start"
    for _, fragment in fields:
        if fragment is None:
            continue
        tag = str(fragment.tag).rsplit("}", 1)[-1]
        if marker is not None and marker[1] is not None and tag == first_specific:
            item.append(marker[1])
            marker = None
        existing = item.find(t(tag)) if tag in _CONTAINERS else None
        if existing is None:
            item.append(fragment)
            continue
        for entry in fragment:
            same = next((e for e in existing if e.get("Key") == entry.get("Key")), None)
            if same is None:
                existing.append(entry)
            else:
                same.extend(list(entry))
    if marker is not None and marker[1] is not None:
        item.append(marker[1])
    return item


def updates_for(kind: str, fields: list[Field]) -> Element:
    """`t:Updates`: SetItemField for every value, DeleteItemField for every cleared field."""
    updates = el(t("Updates"))
    for path, fragment in fields:
        if fragment is None:
            updates.append(el(t("DeleteItemField"), None, path))
        else:
            updates.append(el(t("SetItemField"), None, path, el(t(kind), None, fragment)))
    return updates
