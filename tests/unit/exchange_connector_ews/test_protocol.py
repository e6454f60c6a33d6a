"""EWS error classification and Autodiscover parsing (ewsclient.soap/errors/
autodiscover), pure: the shapes come from protocols.md B3/B5."""

from __future__ import annotations

import pytest
from ewsclient.autodiscover import candidates, parse_pox, parse_user_settings
from ewsclient.errors import (
    AutodiscoverFailed,
    ImpersonationDenied,
    ServiceAccountRejected,
    classify_code,
    classify_status,
)
from ewsclient.soap import el, envelope, fault_fields, m, parse, t
from exchange_connector.errors import (
    AccessDenied,
    MailboxNotFound,
    PreconditionFailed,
    SyncStateGone,
    Throttled,
)

TYPES = "http://schemas.microsoft.com/exchange/services/2006/types"
ERRORS = "http://schemas.microsoft.com/exchange/services/2006/errors"
# The ErrorServerBusy fault as a real server sends it (protocols.md B5, exchangelib's fixture).
SERVER_BUSY = (
    '<?xml version="1.0" encoding="utf-8"?>'
    '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault>'
    f'<faultcode xmlns:a="{TYPES}">a:ErrorServerBusy</faultcode>'
    '<faultstring xml:lang="en-US">The server cannot service this request right now.'
    " Try again later.</faultstring>"
    f'<detail><e:ResponseCode xmlns:e="{ERRORS}">ErrorServerBusy</e:ResponseCode>'
    f'<e:Message xmlns:e="{ERRORS}">busy</e:Message>'
    f'<t:MessageXml xmlns:t="{TYPES}"><t:Value Name="BackOffMilliseconds">297749</t:Value>'
    "</t:MessageXml></detail></s:Fault></s:Body></s:Envelope>"
).encode()


def test_server_busy_fault_becomes_throttled_with_its_back_off() -> None:
    fields = fault_fields(parse(SERVER_BUSY))
    assert fields is not None
    error = classify_code(*fields)
    assert isinstance(error, Throttled)
    assert error.retry_after == pytest.approx(297.749)


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("ErrorImpersonateUserDenied", ImpersonationDenied),
        ("ErrorAccessDenied", AccessDenied),
        ("ErrorNonExistentMailbox", MailboxNotFound),
        ("ErrorInvalidSyncStateData", SyncStateGone),
        ("ErrorIrresolvableConflict", PreconditionFailed),
    ],
)
def test_codes_classify_once(code: str, kind: type[Exception]) -> None:
    assert type(classify_code(code, "x")) is kind


def test_http_401_is_a_rejected_service_account_with_remediation() -> None:
    error = classify_status(401, "")
    assert isinstance(error, ServiceAccountRejected)
    assert error.to_sync_error().remediation is not None


def test_envelope_impersonates_by_primary_smtp_address() -> None:
    doc = parse(envelope(el(m("GetFolder")), "alice@contoso.example"))
    path = f".//{t('ExchangeImpersonation')}/{t('ConnectingSID')}/{t('PrimarySmtpAddress')}"
    assert doc.findtext(path) == "alice@contoso.example"
    assert doc.find(f".//{t('RequestServerVersion')}").get("Version") == "Exchange2016"  # type: ignore[union-attr]


def test_autodiscover_candidates_and_pox_answers() -> None:
    assert candidates("a@contoso.example", None) == [
        "https://contoso.example/autodiscover/autodiscover.svc",
        "https://autodiscover.contoso.example/autodiscover/autodiscover.svc",
        "https://contoso.example/autodiscover/autodiscover.xml",
        "https://autodiscover.contoso.example/autodiscover/autodiscover.xml",
    ]
    ns = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
    settings = (
        f'<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">'
        f'<Response xmlns="{ns}"><Account><Action>settings</Action>'
        "<Protocol><Type>EXCH</Type><EwsUrl>https://int/EWS/Exchange.asmx</EwsUrl></Protocol>"
        "<Protocol><Type>EXPR</Type><EwsUrl>https://ext/EWS/Exchange.asmx</EwsUrl></Protocol>"
        "</Account></Response></Autodiscover>"
    ).encode()
    assert parse_pox(settings) == ("settings", "https://ext/EWS/Exchange.asmx")
    redirect = settings.replace(
        b"<Action>settings</Action>",
        b"<Action>redirectAddr</Action><RedirectAddr>b@x.example</RedirectAddr>",
    )
    assert parse_pox(redirect) == ("redirectAddr", "b@x.example")
    error = (
        b'<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">'
        b"<Response><Error><ErrorCode>500</ErrorCode><Message>nope</Message></Error></Response>"
        b"</Autodiscover>"
    )
    with pytest.raises(AutodiscoverFailed):
        parse_pox(error)


def test_soap_get_user_settings_answers() -> None:
    a = "http://schemas.microsoft.com/exchange/2010/Autodiscover"
    xsi = "http://www.w3.org/2001/XMLSchema-instance"

    def answer(user: str) -> bytes:
        return (
            f'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
            f'<GetUserSettingsResponseMessage xmlns="{a}"><Response xmlns:i="{xsi}">'
            "<ErrorCode>NoError</ErrorCode><ErrorMessage/><UserResponses><UserResponse>"
            f"{user}</UserResponse></UserResponses></Response></GetUserSettingsResponseMessage>"
            "</s:Body></s:Envelope>"
        ).encode()

    found = answer(
        "<ErrorCode>NoError</ErrorCode><UserSettings>"
        '<UserSetting i:type="StringSetting"><Name>InternalEwsUrl</Name>'
        "<Value>https://int/EWS/Exchange.asmx</Value></UserSetting>"
        '<UserSetting i:type="StringSetting"><Name>ExternalEwsUrl</Name>'
        "<Value>https://ext/EWS/Exchange.asmx</Value></UserSetting></UserSettings>"
    )
    assert parse_user_settings(found) == ("settings", "https://ext/EWS/Exchange.asmx")
    moved = answer(
        "<ErrorCode>RedirectAddress</ErrorCode><RedirectTarget>b@x.example</RedirectTarget>"
    )
    assert parse_user_settings(moved) == ("redirectAddr", "b@x.example")
    with pytest.raises(AutodiscoverFailed) as caught:
        parse_user_settings(answer("<ErrorCode>InvalidUser</ErrorCode>"))
    assert caught.value.code == "AutodiscoverInvalidUser"
