"""The dual-run counters, read from a real prometheus_client registry: one result per compared
call, both sides' durations, floats compared with a tolerance, and sampling capping the cost."""

from __future__ import annotations

import contextlib
import math

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from ramp.flags import DualRun, FlagFile, values_match
from tests.support.eventually import eventually
from tests.unit.flags.conftest import FlagWriter

FLAG = "orders-v2-path"
RESULTS = ("match", "mismatch", "candidate_error", "control_error")


def counts(registry: CollectorRegistry) -> dict[str, float | None]:
    return {
        r: registry.get_sample_value("ramp_dual_run_total", {"feature_flag_key": FLAG, "result": r})
        for r in RESULTS
    }


def durations(registry: CollectorRegistry, side: str) -> float | None:
    return registry.get_sample_value(
        "ramp_dual_run_duration_seconds_count", {"feature_flag_key": FLAG, "side": side}
    )


def test_every_series_exists_at_zero_before_the_first_call(
    write_flags: FlagWriter, registry: CollectorRegistry
) -> None:
    DualRun(FlagFile(write_flags(FLAG, 5)), FLAG, registry=registry)
    assert counts(registry) == dict.fromkeys(RESULTS, 0.0)
    assert b'ramp_dual_run_total{feature_flag_key="orders-v2-path",result="mismatch"} 0.0' in (
        generate_latest(registry)
    )


def test_each_compared_call_counts_one_result_and_both_durations(
    write_flags: FlagWriter, registry: CollectorRegistry
) -> None:
    run = DualRun(FlagFile(write_flags(FLAG, 100)), FLAG, registry=registry)

    def fail() -> int:
        raise ValueError("no")

    def one() -> int:
        return 1

    def two() -> int:
        return 2

    calls = [(one, one)] * 3 + [(one, two)] * 2 + [(one, fail)] + [(fail, one)] * 4
    for legacy, new in calls:
        with contextlib.suppress(ValueError):  # the served side failed: the caller sees it
            run.run("user-1", legacy, new)
    assert counts(registry) == {
        "match": 3.0,
        "mismatch": 2.0,
        "candidate_error": 1.0,
        "control_error": 4.0,
    }
    assert durations(registry, "candidate") == 10
    # The control is not awaited when the served candidate raised: it finishes on its own.
    eventually(
        lambda: durations(registry, "control") == 10, timeout=10, what="10 control durations"
    )


def test_metrics_of_two_flags_share_one_registry(
    write_flags: FlagWriter, registry: CollectorRegistry
) -> None:
    flags = FlagFile(write_flags(FLAG, 100))
    a = DualRun(flags, FLAG, registry=registry)
    b = DualRun(flags, "other-flag", registry=registry)  # no "Duplicated timeseries" error
    a.run("u", lambda: 1, lambda: 1)
    b.run("u", lambda: 1, lambda: 2)
    assert counts(registry) == {**dict.fromkeys(RESULTS, 0.0), "match": 1.0}
    assert (
        registry.get_sample_value(
            "ramp_dual_run_total", {"feature_flag_key": "other-flag", "result": "mismatch"}
        )
        == 1
    )


@pytest.mark.parametrize(
    ("control", "candidate", "expected"),
    [
        (0.1 + 0.2, 0.3, True),
        (1.0, 1.0 + 1e-6, False),
        ([1.0, {"a": 0.1 + 0.2}], [1.0, {"a": 0.3}], True),
        ((1, 2.0), [1, 2.0], False),  # a tuple is not a list
        (float("nan"), float("nan"), True),
        (1, 1.0, True),
        (True, 1.0, False),
        ("0.3", 0.3, False),
        ({"a": 1}, {"a": 1, "b": 2}, False),
    ],
)
def test_floats_match_within_the_tolerance(
    control: object, candidate: object, expected: bool
) -> None:
    assert values_match(control, candidate) is expected


def test_the_tolerance_and_the_comparator_are_the_apps(
    write_flags: FlagWriter, registry: CollectorRegistry
) -> None:
    flags = FlagFile(write_flags(FLAG, 100))
    loose = DualRun(flags, FLAG, abs_tol=0.01, registry=registry)
    loose.run("u", lambda: 1.0, lambda: 1.005)
    assert counts(registry)["match"] == 1
    by_id = DualRun(flags, "by-id", compare=lambda a, b: a["id"] == b["id"], registry=registry)
    by_id.run("u", lambda: {"id": 1, "at": 1.0}, lambda: {"id": 1, "at": 2.0})
    assert (
        registry.get_sample_value(
            "ramp_dual_run_total", {"feature_flag_key": "by-id", "result": "match"}
        )
        == 1
    )


def test_sampling_at_one_percent_compares_about_one_call_in_a_hundred(
    write_flags: FlagWriter, registry: CollectorRegistry
) -> None:
    calls = 20_000
    legacy_runs: list[int] = []

    def legacy(x: int) -> int:
        legacy_runs.append(x)
        return x

    run = DualRun(FlagFile(write_flags(FLAG, 100)), FLAG, sample_rate=0.01, registry=registry)
    for i in range(calls):
        assert run.run("user-1", legacy, lambda x: x, i) == i
    compared = sum(v or 0 for v in counts(registry).values())
    # Binomial(20000, 0.01): mean 200, sd 14; the bounds are 5.7 sd away.
    assert 120 <= compared <= 280, compared
    # Each non-served call finishes on its own thread (within the bound, unless the machine
    # is very loaded): count what ran once everything has.
    eventually(
        lambda: durations(registry, "control") == compared,
        timeout=30,
        what=f"{compared} control durations",
    )
    assert len(legacy_runs) == compared, "the non-served side runs only on sampled calls"


def test_sampling_at_zero_never_runs_the_non_served_side(
    write_flags: FlagWriter, registry: CollectorRegistry
) -> None:
    def never(x: int) -> int:
        raise AssertionError("ran")

    run = DualRun(FlagFile(write_flags(FLAG, 100)), FLAG, sample_rate=0.0, registry=registry)
    assert [run.run("u", never, lambda x: x, i) for i in range(1000)] == list(range(1000))
    assert sum(v or 0 for v in counts(registry).values()) == 0


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("sample_rate", 1.5, "sample_rate must be between 0 and 1"),
        ("timeout", 0, "timeout must be a positive number"),
        ("max_concurrent", 0, "max_concurrent must be at least 1"),
    ],
)
def test_bad_options_are_refused_by_name(
    option: str, value: float, message: str, write_flags: FlagWriter, registry: CollectorRegistry
) -> None:
    with pytest.raises(ValueError, match=message):
        DualRun(FlagFile(write_flags(FLAG, 5)), FLAG, registry=registry, **{option: value})


def test_nan_results_are_not_a_mismatch(
    write_flags: FlagWriter, registry: CollectorRegistry
) -> None:
    run = DualRun(FlagFile(write_flags(FLAG, 100)), FLAG, registry=registry)
    run.run("u", lambda: math.nan, lambda: math.nan)
    assert counts(registry)["match"] == 1
