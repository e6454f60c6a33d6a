"""Prometheus metrics of the reconciler (`syncline_reconciler_<thing>_<unit>`)."""

from __future__ import annotations

from collections import Counter as Tallies
from dataclasses import dataclass, field

from prometheus_client import Counter

MESSAGES = Counter(
    "syncline_reconciler_messages_total", "Messages consumed from syncline.changes", ["type"]
)
DECISIONS = Counter(
    "syncline_reconciler_decisions_total", "Decisions of the sync core", ["outcome", "reason"]
)

# `labels()` resolves and locks per call: the bound children are kept (the label sets are small
# and fixed: message types, outcome x reason).
_children: dict[tuple[Counter, tuple[str, ...]], Counter] = {}


@dataclass
class Tally:
    """A batch's counts, published once its transaction has committed: a batch that rolls back
    and is retried counts once, and each label pays one locked increment per batch instead of
    one per message."""

    messages: Tallies[str] = field(default_factory=Tallies)
    decisions: Tallies[tuple[str, str]] = field(default_factory=Tallies)

    def message(self, kind: str) -> None:
        self.messages[kind] += 1

    def decision(self, outcome: str, reason: str) -> None:
        self.decisions[(outcome, reason)] += 1

    def publish(self) -> None:
        for kind, count in self.messages.items():
            _bound(MESSAGES, kind).inc(count)
        for (outcome, reason), count in self.decisions.items():
            _bound(DECISIONS, outcome, reason).inc(count)


def _bound(metric: Counter, *labels: str) -> Counter:
    child = _children.get((metric, labels))
    if child is None:
        child = _children[(metric, labels)] = metric.labels(*labels)
    return child
