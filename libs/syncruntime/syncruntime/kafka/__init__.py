"""Kafka over aiokafka: an idempotent producer, declared topics, and a consumer loop with DLQ."""

from syncruntime.kafka.consumer import Consumed, ConsumerLoop
from syncruntime.kafka.producer import create_producer, publish, publish_many
from syncruntime.kafka.topics import TOPICS, ensure_topics

__all__ = [
    "TOPICS",
    "Consumed",
    "ConsumerLoop",
    "create_producer",
    "ensure_topics",
    "publish",
    "publish_many",
]
