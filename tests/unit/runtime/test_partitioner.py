"""The producers' partitioner: the Java client's partition for every key, remembered."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner
from syncmodel import bus_key
from syncruntime.kafka.producer import KeyPartitioner


def test_a_key_goes_where_the_default_partitioner_sends_it_for_any_partition_count() -> None:
    default, ours = DefaultPartitioner(), KeyPartitioner(max_keys=50)
    keys = [bus_key(f"t{t}", f"005B{u:011d}AAA").encode() for t in range(3) for u in range(40)]
    for count in (1, 3, 12, 48):
        partitions = list(range(count))
        for _ in range(2):  # the second pass answers from the memo (cleared when it overflows)
            for key in keys:
                assert ours(key, partitions, partitions) == default(key, partitions, partitions)
    assert len(ours._hashes) <= 50


def test_a_message_without_key_goes_to_an_available_partition() -> None:
    ours = KeyPartitioner()
    assert {ours(None, [0, 1, 2, 3], [2]) for _ in range(20)} == {2}
    assert {ours(None, [0, 1], []) for _ in range(50)} <= {0, 1}
