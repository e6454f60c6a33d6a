"""What every EWS operation handler works with: the store and the impersonated mailbox, folder
and item lookup with the reference's error codes, and per-item response assembly."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from simulators.ews.soap import Element, ItemError, error_message, local, response, t
from simulators.ews.store import EwsStore, Folder, Mailbox, StoredItem


@dataclass
class Context:
    store: EwsStore
    mailbox: Mailbox | None
    """The impersonated mailbox (ExchangeImpersonation), if any."""

    def target(self, folder_ref: Element | None = None) -> Mailbox:
        explicit = (
            folder_ref.findtext(f"{t('Mailbox')}/{t('EmailAddress')}")
            if folder_ref is not None
            else None
        )
        if explicit and (self.mailbox is None or explicit.lower() != self.mailbox.smtp.lower()):
            # Delegate access is not granted to the service account, only impersonation (LS-63).
            raise ItemError(
                "ErrorAccessDenied", "Access is denied. Check credentials and try again."
            )
        if self.mailbox is None:
            raise ItemError(
                "ErrorMissingEmailAddress",
                "When making a request as an account that does not have a mailbox, you must "
                "specify the mailbox primary SMTP address for any distinguished folder Ids.",
            )
        return self.mailbox

    def folder(self, ref: Element) -> tuple[Mailbox, Folder]:
        mailbox = self.target(ref)
        if local(ref.tag) == "DistinguishedFolderId":
            found = mailbox.distinguished(str(ref.get("Id")))
        else:
            found = mailbox.folders.get(str(ref.get("Id")))
        if found is None:
            raise ItemError(
                "ErrorFolderNotFound", "The specified folder could not be found in the store."
            )
        return mailbox, found

    def item(self, ref: Element) -> tuple[Mailbox, StoredItem]:
        mailbox = self.target()
        found = mailbox.items.get(str(ref.get("Id")))
        if found is None or found.deleted:
            raise ItemError("ErrorItemNotFound", "The specified object was not found in the store.")
        return mailbox, found


def children(parent: Element | None) -> list[Element]:
    return [c for c in parent if isinstance(c.tag, str)] if parent is not None else []


def each(operation: str, refs: list[Element], handle: Callable[[Element], Element]) -> bytes:
    messages = []
    for ref in refs:
        try:
            messages.append(handle(ref))
        except ItemError as exc:
            messages.append(error_message(operation, exc))
    return response(operation, messages)
