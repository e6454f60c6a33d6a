"""The EWS simulator's protocol surface against the EWS reference (protocols.md B1-B5):
authentication, version header, impersonation, throttling faults, Autodiscover."""

from __future__ import annotations

import base64
import ssl

import httpx
import spnego
from lxml import etree
from simulators.common.server import BackgroundServer
from simulators.common.tls import ServerTLS

from tests.contract.ews_sim.conftest import Ews, code, envelope, xp

CONVERT_ID = (
    '<m:ConvertId DestinationFormat="EntryId"><m:SourceIds>'
    '<t:AlternateId Format="EwsId" Id="AAAA" Mailbox="x@contoso-sim.example"/>'
    "</m:SourceIds></m:ConvertId>"
)
GET_CONTACTS = (
    "<m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape>"
    '<m:FolderIds><t:DistinguishedFolderId Id="contacts"/></m:FolderIds></m:GetFolder>'
)


def test_no_credentials_get_ntlm_and_basic_challenges(ews: Ews) -> None:
    # B2: the 401 names the schemes (exchangelib picks its auth type from WWW-Authenticate).
    response = ews.http.post("/EWS/Exchange.asmx", content=envelope(CONVERT_ID))
    assert response.status_code == 401
    schemes = [v.split()[0] for v in response.headers.get_list("www-authenticate")]
    assert schemes == ["NTLM", "Negotiate", "Basic"]
    assert ews.credentials["auth"] == ["Basic", "NTLM"]
    wrong = ews.http.post(
        "/EWS/Exchange.asmx", content=envelope(CONVERT_ID), auth=(ews.auth[0], "nope")
    )
    assert wrong.status_code == 401


def test_every_response_carries_server_version_info(ews: Ews) -> None:
    # B1 (serverversioninfo.md): exchangelib refuses responses without it; ConvertId is its probe.
    status, doc = ews.post(CONVERT_ID)
    assert status == 200
    info = xp(doc, "/s:Envelope/s:Header/t:ServerVersionInfo")[0]
    assert info.get("MajorVersion") == "15"
    assert xp(doc, "//m:ConvertIdResponseMessage")


def test_unknown_request_server_version_is_a_fault(ews: Ews) -> None:
    status, doc = ews.post(CONVERT_ID, version="Exchange2099")
    assert status == 500
    assert code(doc) == "ErrorInvalidServerVersion"
    assert xp(doc, "//s:Fault/faultcode/text()") == ["a:ErrorInvalidServerVersion"]


def test_impersonation_needs_the_right_per_mailbox(ews: Ews) -> None:
    # B4 (exchangeimpersonation.md): no impersonation right -> ErrorImpersonateUserDenied.
    allowed = ews.new_mailbox()["smtp"]
    denied = ews.new_mailbox(impersonable=False)["smtp"]
    assert code(ews.ok(GET_CONTACTS, allowed)) == "NoError"
    status, doc = ews.post(GET_CONTACTS, denied)
    assert (status, code(doc)) == (500, "ErrorImpersonateUserDenied")
    status, doc = ews.post(GET_CONTACTS, "nobody@contoso-sim.example")
    assert (status, code(doc)) == (500, "ErrorNonExistentMailbox")
    # Granting the right at runtime takes effect (New-ManagementRoleAssignment).
    ews.http.post("/_sim/impersonation", json={"smtp": denied, "allowed": True})
    assert code(ews.ok(GET_CONTACTS, denied)) == "NoError"


def test_without_impersonation_a_mailboxless_account_must_name_the_mailbox(ews: Ews) -> None:
    doc = ews.ok(GET_CONTACTS)
    assert code(doc) == "ErrorMissingEmailAddress"


def test_server_busy_fault_carries_back_off(ews: Ews) -> None:
    # B5 (ews-throttling-in-exchange.md): HTTP 500 SOAP fault, MessageXml BackOffMilliseconds.
    mailbox = ews.new_mailbox()["smtp"]
    ews.http.post("/_sim/throttle", json={"count": 1, "back_off_ms": 1234})
    status, doc = ews.post(GET_CONTACTS, mailbox)
    assert status == 500
    assert code(doc) == "ErrorServerBusy"
    assert xp(doc, "//t:MessageXml/t:Value[@Name='BackOffMilliseconds']/text()") == ["1234"]
    assert code(ews.ok(GET_CONTACTS, mailbox)) == "NoError"


def test_injected_fault_bursts_are_server_busy_soap(ews: Ews) -> None:
    mailbox = ews.new_mailbox()["smtp"]
    ews.http.post("/_sim/faults", json={"burst": {"status": 500, "count": 1, "retry_after": 2}})
    try:
        status, doc = ews.post(GET_CONTACTS, mailbox)
        assert status == 500
        assert code(doc) == "ErrorServerBusy"
        assert xp(doc, "//t:Value[@Name='BackOffMilliseconds']/text()") == ["2000"]
    finally:
        ews.http.delete("/_sim/faults")


def test_pox_autodiscover_returns_the_ews_url(ews: Ews) -> None:
    # B3 (pox-autodiscover-response-for-exchange.md): Account/Protocol/EwsUrl.
    mailbox = ews.new_mailbox()["smtp"]
    ns = "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"
    body = (
        f'<Autodiscover xmlns="{ns}"><Request><EMailAddress>{mailbox}</EMailAddress>'
        "<AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/"
        "responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>"
    )
    response = ews.http.post("/autodiscover/autodiscover.xml", content=body, auth=ews.auth)
    doc = etree.fromstring(response.content)
    out = {"o": "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"}
    urls = doc.xpath("//o:Protocol[o:Type='EXPR']/o:EwsUrl/text()", namespaces=out)
    assert urls == [ews.credentials["ews_url"]]
    unknown = ews.http.post(
        "/autodiscover/autodiscover.xml",
        content=body.replace(mailbox, "ghost@contoso-sim.example"),
        auth=ews.auth,
    )
    err = {"r": "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"}
    assert etree.fromstring(unknown.content).xpath("//r:ErrorCode/text()", namespaces=err) == [
        "500"
    ]
    assert ews.http.post("/autodiscover/autodiscover.xml", content=body).status_code == 401


def test_soap_autodiscover_get_user_settings(ews: Ews) -> None:
    # B3 (getusersettings-operation-soap.md).
    mailbox = ews.new_mailbox()["smtp"]
    a = "http://schemas.microsoft.com/exchange/2010/Autodiscover"
    body = (
        f'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:a="{a}">'
        "<s:Header><a:RequestedServerVersion>Exchange2013</a:RequestedServerVersion></s:Header>"
        "<s:Body><a:GetUserSettingsRequestMessage><a:Request><a:Users><a:User>"
        f"<a:Mailbox>{mailbox}</a:Mailbox></a:User></a:Users><a:RequestedSettings>"
        "<a:Setting>ExternalEwsUrl</a:Setting><a:Setting>UserDisplayName</a:Setting>"
        "</a:RequestedSettings></a:Request></a:GetUserSettingsRequestMessage></s:Body></s:Envelope>"
    )
    response = ews.http.post("/autodiscover/autodiscover.svc", content=body, auth=ews.auth)
    doc = etree.fromstring(response.content)
    ns = {"a": a}
    assert doc.xpath("//a:UserResponse/a:ErrorCode/text()", namespaces=ns) == ["NoError"]
    value = doc.xpath("//a:UserSetting[a:Name='ExternalEwsUrl']/a:Value/text()", namespaces=ns)
    assert value == [ews.credentials["ews_url"]]
    assert doc.xpath("//a:ServerVersionInfo/a:MajorVersion/text()", namespaces=ns) == ["15"]


def _ntlm_round(http: httpx.Client, password: str, username: str) -> list[int]:
    context = spnego.client(username, password, protocol="ntlm")
    first = http.post(
        "/EWS/Exchange.asmx",
        content=envelope(CONVERT_ID),
        headers={"Authorization": "NTLM " + base64.b64encode(context.step() or b"").decode()},
    )
    challenge = first.headers["www-authenticate"].split()[1]
    second = http.post(
        "/EWS/Exchange.asmx",
        content=envelope(CONVERT_ID),
        headers={
            "Authorization": "NTLM "
            + base64.b64encode(context.step(base64.b64decode(challenge)) or b"").decode()
        },
    )
    third = http.post("/EWS/Exchange.asmx", content=envelope(CONVERT_ID))
    return [first.status_code, second.status_code, third.status_code]


def test_ntlm_handshake_authenticates_the_connection(
    ews: Ews, ews_server: BackgroundServer, ews_tls: ServerTLS
) -> None:
    # B2: type 1 -> 401 with the type-2 challenge -> type 3 on the same connection -> 200;
    # the connection then stays authenticated (IIS), a wrong password never gets there.
    verify = ssl.create_default_context(cafile=str(ews_tls.ca_file))
    one_connection = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    with httpx.Client(base_url=ews_server.base_url, verify=verify, limits=one_connection) as http:
        assert _ntlm_round(http, ews.auth[1], ews.auth[0]) == [401, 200, 200]
    with httpx.Client(base_url=ews_server.base_url, verify=verify, limits=one_connection) as http:
        assert _ntlm_round(http, "wrong", ews.auth[0]) == [401, 401, 401]
