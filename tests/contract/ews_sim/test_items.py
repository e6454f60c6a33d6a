"""Folders, SyncFolderItems and item operations of the EWS simulator against the EWS reference
(syncfolderitems-operation.md, maxchangesreturned.md, createitem-operation-calendar-item.md,
updateitem-operation.md, deleteitem-operation.md, findfolder-operation.md; protocols.md B6, B7)."""

from __future__ import annotations

from typing import Any

from tests.contract.ews_sim.conftest import Ews, code, xp

MARKER = (
    '<t:ExtendedFieldURI PropertySetId="8ECCC264-6880-4EBE-992F-8888D2EEAA1D" '
    'PropertyName="SynclineMarker" PropertyType="String"/>'
)


def sync(ews: Ews, mailbox: str, folder: str, state: str | None = None, limit: int = 512) -> Any:
    state_xml = f"<m:SyncState>{state}</m:SyncState>" if state else ""
    return ews.ok(
        "<m:SyncFolderItems><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape>"
        f"<m:SyncFolderId>{folder}</m:SyncFolderId>{state_xml}"
        f"<m:MaxChangesReturned>{limit}</m:MaxChangesReturned></m:SyncFolderItems>",
        mailbox,
    )


def sync_folder(folder_id: str) -> str:
    return f'<t:FolderId Id="{folder_id}"/>'


def create_contact(ews: Ews, mailbox: str, folder_id: str, given: str) -> tuple[str, str]:
    doc = ews.ok(
        '<m:CreateItem MessageDisposition="SaveOnly">'
        f'<m:SavedItemFolderId><t:FolderId Id="{folder_id}"/></m:SavedItemFolderId>'
        f"<m:Items><t:Contact><t:ExtendedProperty>{MARKER}<t:Value>link-1|cmd-1</t:Value>"
        f"</t:ExtendedProperty><t:GivenName>{given}</t:GivenName>"
        '<t:EmailAddresses><t:Entry Key="EmailAddress1">a@b.example</t:Entry></t:EmailAddresses>'
        "<t:Surname>Tester</t:Surname></t:Contact></m:Items></m:CreateItem>",
        mailbox,
    )
    assert code(doc) == "NoError"
    node = xp(doc, "//m:Items/t:Contact/t:ItemId")[0]
    return node.get("Id"), node.get("ChangeKey")


def event_xml(subject: str, attendee: str | None = None, recurrence: str = "") -> str:
    people = (
        "<t:RequiredAttendees><t:Attendee><t:Mailbox>"
        f"<t:EmailAddress>{attendee}</t:EmailAddress></t:Mailbox></t:Attendee>"
        "</t:RequiredAttendees>"
        if attendee
        else ""
    )
    return (
        f"<t:CalendarItem><t:Subject>{subject}</t:Subject>"
        "<t:Start>2026-12-01T17:00:00Z</t:Start><t:End>2026-12-01T17:30:00Z</t:End>"
        f"{people}{recurrence}"
        '<t:StartTimeZone Id="Pacific Standard Time"/></t:CalendarItem>'
    )


def test_find_and_create_the_sync_folder(ews: Ews) -> None:
    mailbox = ews.new_mailbox(sync_folder=False)["smtp"]
    find = (
        '<m:FindFolder Traversal="Shallow"><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape>'
        "</m:FolderShape><m:Restriction><t:IsEqualTo>"
        '<t:FieldURI FieldURI="folder:DisplayName"/><t:FieldURIOrConstant>'
        '<t:Constant Value="Salesforce_Sync"/></t:FieldURIOrConstant></t:IsEqualTo>'
        '</m:Restriction><m:ParentFolderIds><t:DistinguishedFolderId Id="contacts"/>'
        "</m:ParentFolderIds></m:FindFolder>"
    )
    assert xp(ews.ok(find, mailbox), "//m:RootFolder/@TotalItemsInView") == ["0"]
    create = (
        '<m:CreateFolder><m:ParentFolderId><t:DistinguishedFolderId Id="contacts"/>'
        "</m:ParentFolderId><m:Folders><t:ContactsFolder><t:DisplayName>Salesforce_Sync"
        "</t:DisplayName></t:ContactsFolder></m:Folders></m:CreateFolder>"
    )
    created = xp(ews.ok(create, mailbox), "//t:ContactsFolder/t:FolderId/@Id")
    assert xp(ews.ok(find, mailbox), "//t:ContactsFolder/t:FolderId/@Id") == created
    assert code(ews.ok(create, mailbox)) == "ErrorFolderExists"


def test_sync_pages_and_reports_create_update_delete(ews: Ews) -> None:
    box = ews.new_mailbox()
    mailbox, folder = box["smtp"], box["sync_folder_id"]
    ids = [create_contact(ews, mailbox, folder, f"P{i}")[0] for i in range(5)]
    # maxchangesreturned.md: at most N changes; IncludesLastItemInRange false while more remain.
    first = sync(ews, mailbox, sync_folder(folder), limit=3)
    assert xp(first, "//m:IncludesLastItemInRange/text()") == ["false"]
    assert len(xp(first, "//m:Changes/t:Create")) == 3
    state = xp(first, "//m:SyncState/text()")[0]
    second = sync(ews, mailbox, sync_folder(folder), state, limit=3)
    assert xp(second, "//m:IncludesLastItemInRange/text()") == ["true"]
    seen = xp(first, "//t:ItemId/@Id") + xp(second, "//t:ItemId/@Id")
    assert sorted(seen) == sorted(ids)
    state = xp(second, "//m:SyncState/text()")[0]
    # Changes since the state: an update, a delete, and a create+delete that nets to nothing.
    item = ews.state(mailbox)["items"]
    key = next(i["change_key"] for i in item if i["id"] == ids[0])
    update = (
        '<m:UpdateItem MessageDisposition="SaveOnly" ConflictResolution="NeverOverwrite">'
        f'<m:ItemChanges><t:ItemChange><t:ItemId Id="{ids[0]}" ChangeKey="{key}"/><t:Updates>'
        '<t:SetItemField><t:FieldURI FieldURI="contacts:GivenName"/><t:Contact>'
        "<t:GivenName>Renamed</t:GivenName></t:Contact></t:SetItemField>"
        "</t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>"
    )
    assert code(ews.ok(update, mailbox)) == "NoError"
    delete = (
        '<m:DeleteItem DeleteType="HardDelete">'
        f'<m:ItemIds><t:ItemId Id="{ids[1]}"/></m:ItemIds></m:DeleteItem>'
    )
    assert code(ews.ok(delete, mailbox)) == "NoError"
    transient, _ = create_contact(ews, mailbox, folder, "Brief")
    ews.ok(delete.replace(ids[1], transient), mailbox)
    third = sync(ews, mailbox, sync_folder(folder), state)
    assert xp(third, "//t:Update//t:ItemId/@Id") == [ids[0]]
    assert xp(third, "//t:Delete/t:ItemId/@Id") == [ids[1]]
    assert xp(third, "//t:Create") == []


def test_sync_limits_and_invalid_state(ews: Ews) -> None:
    mailbox = ews.new_mailbox()["smtp"]
    calendar = '<t:DistinguishedFolderId Id="calendar"/>'
    status, doc = ews.post(
        "<m:SyncFolderItems><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape>"
        f"<m:SyncFolderId>{calendar}</m:SyncFolderId>"
        "<m:MaxChangesReturned>513</m:MaxChangesReturned></m:SyncFolderItems>",
        mailbox,
    )
    assert (status, code(doc)) == (500, "ErrorSchemaValidation")
    # syncfolderitems-operation.md: a bad state -> Error, empty SyncState, last item in range.
    bad = sync(ews, mailbox, calendar, "Z2FyYmFnZQ==")
    assert code(bad) == "ErrorInvalidSyncStateData"
    assert xp(bad, "//m:SyncFolderItemsResponseMessage/@ResponseClass") == ["Error"]
    assert xp(bad, "//m:SyncState/text()") == []
    assert xp(bad, "//m:IncludesLastItemInRange/text()") == ["true"]
    state = xp(sync(ews, mailbox, calendar), "//m:SyncState/text()")[0]
    ews.http.post("/_sim/invalidate-sync")
    assert code(sync(ews, mailbox, calendar, state)) == "ErrorInvalidSyncStateData"


def test_calendar_create_needs_send_meeting_invitations(ews: Ews) -> None:
    mailbox = ews.new_mailbox()["smtp"]
    body = f"<m:Items>{event_xml('Quiet', 'guest@customer.example')}</m:Items>"
    status, doc = ews.post(f"<m:CreateItem>{body}</m:CreateItem>", mailbox)
    assert (status, code(doc)) == (500, "ErrorSendMeetingInvitationsRequired")
    quiet = ews.ok(
        f'<m:CreateItem SendMeetingInvitations="SendToNone">{body}</m:CreateItem>', mailbox
    )
    assert code(quiet) == "NoError"
    assert ews.state(mailbox)["sent"] == []
    loud = f'<m:CreateItem SendMeetingInvitations="SendToAllAndSaveCopy">{body}</m:CreateItem>'
    assert code(ews.ok(loud, mailbox)) == "NoError"
    assert [s["to"] for s in ews.state(mailbox)["sent"]] == ["guest@customer.example"]


def test_update_with_a_stale_change_key_is_an_irresolvable_conflict(ews: Ews) -> None:
    box = ews.new_mailbox()
    item_id, key = create_contact(ews, box["smtp"], box["sync_folder_id"], "First")

    def update(change_key: str, resolution: str) -> Any:
        return ews.ok(
            f'<m:UpdateItem MessageDisposition="SaveOnly" ConflictResolution="{resolution}">'
            f'<m:ItemChanges><t:ItemChange><t:ItemId Id="{item_id}" ChangeKey="{change_key}"/>'
            '<t:Updates><t:SetItemField><t:IndexedFieldURI FieldURI="contacts:EmailAddress" '
            'FieldIndex="EmailAddress1"/><t:Contact><t:EmailAddresses>'
            '<t:Entry Key="EmailAddress1">new@b.example</t:Entry></t:EmailAddresses></t:Contact>'
            "</t:SetItemField></t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>",
            box["smtp"],
        )

    fresh = update(key, "NeverOverwrite")
    assert code(fresh) == "NoError"
    new_key = xp(fresh, "//t:ItemId/@ChangeKey")[0]
    assert new_key != key
    assert code(update(key, "NeverOverwrite")) == "ErrorIrresolvableConflict"
    assert code(update(key, "AlwaysOverwrite")) == "NoError"


def test_get_item_returns_recurrence_and_requested_extended_properties(ews: Ews) -> None:
    box = ews.new_mailbox()
    item_id, _ = create_contact(ews, box["smtp"], box["sync_folder_id"], "Ext")

    def get(extra: str) -> Any:
        return ews.ok(
            "<m:GetItem><m:ItemShape><t:BaseShape>AllProperties</t:BaseShape>"
            f'{extra}</m:ItemShape><m:ItemIds><t:ItemId Id="{item_id}"/></m:ItemIds></m:GetItem>',
            box["smtp"],
        )

    assert xp(get(""), "//t:ExtendedProperty") == []
    with_marker = get(f"<t:AdditionalProperties>{MARKER}</t:AdditionalProperties>")
    assert xp(with_marker, "//t:ExtendedProperty/t:Value/text()") == ["link-1|cmd-1"]
    recurrence = (
        "<t:Recurrence><t:WeeklyRecurrence><t:Interval>1</t:Interval>"
        "<t:DaysOfWeek>Tuesday</t:DaysOfWeek></t:WeeklyRecurrence><t:NumberedRecurrence>"
        "<t:StartDate>2026-12-01</t:StartDate><t:NumberOfOccurrences>5</t:NumberOfOccurrences>"
        "</t:NumberedRecurrence></t:Recurrence>"
    )
    created = ews.ok(
        '<m:CreateItem SendMeetingInvitations="SendToNone"><m:Items>'
        f"{event_xml('Weekly', recurrence=recurrence)}</m:Items></m:CreateItem>",
        box["smtp"],
    )
    event_id = xp(created, "//t:ItemId/@Id")[0]
    got = ews.ok(
        "<m:GetItem><m:ItemShape><t:BaseShape>AllProperties</t:BaseShape></m:ItemShape>"
        f'<m:ItemIds><t:ItemId Id="{event_id}"/></m:ItemIds></m:GetItem>',
        box["smtp"],
    )
    assert xp(got, "//t:CalendarItemType/text()") == ["RecurringMaster"]
    assert xp(got, "//t:WeeklyRecurrence/t:DaysOfWeek/text()") == ["Tuesday"]
    ews.http.post(
        "/_sim/cancel-occurrence",
        json={"smtp": box["smtp"], "item_id": event_id, "start": "2026-12-08T17:00:00Z"},
    )
    again = ews.ok(
        "<m:GetItem><m:ItemShape><t:BaseShape>AllProperties</t:BaseShape></m:ItemShape>"
        f'<m:ItemIds><t:ItemId Id="{event_id}"/></m:ItemIds></m:GetItem>',
        box["smtp"],
    )
    assert xp(again, "//t:DeletedOccurrence/t:Start/text()") == ["2026-12-08T17:00:00Z"]


def test_delete_calendar_item_needs_cancellation_choice_and_then_is_gone(ews: Ews) -> None:
    mailbox = ews.new_mailbox()["smtp"]
    created = ews.ok(
        '<m:CreateItem SendMeetingInvitations="SendToNone"><m:Items>'
        f"{event_xml('Bye')}</m:Items></m:CreateItem>",
        mailbox,
    )
    event_id = xp(created, "//t:ItemId/@Id")[0]
    ids = f'<m:ItemIds><t:ItemId Id="{event_id}"/></m:ItemIds>'
    assert code(
        ews.ok(f'<m:DeleteItem DeleteType="MoveToDeletedItems">{ids}</m:DeleteItem>', mailbox)
    ) == ("ErrorSendMeetingCancellationsRequired")
    ok = ews.ok(
        '<m:DeleteItem DeleteType="MoveToDeletedItems" SendMeetingCancellations="SendToNone">'
        f"{ids}</m:DeleteItem>",
        mailbox,
    )
    assert code(ok) == "NoError"
    get = (
        f"<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape>{ids}</m:GetItem>"
    )
    assert code(ews.ok(get, mailbox)) == "ErrorItemNotFound"
