"""Autodiscover: POX (`POST /autodiscover/autodiscover.xml`, Exchange 2007+) and SOAP
(`POST /autodiscover/autodiscover.svc`, `GetUserSettings`, Exchange 2010+), both answering the
EWS URL of a mailbox. EWS reference: `autodiscover-for-exchange.md`,
`getusersettings-operation-soap.md`, `pox-autodiscover-reference-for-exchange.md`; protocols.md B3.
"""

from __future__ import annotations

import datetime as dt

from lxml import etree

from simulators.ews.soap import SERVER_VERSION, SOAP, Element, EwsFault, parse_envelope
from simulators.ews.store import EwsStore

POX_REQUEST = "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"
POX_RESPONSE = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
POX_OUTLOOK = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
AD = "http://schemas.microsoft.com/exchange/2010/Autodiscover"
WSA = "http://www.w3.org/2005/08/addressing"
XSI = "http://www.w3.org/2001/XMLSchema-instance"


def _sub(parent: Element, ns: str, name: str, text: str | None = None) -> Element:
    child = etree.SubElement(parent, f"{{{ns}}}{name}")
    if text is not None:
        child.text = text
    return child


def pox(store: EwsStore, raw: bytes, ews_url: str) -> bytes:
    try:
        request = etree.fromstring(raw, etree.XMLParser(resolve_entities=False, no_network=True))
        email = request.findtext(f"{{{POX_REQUEST}}}Request/{{{POX_REQUEST}}}EMailAddress") or ""
    except etree.XMLSyntaxError:
        email = ""
    root = etree.Element(f"{{{POX_RESPONSE}}}Autodiscover", nsmap={None: POX_RESPONSE})
    mailbox = store.find(email) if email else None
    if mailbox is None:
        response = _sub(root, POX_RESPONSE, "Response")
        error = _sub(response, POX_RESPONSE, "Error")
        error.set("Time", dt.datetime.now(dt.UTC).strftime("%H:%M:%S.%f"))
        error.set("Id", "2451417081")
        _sub(error, POX_RESPONSE, "ErrorCode", "500")
        _sub(error, POX_RESPONSE, "Message", "The email address can't be found.")
        _sub(error, POX_RESPONSE, "DebugData", "")
        return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))
    response = etree.SubElement(root, f"{{{POX_OUTLOOK}}}Response", nsmap={None: POX_OUTLOOK})
    user = _sub(response, POX_OUTLOOK, "User")
    _sub(user, POX_OUTLOOK, "DisplayName", mailbox.display_name)
    _sub(
        user,
        POX_OUTLOOK,
        "LegacyDN",
        f"/o=Contoso/ou=Exchange/cn=Recipients/cn={mailbox.display_name}",
    )
    _sub(user, POX_OUTLOOK, "AutoDiscoverSMTPAddress", mailbox.smtp)
    _sub(user, POX_OUTLOOK, "DeploymentId", "5c6e3bb0-0b6b-4b56-9f6c-5a8ad42c9d1e")
    account = _sub(response, POX_OUTLOOK, "Account")
    _sub(account, POX_OUTLOOK, "AccountType", "email")
    _sub(account, POX_OUTLOOK, "Action", "settings")
    for kind in ("EXCH", "EXPR"):
        protocol = _sub(account, POX_OUTLOOK, "Protocol")
        _sub(protocol, POX_OUTLOOK, "Type", kind)
        _sub(protocol, POX_OUTLOOK, "AuthPackage", "Basic")
        _sub(protocol, POX_OUTLOOK, "EwsUrl", ews_url)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))


def get_user_settings(store: EwsStore, raw: bytes, ews_url: str) -> bytes:
    _, operation = parse_envelope(raw)
    if operation.tag != f"{{{AD}}}GetUserSettingsRequestMessage":
        raise EwsFault("ErrorInvalidRequest", "Only GetUserSettings is simulated.")
    requested = [s.text or "" for s in operation.iter(f"{{{AD}}}Setting")]
    env = etree.Element(f"{{{SOAP}}}Envelope", nsmap={"s": SOAP, "a": WSA})
    header = _sub(env, SOAP, "Header")
    action = _sub(header, WSA, "Action", f"{AD}/Autodiscover/GetUserSettingsResponse")
    action.set(f"{{{SOAP}}}mustUnderstand", "1")
    info = etree.SubElement(header, f"{{{AD}}}ServerVersionInfo", nsmap={"h": AD, "i": XSI})
    for name in ("MajorVersion", "MinorVersion", "MajorBuildNumber", "MinorBuildNumber", "Version"):
        _sub(info, AD, name, SERVER_VERSION[name] if name != "Version" else "Exchange2015")
    body = _sub(env, SOAP, "Body")
    message = etree.SubElement(body, f"{{{AD}}}GetUserSettingsResponseMessage", nsmap={None: AD})
    response = etree.SubElement(message, f"{{{AD}}}Response", nsmap={"i": XSI})
    _sub(response, AD, "ErrorCode", "NoError")
    _sub(response, AD, "ErrorMessage", "")
    users = _sub(response, AD, "UserResponses")
    for address in operation.iter(f"{{{AD}}}Mailbox"):
        mailbox = store.find(address.text or "")
        user = _sub(users, AD, "UserResponse")
        if mailbox is None:
            _sub(user, AD, "ErrorCode", "InvalidUser")
            _sub(user, AD, "ErrorMessage", f"Invalid user: '{address.text}'")
            continue
        _sub(user, AD, "ErrorCode", "NoError")
        _sub(user, AD, "ErrorMessage", "No error.")
        _sub(user, AD, "RedirectTarget").set(f"{{{XSI}}}nil", "true")
        _sub(user, AD, "UserSettingErrors")
        values = {
            "ExternalEwsUrl": ews_url,
            "InternalEwsUrl": ews_url,
            "UserDisplayName": mailbox.display_name,
            "CasVersion": "15.02.1544.004",
            "EwsSupportedSchemas": "Exchange2007, Exchange2007_SP1, Exchange2010, "
            "Exchange2010_SP1, Exchange2010_SP2, Exchange2013, Exchange2013_SP1, Exchange2016",
            "AutoDiscoverSMTPAddress": mailbox.smtp,
        }
        settings = _sub(user, AD, "UserSettings")
        for name in requested:
            if name in values:
                setting = _sub(settings, AD, "UserSetting")
                setting.set(f"{{{XSI}}}type", "StringSetting")
                _sub(setting, AD, "Name", name)
                _sub(setting, AD, "Value", values[name])
    return bytes(etree.tostring(env, xml_declaration=True, encoding="utf-8"))
