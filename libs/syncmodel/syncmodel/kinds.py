"""Enumerations shared by every message: which side, which kind of record, which operation."""

from __future__ import annotations

from enum import StrEnum


class Side(StrEnum):
    EXCHANGE = "exchange"
    SALESFORCE = "salesforce"

    @property
    def other(self) -> Side:
        return Side.SALESFORCE if self is Side.EXCHANGE else Side.EXCHANGE


class Kind(StrEnum):
    """What a record is. Contacts and events sync; the rest feed matching and the roster."""

    CONTACT = "contact"
    EVENT = "event"
    USER = "user"
    LEAD = "lead"
    ACCOUNT = "account"


class Op(StrEnum):
    """Debezium's operation codes: create, update, delete, snapshot read."""

    CREATE = "c"
    UPDATE = "u"
    DELETE = "d"
    READ = "r"


class Direction(StrEnum):
    """Sync direction of one object type in a configuration (LS-34)."""

    NONE = "none"
    BOTH = "both"
    SALESFORCE_TO_EXCHANGE = "salesforce_to_exchange"
    EXCHANGE_TO_SALESFORCE = "exchange_to_salesforce"

    def flows_to(self, target: Side) -> bool:
        if self is Direction.BOTH:
            return True
        if self is Direction.SALESFORCE_TO_EXCHANGE:
            return target is Side.EXCHANGE
        if self is Direction.EXCHANGE_TO_SALESFORCE:
            return target is Side.SALESFORCE
        return False
