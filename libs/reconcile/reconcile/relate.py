"""Automatically relate an event to Salesforce contacts or one lead (LS-45..LS-48).

On an event's first sync to Salesforce, attendee e-mails are looked up among the rep's
Salesforce contacts and leads. Contacts win (a lead can't share an event with contacts): every
resolved contact is related, the first as `WhoId`, up to Salesforce's relation limit; the rest
are reported and stay in Exchange untouched (we add no cap of our own, LS-38). With no contact,
exactly one lead is related; several leads are ambiguous and reported, never guessed.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from syncmodel import Event, RelatedRecord

from reconcile.decision import RelateDirectory
from reconcile.fields import SALESFORCE_RELATION_LIMIT


class Relation(BaseModel):
    model_config = ConfigDict(frozen=True)

    related: tuple[RelatedRecord, ...] = ()
    unresolved: tuple[str, ...] = ()
    """Attendee e-mails with no single contact (or, failing contacts, no single lead)."""
    over_limit: tuple[str, ...] = ()
    """Resolved attendees beyond the relation limit."""


def auto_relate(
    event: Event,
    directory: RelateDirectory,
    *,
    rep_email: str | None = None,
    limit: int = SALESFORCE_RELATION_LIMIT,
) -> Relation:
    rep = rep_email.strip().lower() if rep_email else None
    emails: list[str] = []
    for attendee in event.attendees:
        email = attendee.email.strip().lower()
        if email and email != rep and email not in emails:
            emails.append(email)
    contacts: list[tuple[str, str]] = []
    leads: list[tuple[str, str]] = []
    unresolved: list[str] = []
    for email in emails:
        contact_ids = directory.contacts.get(email, ())
        lead_ids = directory.leads.get(email, ())
        if len(contact_ids) == 1:
            contacts.append((email, contact_ids[0]))
        elif len(lead_ids) == 1 and not contact_ids:
            leads.append((email, lead_ids[0]))
        else:
            unresolved.append(email)
    if contacts:
        kept, over = contacts[:limit], contacts[limit:]
        related = tuple(
            RelatedRecord(id=record_id, kind="contact", is_who=index == 0)
            for index, (_, record_id) in enumerate(kept)
        )
        # Leads can't be related alongside contacts (LS-48): they go to Unresolved Items.
        unresolved.extend(email for email, _ in leads)
        return Relation(
            related=related,
            unresolved=tuple(unresolved),
            over_limit=tuple(email for email, _ in over),
        )
    if len({lead_id for _, lead_id in leads}) == 1:
        return Relation(
            related=(RelatedRecord(id=leads[0][1], kind="lead", is_who=True),),
            unresolved=tuple(unresolved),
        )
    unresolved.extend(email for email, _ in leads)
    return Relation(unresolved=tuple(unresolved))
