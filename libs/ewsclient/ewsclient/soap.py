"""EWS SOAP 1.1 envelopes and response parsing (protocols.md B1, B5; EWS reference
`ews-xml-elements-in-exchange.md`, `serverversioninfo.md`, `responsecode.md`)."""

from __future__ import annotations

from lxml import etree

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
M = "http://schemas.microsoft.com/exchange/services/2006/messages"
T = "http://schemas.microsoft.com/exchange/services/2006/types"
E = "http://schemas.microsoft.com/exchange/services/2006/errors"
REQUEST_VERSION = "Exchange2016"  # the highest 2016/2019/SE accept (B1)
# Syncline's MAPI named-property set: the item marker (`SynclineMarker`, the connector's
# mapping) and the mailbox claim (folders.py) live in it, on both transports (B7/A11).
MARKER_SET_ID = "8ECCC264-6880-4EBE-992F-8888D2EEAA1D"

Element = etree._Element
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True)


def m(name: str) -> str:
    return f"{{{M}}}{name}"


def t(name: str) -> str:
    return f"{{{T}}}{name}"


def el(
    tag: str, attrs: dict[str, str] | None = None, *children: Element, text: str | None = None
) -> Element:
    node = etree.Element(tag, attrs or {})
    for child in children:
        node.append(child)
    if text is not None:
        node.text = text
    return node


def envelope(operation: Element, impersonate: str | None) -> bytes:
    env = etree.Element(f"{{{SOAP}}}Envelope", nsmap={"s": SOAP, "m": M, "t": T})
    header = etree.SubElement(env, f"{{{SOAP}}}Header")
    etree.SubElement(header, t("RequestServerVersion"), Version=REQUEST_VERSION)
    if impersonate:
        # ConnectingSID holds exactly one of PrincipalName/SID/PrimarySmtpAddress/SmtpAddress (B4).
        imp = etree.SubElement(header, t("ExchangeImpersonation"))
        sid = etree.SubElement(imp, t("ConnectingSID"))
        etree.SubElement(sid, t("PrimarySmtpAddress")).text = impersonate
    etree.SubElement(env, f"{{{SOAP}}}Body").append(operation)
    return bytes(etree.tostring(env, xml_declaration=True, encoding="utf-8"))


def parse(raw: bytes) -> Element:
    return etree.fromstring(raw, _PARSER)


def body_of(document: Element) -> Element | None:
    return document.find(f"{{{SOAP}}}Body")


def has_server_version(document: Element) -> bool:
    return document.find(f"{{{SOAP}}}Header/{t('ServerVersionInfo')}") is not None


def fault_fields(document: Element) -> tuple[str, str, int | None] | None:
    """(ResponseCode, message, BackOffMilliseconds) of a SOAP Fault, if the body is one (B5)."""
    body = body_of(document)
    fault = body.find(f"{{{SOAP}}}Fault") if body is not None else None
    if fault is None:
        return None
    detail = fault.find("detail")
    code = detail.findtext(f"{{{E}}}ResponseCode") if detail is not None else None
    if not code:
        code = (fault.findtext("faultcode") or "ErrorInternalServerError").split(":")[-1]
    message = fault.findtext("faultstring") or ""
    back_off = None
    if detail is not None:
        for value in detail.iter(t("Value")):
            if value.get("Name") == "BackOffMilliseconds" and (value.text or "").isdigit():
                back_off = int(value.text or "0")
    return code, message, back_off


def response_messages(document: Element) -> list[Element]:
    """The ResponseMessage elements of an operation response, in request order."""
    body = body_of(document)
    if body is None or len(body) == 0:
        return []
    container = body[0].find(m("ResponseMessages"))
    return list(container) if container is not None else []


def message_code(message: Element) -> str:
    return message.findtext(m("ResponseCode")) or "NoError"
