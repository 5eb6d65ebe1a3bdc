"""What the non-served side does never reaches the caller: not its exception, not its time
beyond the bound, not a comparator's or a publisher's failure."""

from __future__ import annotations

import threading
import time

import pytest
from prometheus_client import CollectorRegistry

from ramp.flags import Comparison, DualRun, FlagFile
from tests.support.eventually import eventually
from tests.unit.flags.conftest import FlagWriter

FLAG = "orders-v2-path"


def count(registry: CollectorRegistry, result: str) -> float:
    value = registry.get_sample_value(
        "ramp_dual_run_total", {"feature_flag_key": FLAG, "result": result}
    )
    assert value is not None, f"no ramp_dual_run_total series for {result}"
    return value


@pytest.mark.parametrize(("percentage", "result"), [(100, "control_error"), (0, "candidate_error")])
def test_the_non_served_sides_exception_never_reaches_the_caller(
    percentage: float, result: str, write_flags: FlagWriter, registry: CollectorRegistry
) -> None:
    def broken(x: int) -> int:
        raise RuntimeError("the non-served side failed")

    def ok(x: int) -> int:
        return x

    served_is_new = percentage == 100
    legacy, new = (broken, ok) if served_is_new else (ok, broken)
    run = DualRun(FlagFile(write_flags(FLAG, percentage)), FLAG, registry=registry)
    assert run.run("user-1", legacy, new, 4) == 4
    assert count(registry, result) == 1
    assert count(registry, "match") == count(registry, "mismatch") == 0


@pytest.mark.parametrize("percentage", [100, 0])
def test_a_slow_non_served_side_does_not_delay_the_caller_beyond_the_bound(
    percentage: float, write_flags: FlagWriter, registry: CollectorRegistry
) -> None:
    release = threading.Event()
    finished = threading.Event()

    def stuck(x: int) -> int:
        release.wait(30)  # far beyond the bound: only the test lets it go
        finished.set()
        return x

    def fast(x: int) -> int:
        return x

    legacy, new = (stuck, fast) if percentage == 100 else (fast, stuck)
    run = DualRun(FlagFile(write_flags(FLAG, percentage)), FLAG, timeout=0.2, registry=registry)
    try:
        start = time.monotonic()
        assert run.run("user-1", legacy, new, 5) == 5
        waited = time.monotonic() - start
        assert waited < 0.2 + 0.5, f"the caller waited {waited:.2f}s for a 0.2s bound"
        assert not finished.is_set(), "the slow side was cut short, not awaited"
        late = "control_error" if percentage == 100 else "candidate_error"
        assert count(registry, late) == 1
    finally:
        release.set()


def test_a_non_served_side_within_the_bound_is_awaited_and_compared(
    write_flags: FlagWriter, registry: CollectorRegistry
) -> None:
    def slow_legacy(x: int) -> int:
        time.sleep(0.05)  # the work being compared, not synchronisation
        return x

    run = DualRun(FlagFile(write_flags(FLAG, 100)), FLAG, timeout=5, registry=registry)
    assert run.run("user-1", slow_legacy, lambda x: x, 1) == 1
    assert count(registry, "match") == 1


def test_with_every_slot_taken_calls_are_served_without_comparison(
    write_flags: FlagWriter, registry: CollectorRegistry
) -> None:
    release = threading.Event()
    legacy_calls: list[int] = []

    def hanging_legacy(x: int) -> int:
        legacy_calls.append(x)
        release.wait(30)
        return x

    run = DualRun(
        FlagFile(write_flags(FLAG, 100)), FLAG, timeout=0.05, max_concurrent=2, registry=registry
    )
    try:
        results = [run.run("user-1", hanging_legacy, lambda x: -x, i) for i in range(5)]
        assert results == [0, -1, -2, -3, -4]
        eventually(lambda: legacy_calls == [0, 1], timeout=10, what="the two slots' calls")
        assert (
            registry.get_sample_value("ramp_dual_run_skipped_total", {"feature_flag_key": FLAG})
            == 3
        )
    finally:
        release.set()


def test_a_comparator_that_raises_counts_a_mismatch(
    write_flags: FlagWriter, registry: CollectorRegistry
) -> None:
    def compare(control: object, candidate: object) -> bool:
        raise TypeError("cannot compare")

    run = DualRun(FlagFile(write_flags(FLAG, 100)), FLAG, compare=compare, registry=registry)
    assert run.run("user-1", lambda: 1, lambda: 2) == 2
    assert count(registry, "mismatch") == 1


def test_publish_sees_each_comparison_and_its_failure_is_not_raised(
    write_flags: FlagWriter, registry: CollectorRegistry
) -> None:
    seen: list[Comparison] = []

    def publish(comparison: Comparison) -> None:
        seen.append(comparison)
        raise RuntimeError("the log is full")

    run = DualRun(FlagFile(write_flags(FLAG, 0)), FLAG, publish=publish, registry=registry)
    assert run.run("user-9", lambda: "old", lambda: "new") == "old"
    (comparison,) = seen
    assert (comparison.served, comparison.result) == ("control", "mismatch")
    assert (comparison.control, comparison.candidate) == ("old", "new")
    assert comparison.targeting_key == "user-9" and comparison.flag_key == FLAG
    assert comparison.control_seconds is not None and comparison.candidate_seconds is not None
