"""`ramp run` makes the cyclic garbage collector run far less often than CPython's defaults: with
thousands of Rollouts kept in memory, its passes over that heap were close to a third of the
operator's idle CPU (docs/PERFORMANCE.md)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from ramp.runtime.main import GC_THRESHOLDS, fewer_collections


@pytest.fixture
def thresholds_restored() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)


@pytest.mark.usefixtures("thresholds_restored")
def test_young_objects_are_collected_after_tens_of_thousands_of_allocations() -> None:
    gc.set_threshold(700, 10, 10)
    fewer_collections()
    assert gc.get_threshold() == GC_THRESHOLDS
    assert GC_THRESHOLDS[0] >= 10_000, "a young collection every few hundred allocations again"


@pytest.mark.usefixtures("thresholds_restored")
def test_cyclic_garbage_is_still_collected() -> None:
    fewer_collections()
    gc.collect()

    class Node:
        other: object = None

    for _ in range(GC_THRESHOLDS[0] * 2):  # cycles only the collector can free
        a, b = Node(), Node()
        a.other, b.other = b, a
    counts = gc.get_count()
    assert counts[0] < GC_THRESHOLDS[0], f"no young collection ran: {counts}"
