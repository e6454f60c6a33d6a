"""Declared topics (ARCHITECTURE.md "Bus") and their idempotent creation: `syncline topics`."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from syncmodel import topics

from syncruntime.settings import KafkaSettings


@dataclass(frozen=True)
class TopicSpec:
    name: str
    keyed: bool = True
    configs: dict[str, str] = field(default_factory=dict)


_WEEK_MS = str(7 * 24 * 3600 * 1000)

TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(topics.CHANGES, configs={"retention.ms": _WEEK_MS}),
    TopicSpec(topics.COMMANDS_EXCHANGE, configs={"retention.ms": _WEEK_MS}),
    TopicSpec(topics.COMMANDS_SALESFORCE, configs={"retention.ms": _WEEK_MS}),
    # Latest "who syncs what" per user: compacted, so a new replica reads the whole roster.
    TopicSpec(topics.ROSTER, configs={"cleanup.policy": "compact"}),
    TopicSpec(topics.CONTROL, configs={"retention.ms": _WEEK_MS}),
    TopicSpec(topics.DLQ, keyed=False, configs={"retention.ms": str(30 * 24 * 3600 * 1000)}),
)


async def ensure_topics(
    settings: KafkaSettings, specs: Sequence[TopicSpec] = TOPICS, partitions: int | None = None
) -> list[str]:
    """Create missing topics; existing ones are left as they are. Returns the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(
                name=spec.name,
                num_partitions=(partitions or settings.topic_partitions) if spec.keyed else 3,
                replication_factor=settings.replication_factor,
                topic_configs=spec.configs,
            )
            for spec in specs
            if spec.name not in existing
        ]
        if not wanted:
            return []
        # Another replica may win the race; the topic then exists, which is all we need.
        with contextlib.suppress(TopicAlreadyExistsError):
            await admin.create_topics(wanted)
        return [t.name for t in wanted]
    finally:
        await admin.close()


def main(argv: Sequence[str] = ()) -> int:
    created = asyncio.run(ensure_topics(KafkaSettings()))
    print(f"topics created: {', '.join(created) or 'none (all exist)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
