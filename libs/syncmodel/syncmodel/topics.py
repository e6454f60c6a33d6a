"""Kafka topic names (ARCHITECTURE.md, "Bus")."""

from __future__ import annotations

CHANGES = "syncline.changes"
COMMANDS_EXCHANGE = "syncline.commands.exchange"
COMMANDS_SALESFORCE = "syncline.commands.salesforce"
ROSTER = "syncline.roster"
CONTROL = "syncline.control"
DLQ = "syncline.dlq"


def commands_topic(side: str) -> str:
    return COMMANDS_EXCHANGE if side == "exchange" else COMMANDS_SALESFORCE
