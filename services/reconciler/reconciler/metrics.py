"""Prometheus metrics of the reconciler (`syncline_reconciler_<thing>_<unit>`)."""

from __future__ import annotations

from prometheus_client import Counter

MESSAGES = Counter(
    "syncline_reconciler_messages_total", "Messages consumed from syncline.changes", ["type"]
)
DECISIONS = Counter(
    "syncline_reconciler_decisions_total", "Decisions of the sync core", ["outcome", "reason"]
)
