"""Prometheus metrics of the reconciler (`syncline_reconciler_<thing>_<unit>`)."""

from __future__ import annotations

from prometheus_client import Counter

MESSAGES = Counter(
    "syncline_reconciler_messages_total", "Messages consumed from syncline.changes", ["type"]
)
DECISIONS = Counter(
    "syncline_reconciler_decisions_total", "Decisions of the sync core", ["outcome", "reason"]
)

# `labels()` resolves and locks per call; every message counts twice, so the bound children are
# kept (the label sets are small and fixed: message types, outcome x reason).
_messages: dict[str, Counter] = {}
_decisions: dict[tuple[str, str], Counter] = {}


def count_message(kind: str) -> None:
    child = _messages.get(kind)
    if child is None:
        child = _messages[kind] = MESSAGES.labels(kind)
    child.inc()


def count_decision(outcome: str, reason: str) -> None:
    child = _decisions.get((outcome, reason))
    if child is None:
        child = _decisions[(outcome, reason)] = DECISIONS.labels(outcome, reason)
    child.inc()
