"""Autodiscover: an email address → the EWS URL of its mailbox (protocols.md B3; EWS reference
`getusersettings-operation-soap.md`, `pox-autodiscover-request-for-exchange.md`).

SOAP Autodiscover (`GetUserSettings`, Exchange 2010+, what exchangelib uses) is tried first,
POX (`autodiscover.xml`, Exchange 2007+) second. Candidates are the configured Autodiscover URL
(its suffix says which protocol), else `https://{domain}/autodiscover/…` then
`https://autodiscover.{domain}/autodiscover/…`. Redirects to another address are followed once;
the external EWS URL wins over the internal one.
"""

from __future__ import annotations

import httpx
from lxml import etree

from ewsclient.errors import AutodiscoverFailed, classify_status

REQUEST_NS = "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"
RESPONSE_NS = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
ERROR_NS = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
AD = "http://schemas.microsoft.com/exchange/2010/Autodiscover"
WSA = "http://www.w3.org/2005/08/addressing"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)


def pox_request(email: str) -> bytes:
    root = etree.Element(f"{{{REQUEST_NS}}}Autodiscover", nsmap={None: REQUEST_NS})
    request = etree.SubElement(root, f"{{{REQUEST_NS}}}Request")
    etree.SubElement(request, f"{{{REQUEST_NS}}}EMailAddress").text = email
    schema = etree.SubElement(request, f"{{{REQUEST_NS}}}AcceptableResponseSchema")
    schema.text = RESPONSE_NS
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))


def candidates(email: str, explicit: str | None) -> list[str]:
    if explicit:
        return [explicit]
    domain = email.rsplit("@", 1)[-1]
    hosts = [domain, f"autodiscover.{domain}"]
    return [f"https://{h}/autodiscover/autodiscover.svc" for h in hosts] + [
        f"https://{h}/autodiscover/autodiscover.xml" for h in hosts
    ]


def soap_request(email: str, url: str) -> bytes:
    env = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV, "a": AD, "wsa": WSA})
    header = etree.SubElement(env, f"{{{SOAP_ENV}}}Header")
    etree.SubElement(header, f"{{{AD}}}RequestedServerVersion").text = "Exchange2013"
    action = etree.SubElement(header, f"{{{WSA}}}Action")
    action.text = f"{AD}/Autodiscover/GetUserSettings"
    etree.SubElement(header, f"{{{WSA}}}To").text = url
    body = etree.SubElement(env, f"{{{SOAP_ENV}}}Body")
    request = etree.SubElement(
        etree.SubElement(body, f"{{{AD}}}GetUserSettingsRequestMessage"), f"{{{AD}}}Request"
    )
    user = etree.SubElement(etree.SubElement(request, f"{{{AD}}}Users"), f"{{{AD}}}User")
    etree.SubElement(user, f"{{{AD}}}Mailbox").text = email
    settings = etree.SubElement(request, f"{{{AD}}}RequestedSettings")
    for name in ("ExternalEwsUrl", "InternalEwsUrl"):
        etree.SubElement(settings, f"{{{AD}}}Setting").text = name
    return bytes(etree.tostring(env, xml_declaration=True, encoding="utf-8"))


def parse_user_settings(raw: bytes) -> tuple[str, str]:
    """("settings", ews_url) | ("redirectAddr", email) | ("redirectUrl", url); else raises."""
    root = etree.fromstring(raw, _PARSER)
    response = root.find(f".//{{{AD}}}GetUserSettingsResponseMessage/{{{AD}}}Response")
    if response is None:
        raise AutodiscoverFailed("AutodiscoverInvalid", "no GetUserSettings response")
    user = response.find(f"{{{AD}}}UserResponses/{{{AD}}}UserResponse")
    code = response.findtext(f"{{{AD}}}ErrorCode") or "NoError"
    if code == "NoError" and user is not None:
        code = user.findtext(f"{{{AD}}}ErrorCode") or "NoError"
        response = user
    target = response.findtext(f"{{{AD}}}RedirectTarget") or ""
    if code == "RedirectAddress":
        return "redirectAddr", target
    if code == "RedirectUrl":
        return "redirectUrl", target
    if code != "NoError":
        message = response.findtext(f"{{{AD}}}ErrorMessage") or ""
        raise AutodiscoverFailed(f"Autodiscover{code}", message)
    values = {
        s.findtext(f"{{{AD}}}Name"): s.findtext(f"{{{AD}}}Value")
        for s in response.iter(f"{{{AD}}}UserSetting")
    }
    url = values.get("ExternalEwsUrl") or values.get("InternalEwsUrl")
    if not url:
        raise AutodiscoverFailed("AutodiscoverNoEwsUrl", "the response names no EWS URL")
    return "settings", url


def parse_pox(raw: bytes) -> tuple[str, str]:
    """("settings", ews_url) | ("redirectAddr", email) | ("redirectUrl", url); else raises."""
    root = etree.fromstring(raw, _PARSER)
    error = root.find(f"{{{ERROR_NS}}}Response/{{{ERROR_NS}}}Error")
    if error is not None:
        code = error.findtext(f"{{{ERROR_NS}}}ErrorCode") or "Error"
        raise AutodiscoverFailed(
            f"Autodiscover{code}", error.findtext(f"{{{ERROR_NS}}}Message") or ""
        )
    account = root.find(f"{{{RESPONSE_NS}}}Response/{{{RESPONSE_NS}}}Account")
    if account is None:
        raise AutodiscoverFailed("AutodiscoverInvalid", "no Account in the response")
    action = account.findtext(f"{{{RESPONSE_NS}}}Action") or "settings"
    if action == "redirectAddr":
        return action, account.findtext(f"{{{RESPONSE_NS}}}RedirectAddr") or ""
    if action == "redirectUrl":
        return action, account.findtext(f"{{{RESPONSE_NS}}}RedirectUrl") or ""
    urls: dict[str, str] = {}
    for protocol in account.iter(f"{{{RESPONSE_NS}}}Protocol"):
        url = protocol.findtext(f"{{{RESPONSE_NS}}}EwsUrl")
        if url:
            urls[protocol.findtext(f"{{{RESPONSE_NS}}}Type") or ""] = url
    url = urls.get("EXPR") or urls.get("EXCH") or next(iter(urls.values()), None)
    if not url:
        raise AutodiscoverFailed("AutodiscoverNoEwsUrl", "the response names no EWS URL")
    return "settings", url


async def discover_ews_url(
    http: httpx.AsyncClient, email: str, explicit: str | None = None, hops: int = 2
) -> str:
    last: Exception | None = None
    for url in candidates(email, explicit):
        soap = url.endswith(".svc")
        body = soap_request(email, url) if soap else pox_request(email)
        try:
            response = await http.post(
                url, content=body, headers={"Content-Type": "text/xml; charset=utf-8"}
            )
        except httpx.TransportError as exc:
            last = exc
            continue
        if response.status_code == 401:
            raise classify_status(401, "")
        if response.status_code != 200:
            last = classify_status(response.status_code, response.text)
            continue
        try:
            action, value = (parse_user_settings if soap else parse_pox)(response.content)
        except etree.XMLSyntaxError as exc:
            last = exc
            continue
        if action == "settings":
            return value
        if hops <= 0 or not value:
            raise AutodiscoverFailed("AutodiscoverRedirectLoop", "too many redirects")
        if action == "redirectAddr":
            return await discover_ews_url(http, value, explicit, hops - 1)
        return await discover_ews_url(http, email, value, hops - 1)
    # Chained, so a caller can tell an untrusted certificate from an unreachable host.
    raise AutodiscoverFailed(
        "AutodiscoverUnreachable", f"no Autodiscover answered: {last}"
    ) from last
