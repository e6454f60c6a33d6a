"""The reconciler's collector settings: the objects of the batches in flight die by reference
counting before a young-generation collection would traverse them."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest
from reconciler.main import tune_gc


@pytest.fixture
def tuned() -> Iterator[list[int]]:
    """tune_gc() for the test, the process's own settings back afterwards; yields the
    generations of the collections that ran meanwhile."""
    threshold = gc.get_threshold()
    ran: list[int] = []

    def note(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            ran.append(info["generation"])

    tune_gc()
    gc.callbacks.append(note)
    try:
        yield ran
    finally:
        gc.callbacks.remove(note)
        gc.unfreeze()
        gc.set_threshold(*threshold)


def test_two_polls_of_batches_in_flight_cause_no_collection(tuned: list[int]) -> None:
    # ~4,000 changes in flight x ~25 tracked objects each, freed together when batches end
    for _ in range(3):
        in_flight = [{"change": n, "fields": [n]} for n in range(50_000)]
        del in_flight
    assert tuned == []


def test_cyclic_garbage_is_still_collected(tuned: list[int]) -> None:
    for _ in range(300_000):
        cycle: list[Any] = []
        cycle.append(cycle)
    assert 0 in tuned
