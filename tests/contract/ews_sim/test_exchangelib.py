"""A standard EWS client, exchangelib 5.6 (protocols.md B8), works against the simulator
unchanged: its version probe (ConvertId, B1), distinguished folders, FindFolder, CreateItem,
SyncFolderItems, GetItem, UpdateItem, DeleteItem, ErrorServerBusy back-off and impersonation;
with Basic, NTLM and its own auth-type detection."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from exchangelib import (  # type: ignore[import-untyped]  # (no py.typed)
    BASIC,
    IMPERSONATION,
    NTLM,
    Account,
    CalendarItem,
    Configuration,
    Contact,
    Credentials,
    EWSDateTime,
    EWSTimeZone,
    close_connections,
)
from exchangelib.errors import (  # type: ignore[import-untyped]
    ErrorImpersonateUserDenied,
    ErrorServerBusy,
)
from simulators.common.tls import ServerTLS

from tests.contract.ews_sim.conftest import Ews


@pytest.fixture(params=[BASIC, NTLM, None], ids=["basic", "ntlm", "detected"])
def config(
    request: pytest.FixtureRequest, ews: Ews, ews_tls: ServerTLS, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Configuration]:
    # exchangelib talks through requests, which takes a custom CA from the environment.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ews_tls.ca_file))
    credentials = Credentials(ews.credentials["username"], ews.credentials["password"])
    # exchangelib caches one protocol (with its auth type) per endpoint and credentials.
    close_connections()
    yield Configuration(
        service_endpoint=ews.credentials["ews_url"],
        credentials=credentials,
        auth_type=request.param,  # None: exchangelib probes the 401 and prefers NTLM (B2)
    )
    close_connections()


def _account(smtp: str, config: Configuration) -> Account:
    return Account(smtp, config=config, autodiscover=False, access_type=IMPERSONATION)


def test_exchangelib_syncs_and_writes_items(ews: Ews, config: Configuration) -> None:
    mailbox = ews.new_mailbox()["smtp"]
    account = _account(mailbox, config)
    assert account.version.api_version == "Exchange2016"
    assert account.protocol.auth_type == (config.auth_type or NTLM)
    folder = account.contacts / "Salesforce_Sync"
    contact = Contact(folder=folder, given_name="Ex", surname="Lib", display_name="Ex Lib")
    contact.save()
    changes = list(folder.sync_items())
    assert [(kind, item.id) for kind, item in changes] == [("create", contact.id)]
    assert folder.item_sync_state
    assert list(folder.sync_items()) == []  # nothing new since the stored state

    pacific = EWSTimeZone("America/Los_Angeles")
    start = EWSDateTime(2026, 12, 1, 9, 0, tzinfo=pacific)
    event = CalendarItem(
        folder=account.calendar, subject="Call", start=start, end=start + dt.timedelta(minutes=30)
    )
    event.save(send_meeting_invitations="SendToNone")
    event.subject = "Renamed call"
    event.save(update_fields=["subject"], send_meeting_invitations="SendToNone")
    (fetched,) = account.fetch(ids=[(event.id, event.changekey)])
    assert fetched.subject == "Renamed call"
    assert fetched.start == start
    event.delete(send_meeting_cancellations="SendToNone")
    assert ews.state(mailbox)["sent"] == []
    assert [i["kind"] for i in ews.state(mailbox)["items"]] == ["Contact"]


def test_exchangelib_reads_back_off_and_impersonation_errors(
    ews: Ews, config: Configuration
) -> None:
    box = ews.new_mailbox()
    account = _account(box["smtp"], config)
    assert account.contacts.name == "Contacts"
    ews.http.post("/_sim/throttle", json={"count": 1, "back_off_ms": 1500})
    with pytest.raises(ErrorServerBusy) as busy:
        account.contacts.refresh()
    assert busy.value.back_off == 1.5
    denied = _account(ews.new_mailbox(impersonable=False)["smtp"], config)
    with pytest.raises(ErrorImpersonateUserDenied):
        _ = denied.contacts
