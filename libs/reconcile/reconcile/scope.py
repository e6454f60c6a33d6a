"""Which records are in a user's sync scope at all (LS-24, LS-32, LS-33, LS-35, LS-37, LS-39).

Each rule returns the `Reason` a record is left out, or None. They look at one record and the
settings only; `decide` applies them before matching and creating, and to later changes of a
linked record (a record that leaves the scope keeps its synced copy, as EAC does for private
events, LS-35).
"""

from __future__ import annotations

from syncmodel import Contact, Event, EventType, Side

from reconcile.decision import Reason
from reconcile.settings import EventSelection, SyncSettings


def _has_category(event: Event, name: str) -> bool:
    wanted = name.strip().casefold()
    return any(category.strip().casefold() == wanted for category in event.categories)


def contact_out_of_scope(
    contact: Contact, side: Side, settings: SyncSettings, user: str
) -> Reason | None:
    # LS-24: "Selected Contacts" + "User's Records" syncs only the contacts the user owns.
    if (
        side is Side.SALESFORCE
        and settings.contact_filter == "my_records"
        and contact.owner_id is not None
        and contact.owner_id != user
    ):
        return Reason.OUTSIDE_CONTACT_FILTER
    return None


def event_out_of_scope(event: Event, side: Side, settings: SyncSettings) -> Reason | None:
    # LS-33 / LS-11b: Classic recurring events never sync; only LEX event series can.
    if side is Side.SALESFORCE and event.classic_recurrence:
        return Reason.CLASSIC_RECURRENCE_UNSUPPORTED
    # LS-37 [I]: the exclusion category always keeps an event out, whatever else is set.
    if side is Side.EXCHANGE and _has_category(event, settings.exclusion_category):
        return Reason.EXCLUDED_CATEGORY
    # LS-35: private events only when the configuration allows them.
    if event.is_private and not settings.sync_private_events:
        return Reason.PRIVATE_NOT_SYNCED
    # LS-32: in selected mode only events the rep selected leave the calendar.
    if (
        side is Side.EXCHANGE
        and settings.event_selection is EventSelection.SELECTED
        and not _has_category(event, settings.selection_category)
    ):
        return Reason.NOT_SELECTED
    # LS-33: series (masters, occurrences, exceptions) only with "sync event series".
    if event.event_type is not EventType.SINGLE and not settings.sync_series:
        return Reason.SERIES_NOT_SYNCED
    # LS-39(a)/(c): a Salesforce copy of someone else's event (invitee copy) does not sync.
    if side is Side.SALESFORCE and not event.is_organizer:
        return Reason.ORGANIZER_NOT_SYNCING
    return None


def out_of_scope(
    record: Contact | Event, side: Side, settings: SyncSettings, user: str
) -> Reason | None:
    if isinstance(record, Contact):
        return contact_out_of_scope(record, side, settings, user)
    return event_out_of_scope(record, side, settings)
