"""The fallback helper: the new path serves when the flag is on, the legacy one when the new
one raises, and `ramp_flag_fallbacks_total{feature_flag_key}` counts each time it did."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from ramp.flags import Fallback, FlagFile, with_fallback
from tests.unit.flags.conftest import FlagWriter

FLAG = "orders-v2-path"


def fallbacks(registry: CollectorRegistry) -> float | None:
    return registry.get_sample_value("ramp_flag_fallbacks_total", {"feature_flag_key": FLAG})


def test_the_legacy_side_serves_when_the_new_one_raises_and_it_is_counted(
    write_flags: FlagWriter, registry: CollectorRegistry
) -> None:
    def new(x: int) -> int:
        if x % 2:
            raise ConnectionError("the new store is down")
        return x * 10

    fallback = Fallback(FlagFile(write_flags(FLAG, 100)), FLAG, registry=registry)
    assert fallbacks(registry) == 0, "the series exists before the first fallback"
    assert [fallback.run("u", lambda x: x, new, i) for i in range(4)] == [0, 1, 20, 3]
    assert fallbacks(registry) == 2


def test_with_the_flag_off_the_new_side_never_runs(
    write_flags: FlagWriter, registry: CollectorRegistry
) -> None:
    def new(x: int) -> int:
        raise AssertionError("ran")

    fallback = Fallback(FlagFile(write_flags(FLAG, 0)), FLAG, registry=registry)
    assert fallback.run("u", lambda x: x, new, 3) == 3
    assert fallbacks(registry) == 0


def test_an_exception_not_listed_propagates(
    write_flags: FlagWriter, registry: CollectorRegistry
) -> None:
    def new() -> int:
        raise KeyError("bug")

    fallback = Fallback(
        FlagFile(write_flags(FLAG, 100)), FLAG, exceptions=(ConnectionError,), registry=registry
    )
    with pytest.raises(KeyError):
        fallback.run("u", lambda: 1, new)
    assert fallbacks(registry) == 0


def test_the_legacy_sides_own_exception_propagates(
    write_flags: FlagWriter, registry: CollectorRegistry
) -> None:
    def broken() -> int:
        raise ConnectionError("both down")

    fallback = Fallback(FlagFile(write_flags(FLAG, 100)), FLAG, registry=registry)
    with pytest.raises(ConnectionError, match="both down"):
        fallback.run("u", broken, broken)
    assert fallbacks(registry) == 1


def test_the_decorator_falls_back_by_the_key_from_the_arguments(
    write_flags: FlagWriter, registry: CollectorRegistry
) -> None:
    def load_v1(user: str) -> str:
        return f"v1 {user}"

    @with_fallback(
        FlagFile(write_flags(FLAG, 100)),
        FLAG,
        legacy=load_v1,
        targeting_key=lambda user: user,
        registry=registry,
    )
    def load(user: str) -> str:
        raise TimeoutError("slow")

    assert load("ada") == "v1 ada"
    assert fallbacks(registry) == 1
