"""Who syncs what: Salesforce users + configurations -> roster entries (ARCHITECTURE.md, roster).

A user syncs when active, with an effective configuration (LS-53), and with an e-mail address no
other active user of the org shares: two active users with one address can't be linked to a
mailbox, so neither syncs and both get the reason (ST-31).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from enum import StrEnum

from pydantic import BaseModel, ConfigDict
from syncmodel import Direction, RosterEntry, SalesforceUser

from reconcile.settings import (
    Assignment,
    Configuration,
    ConfigurationReason,
    effective_configuration,
)


class RosterReason(StrEnum):
    SYNCING = "syncing"
    USER_INACTIVE = "user_inactive"
    DUPLICATE_EMAIL = "duplicate_email"
    NO_CONFIGURATION = "no_configuration"


class RosterDecision(BaseModel):
    model_config = ConfigDict(frozen=True)

    entry: RosterEntry
    reason: RosterReason
    configuration_id: str | None = None
    configuration_reason: ConfigurationReason | None = None


def _email_key(email: str) -> str:
    return email.strip().lower()


def build_roster(
    tenant: str,
    users: Sequence[tuple[str, SalesforceUser]],
    configurations: Sequence[Configuration],
    assignments: Sequence[Assignment],
    now: dt.datetime,
) -> list[RosterDecision]:
    """One roster decision per `(user_id, user)`, in input order."""
    shared = Counter(_email_key(user.email) for _, user in users if user.is_active)
    by_id = {configuration.id: configuration for configuration in configurations}
    decisions: list[RosterDecision] = []
    for user_id, user in users:
        configuration, why = effective_configuration(
            user_id, user.profile_id, by_id, list(assignments)
        )
        if not user.is_active:
            reason = RosterReason.USER_INACTIVE
        elif shared[_email_key(user.email)] > 1:
            reason = RosterReason.DUPLICATE_EMAIL
        elif configuration is None:
            reason = RosterReason.NO_CONFIGURATION
        else:
            reason = RosterReason.SYNCING
        syncing = reason is RosterReason.SYNCING and configuration is not None
        settings = configuration.settings if configuration is not None else None
        entry = RosterEntry(
            tenant=tenant,
            user=user_id,
            email=user.email,
            mailbox=_email_key(user.email) if syncing else None,
            active=syncing,
            contacts=settings.contacts if settings and syncing else Direction.NONE,
            events=settings.events if settings and syncing else Direction.NONE,
            contact_filter=settings.contact_filter if settings else "my_records",
            time_zone=user.time_zone,
            settings_digest=settings.digest() if settings and syncing else "-",
            ts=now,
        )
        decisions.append(
            RosterDecision(
                entry=entry,
                reason=reason,
                configuration_id=configuration.id if configuration else None,
                configuration_reason=why,
            )
        )
    return decisions
