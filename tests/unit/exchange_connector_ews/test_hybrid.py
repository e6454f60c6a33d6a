"""Hybrid routing: each mailbox to the transport that serves it (ews/hybrid.py), pure."""

from __future__ import annotations

import datetime as dt

from exchange_connector.ews.hybrid import CommandRouter, MailboxRoutes, RoutedOwnership
from exchange_connector.ews.settings import ConnectionMethod
from exchange_connector.ownership import Ownership
from syncmodel.kinds import Direction, Kind, Side
from syncmodel.messages import Command, CommandAction, RosterEntry, bus_key
from syncruntime.kafka import Consumed

ROUTES = MailboxRoutes.parse(" OnPrem.Acme.example , legacy.acme.example")
NOW = dt.datetime(2026, 11, 24, tzinfo=dt.UTC)


def _ownership(*mailboxes: str) -> Ownership:
    ownership = Ownership(partitions=1)
    ownership.owned = {0}
    for n, mailbox in enumerate(mailboxes):
        entry = RosterEntry(
            tenant="acme",
            user=f"u{n}",
            email=mailbox,
            mailbox=mailbox,
            active=True,
            contacts=Direction.BOTH,
            events=Direction.BOTH,
            settings_digest="d",
            ts=NOW,
        )
        ownership.roster[bus_key("acme", entry.user)] = entry
    return ownership


def test_domains_pick_the_transport() -> None:
    assert ROUTES.method_of("a@onprem.acme.example") is ConnectionMethod.SERVICE_ACCOUNT_EWS
    assert ROUTES.method_of("b@LEGACY.acme.example") is ConnectionMethod.SERVICE_ACCOUNT_EWS
    assert ROUTES.method_of("c@acme.example") is ConnectionMethod.OAUTH2_GRAPH


def test_each_connector_sees_only_its_mailboxes_of_the_shared_roster() -> None:
    base = _ownership("a@onprem.acme.example", "c@acme.example")
    ews = RoutedOwnership(base, ROUTES, ConnectionMethod.SERVICE_ACCOUNT_EWS)
    graph = RoutedOwnership(base, ROUTES, ConnectionMethod.OAUTH2_GRAPH)
    assert [e.mailbox for e in ews.mailboxes()] == ["a@onprem.acme.example"]
    assert [e.mailbox for e in graph.mailboxes()] == ["c@acme.example"]
    # The views share state: a roster change or a revoked partition shows in both.
    base.owned = set()
    assert ews.mailboxes() == []
    assert graph.changed is base.changed
    assert ews.roster is base.roster


async def test_commands_go_to_their_mailboxs_transport() -> None:
    base = _ownership("a@onprem.acme.example", "c@acme.example")
    seen: dict[str, list[str]] = {"graph": [], "ews": []}

    async def graph(batch: list[Consumed[Command]]) -> None:
        seen["graph"] += [c.message.id for c in batch]

    async def ews(batch: list[Consumed[Command]]) -> None:
        seen["ews"] += [c.message.id for c in batch]

    def consumed(command_id: str, user: str, mailbox: str | None = None) -> Consumed[Command]:
        command = Command(
            id=command_id,
            tenant="acme",
            user=user,
            side=Side.EXCHANGE,
            kind=Kind.CONTACT,
            action=CommandAction.DELETE,
            link_id="l",
            record_id="r",
            mailbox=mailbox,
            issued_ts=NOW,
        )
        return Consumed("t", 0, 0, None, command, 0)

    router = CommandRouter(base, ROUTES, graph, ews)
    await router.handle(
        [consumed("1", "u0"), consumed("2", "u1"), consumed("3", "u1", "x@legacy.acme.example")]
    )
    assert seen == {"graph": ["2"], "ews": ["1", "3"]}
