"""SOAP 1.1 envelopes, response messages and faults as Exchange 2016/2019 writes them.

References (the EWS reference under
learn.microsoft.com/exchange/client-developer/web-service-reference):
`serverversioninfo.md` (header on every response), `responsecode.md` (codes), `soap-fault` handling
in `ews-throttling-in-exchange.md` (request-level errors are SOAP faults with HTTP 500 and a
`MessageXml` carrying `BackOffMilliseconds`), protocols.md B1/B5.
"""

from __future__ import annotations

from collections.abc import Iterable

from lxml import etree

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
M = "http://schemas.microsoft.com/exchange/services/2006/messages"
T = "http://schemas.microsoft.com/exchange/services/2006/types"
E = "http://schemas.microsoft.com/exchange/services/2006/errors"
NSMAP = {"s": SOAP, "m": M, "t": T}
Element = etree._Element

# Exchange 2019 CU (15.2.1544); it accepts RequestServerVersion up to Exchange2016 (B1).
SERVER_VERSION = {
    "MajorVersion": "15",
    "MinorVersion": "2",
    "MajorBuildNumber": "1544",
    "MinorBuildNumber": "4",
    "Version": "V2017_07_11",
}
ACCEPTED_VERSIONS = {
    "Exchange2007",
    "Exchange2007_SP1",
    "Exchange2010",
    "Exchange2010_SP1",
    "Exchange2010_SP2",
    "Exchange2013",
    "Exchange2013_SP1",
    "Exchange2016",
}


def m(name: str) -> str:
    return f"{{{M}}}{name}"


def t(name: str) -> str:
    return f"{{{T}}}{name}"


class EwsFault(Exception):
    """A request-level error: rendered as a SOAP Fault with HTTP 500 (B5)."""

    def __init__(self, code: str, text: str, back_off_ms: int | None = None) -> None:
        super().__init__(f"{code}: {text}")
        self.code = code
        self.text = text
        self.back_off_ms = back_off_ms


class ItemError(Exception):
    """A per-item error: rendered as a ResponseMessage with ResponseClass="Error" (B5)."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(f"{code}: {text}")
        self.code = code
        self.text = text


def _envelope(body_child: Element) -> bytes:
    env = etree.Element(f"{{{SOAP}}}Envelope", nsmap={"s": SOAP})
    header = etree.SubElement(env, f"{{{SOAP}}}Header")
    etree.SubElement(header, t("ServerVersionInfo"), SERVER_VERSION, nsmap={"h": T})
    body = etree.SubElement(env, f"{{{SOAP}}}Body")
    body.append(body_child)
    return bytes(etree.tostring(env, xml_declaration=True, encoding="utf-8"))


def response(operation: str, messages: Iterable[Element]) -> bytes:
    """`<m:{operation}Response><m:ResponseMessages>...` inside an envelope."""
    root = etree.Element(m(f"{operation}Response"), nsmap={"m": M, "t": T})
    container = etree.SubElement(root, m("ResponseMessages"))
    for message in messages:
        container.append(message)
    return _envelope(root)


def success(operation: str) -> Element:
    msg = etree.Element(m(f"{operation}ResponseMessage"), ResponseClass="Success")
    etree.SubElement(msg, m("ResponseCode")).text = "NoError"
    return msg


def error_message(operation: str, error: ItemError) -> Element:
    msg = etree.Element(m(f"{operation}ResponseMessage"), ResponseClass="Error")
    etree.SubElement(msg, m("MessageText")).text = error.text
    etree.SubElement(msg, m("ResponseCode")).text = error.code
    etree.SubElement(msg, m("DescriptiveLinkKey")).text = "0"
    return msg


def fault(error: EwsFault) -> bytes:
    """The SOAP Fault shape of protocols.md B5 (copied from a real server by exchangelib)."""
    env = etree.Element(f"{{{SOAP}}}Envelope", nsmap={"s": SOAP})
    body = etree.SubElement(env, f"{{{SOAP}}}Body")
    flt = etree.SubElement(body, f"{{{SOAP}}}Fault")
    code = etree.SubElement(flt, "faultcode", nsmap={"a": T})
    code.text = f"a:{error.code}"
    fstring = etree.SubElement(flt, "faultstring")
    fstring.set("{http://www.w3.org/XML/1998/namespace}lang", "en-US")
    fstring.text = error.text
    detail = etree.SubElement(flt, "detail")
    etree.SubElement(detail, f"{{{E}}}ResponseCode", nsmap={"e": E}).text = error.code
    etree.SubElement(detail, f"{{{E}}}Message", nsmap={"e": E}).text = error.text
    if error.back_off_ms is not None:
        xml = etree.SubElement(detail, t("MessageXml"), nsmap={"t": T})
        value = etree.SubElement(xml, t("Value"), Name="BackOffMilliseconds")
        value.text = str(error.back_off_ms)
    return bytes(etree.tostring(env, xml_declaration=True, encoding="utf-8"))


def server_busy(back_off_ms: int) -> EwsFault:
    return EwsFault(
        "ErrorServerBusy",
        "The server cannot service this request right now. Try again later.",
        back_off_ms,
    )


def parse_envelope(raw: bytes) -> tuple[Element | None, Element]:
    """(Header or None, the Body's first child); malformed input → ErrorSchemaValidation."""
    try:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
        env = etree.fromstring(raw, parser)
    except etree.XMLSyntaxError as exc:
        raise EwsFault("ErrorSchemaValidation", f"The request is not valid XML: {exc}") from exc
    if env.tag != f"{{{SOAP}}}Envelope":
        raise EwsFault("ErrorSchemaValidation", "The root element must be a SOAP 1.1 Envelope.")
    header = env.find(f"{{{SOAP}}}Header")
    body = env.find(f"{{{SOAP}}}Body")
    children = [c for c in body] if body is not None else []
    operation = next((c for c in children if isinstance(c.tag, str)), None)
    if operation is None:
        raise EwsFault("ErrorSchemaValidation", "The SOAP Body holds no operation.")
    return header, operation


def local(tag: object) -> str:
    text = str(tag)
    return text.rsplit("}", 1)[-1]
